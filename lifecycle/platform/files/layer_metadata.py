"""``<layers>/<buildpack>/<layer>.toml`` and ``store.toml``: what a buildpack says of each
layer it left (launch, build, cache, metadata) and the data it keeps between builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lifecycle.platform.exits import LifecycleError, invalid_args
from lifecycle.platform.files._toml import Fields, read_toml
from lifecycle.record import record

NON_LAYER_TOMLS = frozenset({"launch.toml", "build.toml", "store.toml"})


@record
class LayerMetadata:
    """A buildpack's ``<layer>.toml``: the layer's flags and metadata, and whether the layer
    has contents."""

    name: str
    launch: bool
    build: bool
    cache: bool
    data: Any
    has_contents: bool

    def to_json(self, sha: str) -> dict[str, Any]:
        return {"sha": sha, "data": self.data, "build": self.build,
                "launch": self.launch, "cache": self.cache}


def read_buildpack_layers(buildpack_dir: Path, buildpack_id: str) -> tuple[LayerMetadata, ...]:
    """Every ``<name>.toml`` of one buildpack, sorted by name.

    The launch/build/cache flags may be top-level (2019/v0.7) or in ``[types]`` (modern).
    All malformed tomls are reported together, as the lifecycle does.
    """
    if not buildpack_dir.is_dir():
        return ()
    layers, malformed, first_cause = [], [], ""
    for toml_path in sorted(buildpack_dir.glob("*.toml")):
        if toml_path.name in NON_LAYER_TOMLS:
            continue
        name = toml_path.name[: -len(".toml")]
        try:
            document = read_toml(toml_path, "layer metadata") or {}
            fields = Fields(document, toml_path, "layer metadata")
            types = fields.table_of("types")
            flags = Fields(types, toml_path, "layer metadata", "types.") if types else fields
            layers.append(LayerMetadata(
                name=name, launch=flags.boolean("launch"), build=flags.boolean("build"),
                cache=flags.boolean("cache"), data=fields.table_of("metadata"),
                has_contents=(buildpack_dir / name).is_dir()))
        except LifecycleError as err:
            malformed.append(f"{buildpack_id}:{name}")
            first_cause = first_cause or err.message.removeprefix("failed to ")
    if malformed:
        # The lifecycle's words, then the first file's own problem, so the line names it.
        raise invalid_args("parse metadata for layers",
                           f"'[{' '.join(malformed)}]' ({first_cause})")
    return tuple(layers)


def read_store(buildpack_dir: Path) -> dict[str, Any] | None:
    document = read_toml(buildpack_dir / "store.toml", "store metadata")
    if document is None:
        return None
    return {"metadata": Fields(document, buildpack_dir / "store.toml",
                                "store metadata").table_of("metadata") or {}}


def read_build_bom(buildpack_dir: Path, buildpack_id: str,
                   version: str) -> tuple[dict[str, Any], ...]:
    """``build.toml [[bom]]`` of one buildpack, each entry tagged with the buildpack, for
    report.toml's ``[build] bom`` (platform API 0.5 to 0.8)."""
    path = buildpack_dir / "build.toml"
    document = read_toml(path, "build metadata of a buildpack")
    if document is None:
        return ()
    entries = []
    for bom in Fields(document, path, "build metadata of a buildpack").tables("bom"):
        entry: dict[str, Any] = {"name": bom.string("name")}
        if bom.string("version"):
            entry["version"] = bom.string("version")
        entry["metadata"] = bom.table_of("metadata") or {}
        entry["buildpack"] = {"id": buildpack_id, "version": version}
        entries.append(entry)
    return tuple(entries)
