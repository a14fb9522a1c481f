"""report.toml (exporter and rebaser) and the ``rebase-many`` summary, written atomically:
a reader sees the old file or the whole new one, never a truncated one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import tomli_w

from lifecycle.checking import TYPE_CHECKING
from lifecycle.jsonio import write_atomically

if TYPE_CHECKING:
    from typing import Any


def write_report(path: Path, image: Mapping[str, Any],
                 run_image: Mapping[str, Any] | None = None,
                 build_bom: Sequence[Mapping[str, Any]] | None = None) -> None:
    """``[build] bom`` (when given and not empty), ``[image]``, then our ``[run-image]``."""
    document: dict[str, Any] = {}
    if build_bom:
        document["build"] = {"bom": [dict(entry) for entry in build_bom]}
    document["image"] = dict(image)
    if run_image:
        document["run-image"] = dict(run_image)
    write_atomically(path, tomli_w.dumps(document).encode())


def write_rebase_summary(path: Path, images: Sequence[Mapping[str, Any]]) -> None:
    """``rebase-many -report``: ``[[images]]``, one table per image of the list, in order."""
    write_atomically(path, tomli_w.dumps({"images": [dict(image) for image in images]}).encode())
