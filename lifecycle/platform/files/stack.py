"""stack.toml (below platform API 0.12): ``[run-image] image, mirrors``.

The flat form the mirrors proposal first used (top-level ``image``, ``mirrors``) means the
same and is read too.
"""

from __future__ import annotations

from pathlib import Path

from lifecycle.platform.files._toml import Fields, read_toml
from lifecycle.platform.files.labels import RunImageMetadata


def read_stack(path: Path) -> RunImageMetadata | None:
    """The run image and mirrors of a stack file; None if the file does not exist."""
    document = read_toml(path, "stack file")
    if document is None:
        return None
    fields = Fields(document, path, "stack file")
    fields = fields.sub("run-image") or fields
    return RunImageMetadata(fields.string("image"), fields.strings("mirrors"))
