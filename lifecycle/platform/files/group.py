"""group.toml: the buildpacks of the build, in order (``[[group]]``, or 2019's
``[[buildpacks]]``)."""

from __future__ import annotations

from pathlib import Path

from lifecycle.platform.exits import invalid_args
from lifecycle.platform.files._toml import Fields, read_toml
from lifecycle.record import record


@record
class GroupEntry:
    """One buildpack of group.toml's ``[[group]]``."""

    id: str
    version: str
    api: str = ""
    homepage: str = ""

    @property
    def escaped_id(self) -> str:
        return self.id.replace("/", "_")


def read_group(path: Path) -> tuple[GroupEntry, ...]:
    """``[[group]]`` (modern) or ``[[buildpacks]]`` (2019) entries, in order."""
    document = read_toml(path, "group file")
    if document is None:
        raise invalid_args(f"read group file '{path}'", "file does not exist")
    fields = Fields(document, path, "group file")
    key = "group" if "group" in document or "buildpacks" not in document else "buildpacks"
    entries = []
    for entry in fields.tables(key):
        buildpack_id = entry.string("id")
        if not buildpack_id:
            raise entry.fail("id", "a non-empty string")
        entries.append(GroupEntry(buildpack_id, entry.string("version"), entry.string("api"),
                                  entry.string("homepage")))
    return tuple(entries)
