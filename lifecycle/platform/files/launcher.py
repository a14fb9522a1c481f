"""launcher.toml: which launcher a file is, for the build label's ``launcher``.

A lifecycle archive that ships another launcher than ours (the Go launcher of a Go lifecycle
release) puts ``launcher.toml`` beside it: ``[launcher] version`` and ``[launcher.source.git]
repository, commit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lifecycle.platform.files._toml import Fields, read_toml
from lifecycle.record import record


@record
class LauncherInfo:
    """The launcher in the image, as the build label describes it."""

    version: str = ""
    repository: str = ""
    commit: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version,
                "source": {"git": {"repository": self.repository, "commit": self.commit}}}


def read_launcher_info(path: Path) -> LauncherInfo | None:
    """The launcher.toml at ``path``; None if there is none."""
    document = read_toml(path, "launcher description")
    if document is None:
        return None
    fields = Fields(document, path, "launcher description").sub("launcher")
    if fields is None:
        return LauncherInfo()
    source = fields.sub("source")
    git = source.sub("git") if source else None
    return LauncherInfo(fields.string("version"), git.string("repository") if git else "",
                        git.string("commit") if git else "")
