"""The image list of ``rebase-many``: one image name a line."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from lifecycle.platform.exits import invalid_args


def read_image_list(source: str, stdin: TextIO) -> list[str]:
    """The image names of a ``rebase-many`` list: one per line, ``#`` comments and blank
    lines ignored; ``-`` reads standard input. Raises LifecycleError (exit 3)."""
    what = "standard input" if source == "-" else f"'{source}'"
    try:
        text = stdin.read() if source == "-" else Path(source).read_text()
    except (OSError, UnicodeDecodeError) as err:
        cause = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise invalid_args(f"read image list {what}", cause) from None
    names = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    names = [name for name in names if name]
    if not names:
        raise invalid_args(f"read image list {what}", "no image names in it")
    return names
