"""run.toml (platform API 0.12 on): ``[[images]] image, mirrors``, the run images a builder
offers, each with the mirrors that hold the same image on other registries (each one a
:class:`~lifecycle.platform.files.labels.RunImageMetadata`, as the label records it)."""

from __future__ import annotations

from pathlib import Path

from lifecycle.platform.exits import invalid_args
from lifecycle.platform.files._toml import Fields, read_toml
from lifecycle.platform.files.labels import RunImageMetadata


def read_run(path: Path) -> tuple[RunImageMetadata, ...] | None:
    """The ``[[images]]`` of run.toml, in order; None if the file does not exist.

    A file without ``[[images]]`` (say, a stack.toml passed as run.toml) is an error naming
    the table it should have, not an empty list.
    """
    document = read_toml(path, "run file")
    if document is None:
        return None
    if "images" not in document:
        found = ", ".join(f"'{key}'" for key in document) or "nothing"
        raise invalid_args(f"read run file '{path}'",
                           f"it has no '[[images]]' table (found {found})")
    images = []
    for entry in Fields(document, path, "run file").tables("images"):
        image = entry.string("image")
        if not image:
            raise entry.fail("image", "a non-empty string")
        images.append(RunImageMetadata(image, entry.strings("mirrors")))
    return tuple(images)
