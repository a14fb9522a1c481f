"""run.toml (platform API 0.12 on): ``[[images]] image, mirrors``, the run images a builder
offers, each with the mirrors that hold the same image on other registries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifecycle.platform.exits import invalid_args
from lifecycle.platform.files._toml import Fields, read_toml


@dataclass(frozen=True)
class RunImageMetadata:
    """A canonical run image and its mirrors (the same image on other registries)."""

    image: str = ""
    mirrors: tuple[str, ...] = ()

    @property
    def candidates(self) -> tuple[str, ...]:
        return ((self.image,) if self.image else ()) + self.mirrors

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        if self.image:
            document["image"] = self.image
        if self.mirrors:
            document["mirrors"] = list(self.mirrors)
        return document


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
