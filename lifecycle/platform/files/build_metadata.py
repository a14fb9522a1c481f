"""``<layers>/config/metadata.toml``: the processes, slices, labels and BOM the build left.

Processes are written into the build label in the shape of the platform API in use:
``command`` is an array from 0.10 on; before, it is one string and any further command
entries are moved to the front of ``args``, as older platforms decode it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lifecycle.platform.api import Features
from lifecycle.platform.files._toml import Fields, read_toml
from lifecycle.record import record


@record
class Process:
    """One ``[[processes]]`` entry of metadata.toml."""

    type: str
    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    direct: bool = False
    default: bool = False
    buildpack_id: str = ""
    working_dir: str = ""
    exec_env: tuple[str, ...] = ()

    def to_json(self, features: Features) -> dict[str, Any]:
        command: str | list[str] = list(self.command)
        args = list(self.args)
        if not features.command_array:
            command, args = (self.command[0] if self.command else ""), [*self.command[1:], *args]
        document: dict[str, Any] = {"type": self.type, "command": command, "args": args,
                                    "direct": self.direct}
        if self.default:
            document["default"] = True
        document["buildpackID"] = self.buildpack_id
        if self.working_dir:
            document["working-dir"] = self.working_dir
        if self.exec_env and features.exec_env:
            document["exec-env"] = list(self.exec_env)
        return document


@record
class BuildMetadata:
    """What metadata.toml says: processes, slices, labels, the default process, BOM, buildpacks."""

    processes: tuple[Process, ...] = ()
    slices: tuple[tuple[str, ...], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    default_process_type: str = ""
    bom: Any = None
    buildpacks: tuple[dict[str, Any], ...] = ()


def read_build_metadata(path: Path) -> BuildMetadata:
    """Processes, slices and labels the build left; a missing file means none."""
    document = read_toml(path, "build metadata")
    if document is None:
        return BuildMetadata()
    fields = Fields(document, path, "build metadata")
    processes = tuple(
        Process(type=p.string("type"), command=p.strings("command"), args=p.strings("args"),
                direct=p.boolean("direct"), default=p.boolean("default"),
                buildpack_id=p.string("buildpack-id"), working_dir=p.string("working-dir"),
                exec_env=p.strings("exec-env"))
        for p in fields.tables("processes"))
    return BuildMetadata(
        processes=processes,
        slices=tuple(s.strings("paths") for s in fields.tables("slices")),
        labels=tuple((label.string("key"), label.string("value"))
                     for label in fields.tables("labels")),
        default_process_type=fields.string("buildpack-default-process-type"),
        bom=document.get("bom"),
    )
