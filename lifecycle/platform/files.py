"""The platform's file formats: stack.toml, group.toml, metadata.toml, layer tomls,
project-metadata.toml, report.toml, and the image labels the phases read and write.

Readers validate types and raise :class:`LifecycleError` naming the file (exit 3), so a
malformed input is never silently treated as absent. ``report.toml`` is written atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import tomli_w

from lifecycle.platform.exits import ExitCode, LifecycleError, invalid_args

LIFECYCLE_LABEL = "io.buildpacks.lifecycle.metadata"
BUILD_LABEL = "io.buildpacks.build.metadata"
PROJECT_LABEL = "io.buildpacks.project.metadata"
STACK_ID_LABEL = "io.buildpacks.stack.id"
REBASABLE_LABEL = "io.buildpacks.rebasable"
NON_LAYER_TOMLS = frozenset({"launch.toml", "build.toml", "store.toml"})


def loads_json(data: str | bytes) -> Any:
    """``json.loads`` for untrusted text: absurdly deep nesting is the ``ValueError`` it is,
    not a ``RecursionError``."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_toml(path: Path, what: str) -> dict[str, Any] | None:
    """Parse a TOML file; ``None`` if it does not exist, exit 3 if it is malformed."""
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise invalid_args(f"read {what} '{path}'", "is a directory") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise invalid_args(f"read {what} '{path}'", err) from None
    except OSError as err:
        raise invalid_args(f"read {what} '{path}'", err.strerror) from None


class _Fields:
    """Typed access to one TOML table, with errors that name the file and key."""

    def __init__(self, table: Mapping[str, Any], path: Path, what: str, prefix: str = "") -> None:
        self.table, self.path, self.what, self.prefix = table, path, what, prefix

    def _fail(self, key: str, expected: str) -> LifecycleError:
        return invalid_args(f"read {self.what} '{self.path}'",
                            f"'{self.prefix}{key}' must be {expected}")

    def string(self, key: str, default: str = "") -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def boolean(self, key: str) -> bool:
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            raise self._fail(key, "a boolean")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "an array of strings")
        return tuple(value)

    def table_of(self, key: str) -> dict[str, Any] | None:
        value = self.table.get(key)
        if value is not None and not isinstance(value, dict):
            raise self._fail(key, "a table")
        return value

    def tables(self, key: str) -> list[_Fields]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self._fail(key, "an array of tables")
        return [_Fields(v, self.path, self.what, f"{self.prefix}{key}[{i}].")
                for i, v in enumerate(value)]


# -- stack.toml ------------------------------------------------------------------------------

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


def read_stack(path: Path) -> RunImageMetadata | None:
    """stack.toml (``[run-image] image, mirrors``) or the seed's flat mirrors.toml form."""
    document = read_toml(path, "stack file")
    if document is None:
        return None
    fields = _Fields(document, path, "stack file")
    run_image = fields.table_of("run-image")
    if run_image is not None:
        fields = _Fields(run_image, path, "stack file", "run-image.")
    return RunImageMetadata(fields.string("image"), fields.strings("mirrors"))


# -- group.toml ------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupEntry:
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
    fields = _Fields(document, path, "group file")
    key = "group" if "group" in document or "buildpacks" not in document else "buildpacks"
    entries = []
    for entry in fields.tables(key):
        buildpack_id = entry.string("id")
        if not buildpack_id:
            raise entry._fail("id", "a non-empty string")
        entries.append(GroupEntry(buildpack_id, entry.string("version"), entry.string("api"),
                                  entry.string("homepage")))
    return tuple(entries)


# -- <layers>/config/metadata.toml -----------------------------------------------------------

@dataclass(frozen=True)
class Process:
    type: str
    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    direct: bool = False
    default: bool = False
    buildpack_id: str = ""
    working_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"type": self.type, "command": list(self.command),
                                    "args": list(self.args), "direct": self.direct}
        if self.default:
            document["default"] = True
        document["buildpackID"] = self.buildpack_id
        if self.working_dir:
            document["working-dir"] = self.working_dir
        return document


@dataclass(frozen=True)
class BuildMetadata:
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
    fields = _Fields(document, path, "build metadata")
    processes = tuple(
        Process(type=p.string("type"), command=p.strings("command"), args=p.strings("args"),
                direct=p.boolean("direct"), default=p.boolean("default"),
                buildpack_id=p.string("buildpack-id"), working_dir=p.string("working-dir"))
        for p in fields.tables("processes"))
    return BuildMetadata(
        processes=processes,
        slices=tuple(s.strings("paths") for s in fields.tables("slices")),
        labels=tuple((label.string("key"), label.string("value"))
                     for label in fields.tables("labels")),
        default_process_type=fields.string("buildpack-default-process-type"),
        bom=document.get("bom"),
    )


# -- <layers>/<buildpack>/<layer>.toml -------------------------------------------------------

@dataclass(frozen=True)
class LayerMetadata:
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
            fields = _Fields(document, toml_path, "layer metadata")
            types = fields.table_of("types")
            flags = _Fields(types, toml_path, "layer metadata", "types.") if types else fields
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
    return {"metadata": _Fields(document, buildpack_dir / "store.toml",
                                "store metadata").table_of("metadata") or {}}


# -- project-metadata.toml -------------------------------------------------------------------

def read_project_metadata(path: Path) -> dict[str, Any]:
    """The ``io.buildpacks.project.metadata`` label value (``{}`` when there is none)."""
    document = read_toml(path, "project metadata")
    if not document:
        return {}
    source = _Fields(document, path, "project metadata").table_of("source")
    if source is None:
        return {}
    fields = _Fields(source, path, "project metadata", "source.")
    label: dict[str, Any] = {}
    for key in ("type", "version", "metadata"):
        value = fields.string(key) if key == "type" else fields.table_of(key)
        if value:
            label[key] = value
    return {"source": label}


# -- the lifecycle label ---------------------------------------------------------------------

@dataclass(frozen=True)
class LifecycleLabel:
    """``io.buildpacks.lifecycle.metadata``, keeping unknown keys and old ``app`` shapes."""

    document: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, image: str) -> LifecycleLabel:
        try:
            document = loads_json(text)
        except ValueError as err:
            raise LifecycleError(f"parse label '{LIFECYCLE_LABEL}' of image '{image}'",
                                 f"invalid JSON: {err}", ExitCode.REBASE_FAILED) from None
        if not isinstance(document, dict):
            raise LifecycleError(f"parse label '{LIFECYCLE_LABEL}' of image '{image}'",
                                 "not a JSON object", ExitCode.REBASE_FAILED)
        return cls(document)

    def _table(self, *keys: str) -> Mapping[str, Any]:
        value: Any = self.document
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value if isinstance(value, Mapping) else {}

    @property
    def top_layer(self) -> str:
        value = self._table("runImage").get("topLayer", "")
        return value if isinstance(value, str) else ""

    def run_image(self) -> RunImageMetadata:
        """Recorded run image: ``runImage{image,mirrors}``, else ``stack.runImage``."""
        for table in (self._table("runImage"), self._table("stack", "runImage")):
            image = table.get("image")
            mirrors = table.get("mirrors") or []
            if isinstance(image, str) and image:
                if isinstance(mirrors, list):
                    return RunImageMetadata(image, tuple(m for m in mirrors if isinstance(m, str)))
                return RunImageMetadata(image)
        return RunImageMetadata()

    def layer_sha(self, buildpack_id: str, layer: str) -> str | None:
        sha = (self.layer_data(buildpack_id, layer) or {}).get("sha")
        return sha if isinstance(sha, str) else None

    def layer_data(self, buildpack_id: str, layer: str) -> Mapping[str, Any] | None:
        for buildpack in self.document.get("buildpacks") or []:
            if isinstance(buildpack, Mapping) and buildpack.get("key") == buildpack_id:
                entry = (buildpack.get("layers") or {}).get(layer)
                return entry if isinstance(entry, Mapping) else None
        return None

    def sha(self, key: str) -> str | None:
        value = self._table(key).get("sha")
        return value if isinstance(value, str) else None

    def app_shas(self) -> frozenset[str]:
        app = self.document.get("app")
        entries = app if isinstance(app, list) else [app]
        return frozenset(e["sha"] for e in entries
                         if isinstance(e, Mapping) and isinstance(e.get("sha"), str))

    def with_run_image(self, top_layer: str, reference: str,
                       recorded: RunImageMetadata | None = None) -> dict[str, Any]:
        """The label after a rebase; ``recorded`` replaces the recorded image and mirrors."""
        document = json.loads(json.dumps(self.document))
        run_image = dict(document.get("runImage") or {})
        run_image["topLayer"] = top_layer
        run_image["reference"] = reference
        if recorded is not None:
            run_image.pop("image", None)
            run_image.pop("mirrors", None)
            run_image.update(recorded.to_json())
            document["stack"] = {"runImage": recorded.to_json()}
        document["runImage"] = run_image
        return dict(document)


# -- report.toml -----------------------------------------------------------------------------

def write_report(path: Path, image: Mapping[str, Any],
                 run_image: Mapping[str, Any] | None = None) -> None:
    """Write report.toml atomically: a reader sees the old file or the whole new one."""
    document: dict[str, Any] = {"image": dict(image)}
    if run_image:
        document["run-image"] = dict(run_image)
    write_atomically(path, tomli_w.dumps(document).encode())


@dataclass(frozen=True)
class Analyzed:
    """What the analyzer left in analyzed.toml: the previous image, and its lifecycle label."""

    image_reference: str | None = None
    label: LifecycleLabel | None = None


# analyzed.toml spells the label's keys in TOML style.
_ANALYZED_KEYS = {"run-image": "runImage", "top-layer": "topLayer"}


def _label_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_ANALYZED_KEYS.get(key, key): _label_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_label_keys(item) for item in value]
    return value


def read_analyzed(path: Path) -> Analyzed | None:
    """analyzed.toml (``[image] reference``, ``[metadata]`` = the previous image's label);
    None if the file does not exist, exit 3 if it is malformed."""
    document = read_toml(path, "analyzed TOML")
    if document is None:
        return None
    fields = _Fields(document, path, "analyzed TOML")
    reference = _Fields(fields.table_of("image") or {}, path, "analyzed TOML",
                        "image.").string("reference")
    metadata = fields.table_of("metadata")
    return Analyzed(reference or None,
                    LifecycleLabel(_label_keys(metadata)) if metadata else None)


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


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def labels_json(document: Any) -> str:
    """Label values are compact JSON, like Go's encoding/json output."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)

