"""project-metadata.toml: the source of the app (``[source] type, version, metadata``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lifecycle.platform.files._toml import Fields, read_toml


def read_project_metadata(path: Path) -> dict[str, Any]:
    """The ``io.buildpacks.project.metadata`` label value (``{}`` when there is none)."""
    document = read_toml(path, "project metadata")
    if not document:
        return {}
    source = Fields(document, path, "project metadata").table_of("source")
    if source is None:
        return {}
    fields = Fields(source, path, "project metadata", "source.")
    label: dict[str, Any] = {}
    for key in ("type", "version", "metadata"):
        value = fields.string(key) if key == "type" else fields.table_of(key)
        if value:
            label[key] = value
    return {"source": label}
