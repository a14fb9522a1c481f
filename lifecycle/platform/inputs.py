"""Phase inputs: flags > environment > defaults, resolved once into immutable dataclasses.

This module owns every flag name, alias, environment variable and default, and which platform
API versions define each flag.
Phases receive the dataclasses below and never read ``os.environ`` or argv themselves. Every
path in them is absolute (relative ones are taken from the ``cwd`` given to the resolver), and
warnings found while resolving travel in ``warnings``, because logging is configured only after
resolution (``-log-level``, ``-log-format``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lifecycle import __version__
from lifecycle.image.index import Platform
from lifecycle.image.mutate import NORMALIZED_TIME
from lifecycle.platform import api
from lifecycle.platform.api import Features, PlatformAPI, features_for, platform_api_from
from lifecycle.platform.exits import ExitCode, LifecycleError, invalid_args
from lifecycle.platform.flags import (
    Flag,
    FlagSet,
    ParsedFlags,
    UsageExit,
    bool_flag,
    int_flag,
    string_flag,
    string_list_flag,
)
from lifecycle.reference import Reference, ReferenceError, parse_reference

SUPPORTED_PLATFORM_APIS = tuple(str(version) for version in api.SUPPORTED)
DEFAULT_PLATFORM_API = str(api.DEFAULT)
DEFAULT_STACK_PATHS = (Path("/buildpacks/stack.toml"), Path("/cnb/stack.toml"))
DEFAULT_RUN_PATH = Path("/cnb/run.toml")
DEFAULT_LAUNCHER_SBOM_DIR = Path("/cnb/lifecycle")
DEFAULT_EXEC_ENV = "production"
VERSION_TEXT = f"{__version__}\n"
LOG_LEVELS = ("debug", "info", "warn", "warning", "error")
LOG_FORMATS = ("console", "json")
NO_CACHE_WARNING = "Will not cache data, no cache flag specified."
"""Logged by the exporter once its inputs proved valid, so that it never precedes an input
error."""
LAUNCH_CACHE_WARNING = "Ignoring -launch-cache, only intended for use with -daemon"


class EarlyExit(Exception):
    """Parsing ended the run before any phase work: ``-h``, ``-version`` or a flag error."""

    def __init__(self, code: int, output: str, to_stderr: bool) -> None:
        super().__init__(output)
        self.code = code
        self.output = output
        self.to_stderr = to_stderr


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"           # debug | info | warn | error ("warning" is stored as "warn")
    format: str = "console"       # console | json
    no_color: bool = False


@dataclass(frozen=True)
class Target:
    """Where images are read and written: exactly one of registry, daemon, layout."""

    daemon: bool = False
    layout_dir: Path | None = None          # set iff -layout
    insecure_registries: frozenset[str] = frozenset()

    @property
    def kind(self) -> str:
        return "daemon" if self.daemon else "layout" if self.layout_dir is not None else "registry"


@dataclass(frozen=True)
class SharedInputs:
    """What every phase resolves the same way; each *Inputs class has it as ``shared``."""

    api: PlatformAPI
    target: Target
    log: LogSettings
    run_image: str | None = None          # explicit -run-image (any spelling) or CNB_RUN_IMAGE
    run_image_origin: str = ""            # where it came from, for messages: "-image", ...
    images: tuple[Reference, ...] = ()    # output image first, then additional tags (parsed)
    image_names: tuple[str, ...] = ()     # the same names exactly as given (report, output)
    previous_image: Reference | None = None  # -previous-image; None = the output image
    uid: int = 0
    gid: int = 0
    warnings: tuple[str, ...] = ()        # for the phase to log once logging is configured

    @property
    def features(self) -> Features:
        return features_for(self.api)


class _WithShared:
    """The shared fields, readable on each *Inputs class as its own attributes."""

    shared: SharedInputs

    @property
    def api(self) -> PlatformAPI:
        return self.shared.api

    @property
    def features(self) -> Features:
        return self.shared.features

    @property
    def platform_api(self) -> str:
        return str(self.shared.api)

    @property
    def target(self) -> Target:
        return self.shared.target

    @property
    def log(self) -> LogSettings:
        return self.shared.log

    @property
    def run_image(self) -> str | None:
        return self.shared.run_image

    @property
    def images(self) -> tuple[Reference, ...]:
        return self.shared.images

    @property
    def image_names(self) -> tuple[str, ...]:
        return self.shared.image_names

    @property
    def previous_image(self) -> Reference | None:
        return self.shared.previous_image

    @property
    def uid(self) -> int:
        return self.shared.uid

    @property
    def gid(self) -> int:
        return self.shared.gid

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.shared.warnings


@dataclass(frozen=True)
class ExporterInputs(_WithShared):
    """Everything the exporter needs from its command line and environment."""

    shared: SharedInputs
    stack_path: Path                  # stack.toml (below 0.12; may not exist)
    run_path: Path                    # run.toml (0.12 on; may not exist)
    layers_dir: Path
    app_dir: Path
    group_path: Path
    analyzed_path: Path
    launcher_path: Path
    report_path: Path
    project_metadata_path: Path
    process_type: str | None
    cache_dir: Path | None
    cache_image: Reference | None
    launch_cache_dir: Path | None     # None unless -daemon
    extended_dir: Path                # <layers>/extended unless -extended says otherwise
    launcher_sbom_dir: Path           # the launcher's SBOM files (0.11 on)
    parallel: bool                    # export image and cache at once (0.13 on)
    exec_env: str                     # CNB_EXEC_ENV (0.15 on), else ""
    created: str = NORMALIZED_TIME    # image creation time: SOURCE_DATE_EPOCH, else 1980-01-01
    platform: Platform | None = None  # -platform: the run image's child to build on
    index: bool = False               # -index: add the image to the index at each tag


@dataclass(frozen=True)
class RebaserInputs(_WithShared):
    """Everything the rebaser needs from its command line and environment."""

    shared: SharedInputs
    report_path: Path
    force: bool


@dataclass(frozen=True)
class RebaseManyInputs(_WithShared):
    """Everything ``rebase-many`` needs: the image list and what applies to every image."""

    shared: SharedInputs
    image_list: str                   # a file path, or "-" for standard input
    force: bool
    jobs: int                         # images rebased at once, over one connection pool
    report_path: Path | None          # a TOML summary of every image, if asked for


# -- flag tables ----------------------------------------------------------------------------------
# One table per phase; ``bounded`` flags exist only at the platform APIs that define them, and
# each run parses with the table filtered for its version. Flags of our own (-layout,
# -previous-image on the exporter, -report, -log-format, ...) exist at every version.

_SYNOPSIS = "[flags] <image> [<additional-tag>...]"
_RUN_IMAGE_CONFLICT = "supply only one of -run-image or (deprecated) -image"

_RUN_IMAGE = string_flag(
    ("run-image", "runImage", "image"),
    "run image to use as-is (no mirror selection); -image is deprecated", "CNB_RUN_IMAGE")
_TARGET_AND_LOG_FLAGS = (
    bool_flag("daemon", "read and write images in the Docker daemon", "CNB_USE_DAEMON"),
    bool_flag("layout", "read and write images in an OCI layout directory (needs -layout-dir)",
              "CNB_USE_LAYOUT"),
    string_flag("layout-dir", "root of the OCI layout directory", "CNB_LAYOUT_DIR"),
    string_list_flag("insecure-registry", "registry to reach over plain HTTP",
                     "CNB_INSECURE_REGISTRIES").bounded(
        since=api.since("insecure_registry_flag"), env_everywhere=True),
    string_flag("log-level", "log level: debug, info, warn or error", "CNB_LOG_LEVEL",
                default="info"),
    string_flag("log-format", "log format: console or json", "CNB_LOG_FORMAT",
                default="console"),
    bool_flag("no-color", "disable color output", "CNB_NO_COLOR"),
    bool_flag("version", "print the version and exit"),
)
_OWNER_FLAGS = (
    int_flag("uid", "user ID that owns the files the lifecycle writes", "CNB_USER_ID"),
    int_flag("gid", "group ID that owns the files the lifecycle writes", "CNB_GROUP_ID"),
)
_PREVIOUS_IMAGE = string_flag("previous-image",
                              "existing app image to read, if it is not the output image",
                              "CNB_PREVIOUS_IMAGE", default_text="the output image")
_FORCE = bool_flag("force", "rebase even if the new run image looks incompatible",
                   "CNB_FORCE_REBASE").bounded(since=api.since("rebase_force"))

EXPORTER_FLAGS = FlagSet("exporter", _SYNOPSIS, (
    _RUN_IMAGE, _PREVIOUS_IMAGE, *_TARGET_AND_LOG_FLAGS, *_OWNER_FLAGS,
    string_flag(("stack", "mirrors"), "stack.toml with the run image and its mirrors",
                ("CNB_MIRRORS_PATH", "CNB_STACK_PATH"),
                default_text="/buildpacks/stack.toml if it exists, else /cnb/stack.toml"
                ).bounded(until=api.since("run_toml")),
    string_flag("run", "run.toml with the run images and their mirrors", "CNB_RUN_PATH",
                default=str(DEFAULT_RUN_PATH)).bounded(since=api.since("run_toml")),
    string_flag("layers", "layers directory", "CNB_LAYERS_DIR", default="/layers"),
    string_flag("app", "application directory", "CNB_APP_DIR", default="/workspace"),
    string_flag("group", "group.toml", "CNB_GROUP_PATH",
                default_text="<layers>/group.toml, else ./group.toml if only that exists"),
    string_flag("analyzed", "analyzed.toml", "CNB_ANALYZED_PATH",
                default_text="<layers>/analyzed.toml"),
    string_flag("launcher", "launcher executable to put into the image", "CNB_LAUNCHER_PATH",
                default="/cnb/lifecycle/launcher"),
    string_flag("launcher-sbom", "directory with the SBOM files of the launcher",
                default=str(DEFAULT_LAUNCHER_SBOM_DIR)).bounded(
        since=api.since("lifecycle_sboms")),
    string_flag("report", "where to write report.toml", "CNB_REPORT_PATH",
                default_text="<layers>/report.toml"),
    string_flag("process-type", "default process type", "CNB_PROCESS_TYPE"),
    string_flag("cache-dir", "build cache directory", "CNB_CACHE_DIR"),
    string_flag("cache-image", "build cache image", "CNB_CACHE_IMAGE"),
    string_flag("launch-cache", "layer tarball cache for -daemon", "CNB_LAUNCH_CACHE_DIR"),
    string_flag("project-metadata", "project-metadata.toml", "CNB_PROJECT_METADATA_PATH",
                default_text="<layers>/project-metadata.toml"),
    string_flag("extended", "directory with the extended run image", "CNB_EXTENDED_DIR",
                default_text="<layers>/extended").bounded(
        since=api.since("extended_run_image")),
    bool_flag("parallel", "export the image and the cache at the same time",
              "CNB_PARALLEL_EXPORT").bounded(since=api.since("parallel_export")),
    bool_flag("helpers", "accepted for compatibility with 2019 lifecycles; credentials always "
              "come from CNB_REGISTRY_AUTH and the Docker config", "CNB_USE_CRED_HELPERS"),
    string_flag("platform", "os/arch[/variant] to build for: the run image index's child",
                default_text="analyzed.toml's run-image target (0.12 on), else linux/amd64"),
    bool_flag("index", "add the image to the image index at each tag (replacing the child "
              "of its platform; not with -daemon)"),
))

REBASER_FLAGS = FlagSet("rebaser", _SYNOPSIS, (
    _RUN_IMAGE, *_TARGET_AND_LOG_FLAGS, *_OWNER_FLAGS,
    _PREVIOUS_IMAGE.bounded(since=api.since("rebase_previous_image")),
    string_flag("report", "where to write report.toml", "CNB_REPORT_PATH",
                default_text="<$CNB_LAYERS_DIR or /layers>/report.toml"),
    _FORCE,
))


DEFAULT_REBASE_JOBS = 16
MAX_REBASE_JOBS = 256

REBASE_MANY_FLAGS = FlagSet("rebase-many", "[flags] <image-list-file | ->", (
    _RUN_IMAGE, *_TARGET_AND_LOG_FLAGS, _FORCE,
    int_flag("jobs", f"images to rebase at once (1-{MAX_REBASE_JOBS}; default "
             f"{DEFAULT_REBASE_JOBS})", "CNB_REBASE_JOBS"),
    string_flag("report", "where to write a TOML summary of every image",
                default_text="none"),
))


# -- resolution ----------------------------------------------------------------------------------

def resolve_exporter_inputs(argv: Sequence[str], environ: Mapping[str, str],
                            cwd: Path) -> ExporterInputs:
    """Resolve the exporter's argv and environment; relative paths are taken from ``cwd``.

    Raises :class:`EarlyExit` for ``-h``, ``-version`` and flag syntax errors, and
    :class:`LifecycleError` (exit 3, or 11 for ``CNB_PLATFORM_API``) for invalid inputs.
    """
    flags, platform_api = _parse(EXPORTER_FLAGS, argv, environ)
    shared = _resolve_shared(flags, platform_api, cwd)
    features = shared.features
    warnings = list(shared.warnings)
    _check_alias_conflict(flags, "stack", "supply only one of -mirrors or -stack")

    layers_dir = _absolute(flags.string("layers"), cwd)
    group_default = layers_dir / "group.toml"
    if not group_default.exists() and (cwd / "group.toml").exists():
        group_default = cwd / "group.toml"  # where platforms before 0.5 put it
    stack_default = next((path for path in DEFAULT_STACK_PATHS if path.exists()),
                         DEFAULT_STACK_PATHS[0])

    launch_cache_dir = _optional_path(flags, "launch-cache", cwd)
    if launch_cache_dir is not None and not shared.target.daemon:
        warnings.append(LAUNCH_CACHE_WARNING)
        launch_cache_dir = None
    cache_dir = _optional_path(flags, "cache-dir", cwd)
    cache_image = _optional_reference(flags, "cache-image")
    created = _created(environ, features, warnings)
    if flags.boolean("index") and shared.target.daemon:
        raise invalid_args("parse arguments", "-index cannot be used with -daemon: the Docker "
                           "daemon stores no image index")

    return ExporterInputs(
        shared=dataclasses.replace(shared, warnings=tuple(warnings)),
        stack_path=_path_or(flags, "stack", stack_default, cwd),
        run_path=_path_or(flags, "run", DEFAULT_RUN_PATH, cwd),
        layers_dir=layers_dir,
        app_dir=_absolute(flags.string("app"), cwd),
        group_path=_path_or(flags, "group", group_default, cwd),
        analyzed_path=_path_or(flags, "analyzed", layers_dir / "analyzed.toml", cwd),
        launcher_path=_absolute(flags.string("launcher"), cwd),
        report_path=_path_or(flags, "report", layers_dir / "report.toml", cwd),
        project_metadata_path=_path_or(flags, "project-metadata",
                                       layers_dir / "project-metadata.toml", cwd),
        process_type=flags.string("process-type") or None,
        cache_dir=cache_dir,
        cache_image=cache_image,
        launch_cache_dir=launch_cache_dir,
        extended_dir=_path_or(flags, "extended", layers_dir / "extended", cwd),
        launcher_sbom_dir=_path_or(flags, "launcher-sbom", DEFAULT_LAUNCHER_SBOM_DIR, cwd),
        parallel=flags.boolean("parallel"),
        exec_env=(environ.get("CNB_EXEC_ENV") or DEFAULT_EXEC_ENV) if features.exec_env else "",
        created=created,
        platform=_platform(flags),
        index=flags.boolean("index"),
    )


def _platform(flags: ParsedFlags) -> Platform | None:
    text = flags.string("platform")
    if not text:
        return None
    try:
        return Platform.parse(text)
    except ValueError as err:
        raise invalid_args(f"parse {flags.origin('platform')}", err) from None


def resolve_rebaser_inputs(argv: Sequence[str], environ: Mapping[str, str],
                           cwd: Path) -> RebaserInputs:
    """Resolve the rebaser's argv and environment; errors as for the exporter."""
    flags, platform_api = _parse(REBASER_FLAGS, argv, environ)
    shared = _resolve_shared(flags, platform_api, cwd)
    # The rebaser has no -layers flag, but its report default still follows CNB_LAYERS_DIR.
    layers_dir = _absolute(environ.get("CNB_LAYERS_DIR") or "/layers", cwd)
    return RebaserInputs(
        shared=shared,
        report_path=_path_or(flags, "report", layers_dir / "report.toml", cwd),
        force=flags.boolean("force"),
    )


def resolve_rebase_many_inputs(argv: Sequence[str], environ: Mapping[str, str],
                               cwd: Path) -> RebaseManyInputs:
    """Resolve ``rebase-many``'s argv and environment; errors as for the rebaser."""
    flags, platform_api = _parse(REBASE_MANY_FLAGS, argv, environ)
    log = _log_settings(flags)
    target = _target(flags, cwd)
    warnings = _ignored_layout_dir(flags)
    if len(flags.positionals) != 1:
        raise invalid_args("parse arguments", "exactly one image list (a file, or - for "
                           f"standard input) is required, got {len(flags.positionals)}")
    jobs = flags.integer("jobs") or DEFAULT_REBASE_JOBS
    if not 1 <= jobs <= MAX_REBASE_JOBS:
        raise invalid_args(f"parse {flags.origin('jobs')}",
                           f"{jobs} is not between 1 and {MAX_REBASE_JOBS}")
    image_list = flags.positionals[0]
    return RebaseManyInputs(
        shared=SharedInputs(platform_api, target, log, *_run_image(flags), warnings=warnings),
        image_list=image_list if image_list == "-" else str(_absolute(image_list, cwd)),
        force=flags.boolean("force"),
        jobs=jobs,
        report_path=_optional_path(flags, "report", cwd),
    )


def _parse(flag_set: FlagSet, argv: Sequence[str],
           environ: Mapping[str, str]) -> tuple[ParsedFlags, PlatformAPI]:
    """Parse with the flags of the platform API in ``CNB_PLATFORM_API``.

    An unsupported platform API (exit 11) is reported before any invalid argument (exit 3):
    with the wrong API, the arguments may well mean something else. ``-h`` and ``-version``
    still work then, as they are defined at every version.
    """
    try:
        platform_api: PlatformAPI | LifecycleError = platform_api_from(environ)
    except LifecycleError as err:
        platform_api = err
    by_version = flag_set if isinstance(platform_api, LifecycleError) \
        else flag_set.for_api(platform_api)
    try:
        flags = by_version.parse(argv, environ)
    except UsageExit as usage:
        if isinstance(platform_api, LifecycleError) and usage.code != ExitCode.SUCCESS:
            raise platform_api from None
        raise EarlyExit(usage.code, usage.output, to_stderr=True) from None
    if flags.boolean("version"):
        raise EarlyExit(ExitCode.SUCCESS, VERSION_TEXT, to_stderr=False)
    if isinstance(platform_api, LifecycleError):
        raise platform_api
    return flags, platform_api


def _resolve_shared(flags: ParsedFlags, platform_api: PlatformAPI, cwd: Path) -> SharedInputs:
    log = _log_settings(flags)
    target = _target(flags, cwd)
    names = flags.positionals
    if not names:
        raise invalid_args("parse arguments", "at least one image argument is required")
    images = tuple(_reference(name, "image argument") for name in names)
    if target.kind == "registry" and len({image.registry for image in images}) > 1:
        on = ", ".join(f"'{name}' on {image.registry}"
                       for name, image in zip(names, images, strict=True))
        raise invalid_args("parse arguments",
                           f"exporting to multiple registries is unsupported: {on}")
    run_image, run_image_origin = _run_image(flags)
    warnings = _ignored_layout_dir(flags) + tuple(
        f"unconsumed flag-like positional arg: {name} (flags must come before the first image "
        "argument; it is treated as an image name)"
        for name in names if name.startswith("-"))
    return SharedInputs(
        api=platform_api,
        target=target,
        log=log,
        run_image=run_image,
        run_image_origin=run_image_origin,
        images=images,
        image_names=names,
        previous_image=_optional_reference(flags, "previous-image"),
        uid=_owner_id(flags, "uid"),
        gid=_owner_id(flags, "gid"),
        warnings=warnings,
    )


def _run_image(flags: ParsedFlags) -> tuple[str | None, str]:
    """The explicit run image, if any, and where it came from (a flag or CNB_RUN_IMAGE)."""
    _check_alias_conflict(flags, "run-image", _RUN_IMAGE_CONFLICT)
    run_image = flags.string("run-image") or None
    if run_image is None:
        return None, ""
    origin = flags.origin("run-image")
    _reference(run_image, origin)
    return run_image, origin


def _log_settings(flags: ParsedFlags) -> LogSettings:
    level = flags.string("log-level").lower()  # logrus levels are case-insensitive
    if level not in LOG_LEVELS:
        raise invalid_args("parse log level",
                           f"'{level}' is not one of {', '.join(LOG_LEVELS)}")
    log_format = flags.string("log-format").lower()
    if log_format not in LOG_FORMATS:
        raise invalid_args("parse log format",
                           f"'{log_format}' is not one of {', '.join(LOG_FORMATS)}")
    return LogSettings("warn" if level == "warning" else level, log_format,
                       flags.boolean("no-color"))


def _target(flags: ParsedFlags, cwd: Path) -> Target:
    daemon, layout = flags.boolean("daemon"), flags.boolean("layout")
    if daemon and layout:
        raise invalid_args("parse arguments", "supply only one of -daemon or -layout")
    layout_dir = None
    if layout:
        layout_dir = _optional_path(flags, "layout-dir", cwd)
        if layout_dir is None:
            raise invalid_args("parse arguments", "-layout-dir is required when -layout is set")
    return Target(daemon=daemon, layout_dir=layout_dir,
                  insecure_registries=frozenset(flags.strings("insecure-registry")))


def _ignored_layout_dir(flags: ParsedFlags) -> tuple[str, ...]:
    """A layout directory without ``-layout`` would be silently ignored, and the images read
    from and written to somewhere else: say so."""
    if flags.boolean("layout") or not flags.string("layout-dir"):
        return ()
    where = "the Docker daemon" if flags.boolean("daemon") else "the registry"
    return (f"Ignoring {flags.origin('layout-dir')}: it is used only with -layout; images "
            f"are read from and written to {where}",)


def _check_alias_conflict(flags: ParsedFlags, name: str, message: str) -> None:
    """Two spellings of one flag with different values: neither may silently win."""
    last_by_spelling = {occurrence.spelling: occurrence.value for occurrence in flags.given(name)}
    if len(set(last_by_spelling.values())) > 1:
        raise invalid_args("parse arguments", message)


def _owner_id(flags: ParsedFlags, name: str) -> int:
    value = flags.integer(name)
    if value < 0:  # Go accepts it, but no tar header can carry it
        raise invalid_args(f"parse {flags.origin(name)}", f"{value} is negative")
    return value


def _reference(text: str, what: str) -> Reference:
    try:
        return parse_reference(text)
    except ReferenceError as err:
        raise invalid_args(f"parse {what}", err) from None


def _optional_reference(flags: ParsedFlags, name: str) -> Reference | None:
    text = flags.string(name)
    return _reference(text, flags.origin(name)) if text else None


def _absolute(text: str, cwd: Path) -> Path:
    """``cwd``-relative paths made absolute and cleaned, as Go's ``filepath.Abs`` does."""
    return Path(os.path.normpath(cwd / text))


def _optional_path(flags: ParsedFlags, name: str, cwd: Path) -> Path | None:
    text = flags.string(name)
    return _absolute(text, cwd) if text else None


def _path_or(flags: ParsedFlags, name: str, default: Path, cwd: Path) -> Path:
    return _optional_path(flags, name, cwd) or _absolute(str(default), cwd)


_EPOCH_SECONDS = re.compile(r"[+-]?[0-9]+")  # strconv.ParseInt(s, 10, 64) syntax


def _created(environ: Mapping[str, str], features: Features, warnings: list[str]) -> str:
    """The image creation time: ``SOURCE_DATE_EPOCH`` if valid (platform API 0.9 on), else the
    normalised time."""
    text = environ.get("SOURCE_DATE_EPOCH", "")
    if not text:
        return NORMALIZED_TIME
    if not features.source_date_epoch:
        warnings.append(f"Ignoring SOURCE_DATE_EPOCH: platform API {features.api} does not "
                        "define it (0.9 and later do)")
        return NORMALIZED_TIME
    if _EPOCH_SECONDS.fullmatch(text):
        try:
            created = datetime.fromtimestamp(int(text), UTC)
        except (OverflowError, OSError, ValueError):
            pass  # outside what a timestamp can express: as invalid as a non-number
        else:
            return created.isoformat(timespec="seconds").replace("+00:00", "Z")
    warnings.append("Ignoring invalid SOURCE_DATE_EPOCH")
    return NORMALIZED_TIME


# -- inspect-image ---------------------------------------------------------------------------

@dataclass(frozen=True)
class InspectInputs:
    """What ``inspect-image`` needs: the image, where to read it, and for which registry a
    rebase's choice of run image should be shown."""

    image: Reference
    image_name: str
    registry: str                     # -registry, else the image's own registry
    json: bool
    target: Target
    log: LogSettings
    warnings: tuple[str, ...] = ()


def _tool_flags(*names: str) -> tuple[Flag, ...]:
    """The target and log flags named, for the tools beside the phases, which no platform
    runs: they take every flag at every platform API."""
    return tuple(flag for flag in _TARGET_AND_LOG_FLAGS if flag.name in names)


def _parse_tool(flag_set: FlagSet, argv: Sequence[str],
                environ: Mapping[str, str]) -> tuple[ParsedFlags, LogSettings]:
    """Parse a tool's flags (``-h``, ``-version`` and syntax errors as for the phases);
    returns them with the log settings."""
    try:
        flags = flag_set.parse(argv, environ)
    except UsageExit as usage:
        raise EarlyExit(usage.code, usage.output, to_stderr=True) from None
    if flags.boolean("version"):
        raise EarlyExit(ExitCode.SUCCESS, VERSION_TEXT, to_stderr=False)
    return flags, _log_settings(flags)


INSPECT_FLAGS = FlagSet("inspect-image", "[flags] <image>", (
    *_tool_flags("daemon", "layout", "layout-dir", "insecure-registry", "log-level",
                 "log-format", "no-color", "version"),
    string_flag("registry", "show the run image a rebase would choose for this registry",
                default_text="the image's own registry"),
    bool_flag("json", "print one JSON document"),
))


def resolve_inspect_inputs(argv: Sequence[str], environ: Mapping[str, str],
                           cwd: Path) -> InspectInputs:
    """Resolve ``inspect-image``'s argv and environment; errors as for the phases."""
    flags, log = _parse_tool(INSPECT_FLAGS, argv, environ)
    target = _target(flags, cwd)
    if len(flags.positionals) != 1:
        raise invalid_args("parse arguments",
                           f"exactly one image is required, got {len(flags.positionals)}")
    name = flags.positionals[0]
    image = _reference(name, "image argument")
    registry = image.registry
    if flags.string("registry"):
        # Spelled as references spell it ("docker.io" is "index.docker.io").
        registry = _reference(f"{flags.string('registry')}/any/repository",
                              "-registry").registry
    return InspectInputs(image=image, image_name=name, registry=registry,
                         json=flags.boolean("json"), target=target, log=log,
                         warnings=_ignored_layout_dir(flags))


# -- layout-add ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayoutAddInputs:
    """What ``layout-add`` needs: an image to read (registry or daemon) and the layout name
    to store it under."""

    source: Reference
    name: Reference                   # where it goes in the layout (default: the same name)
    layout_dir: Path
    source_target: Target             # the registry (default) or the daemon
    log: LogSettings


LAYOUT_ADD_FLAGS = FlagSet("layout-add", "[flags] <image> [<name-in-layout>]", (
    *_tool_flags("daemon", "insecure-registry", "log-level", "log-format", "no-color",
                 "version"),
    string_flag("layout-dir", "root of the OCI layout directory to add the image to",
                "CNB_LAYOUT_DIR"),
))


def resolve_layout_add_inputs(argv: Sequence[str], environ: Mapping[str, str],
                              cwd: Path) -> LayoutAddInputs:
    """Resolve ``layout-add``'s argv and environment; errors as for the phases."""
    flags, log = _parse_tool(LAYOUT_ADD_FLAGS, argv, environ)
    layout_dir = _optional_path(flags, "layout-dir", cwd)
    if layout_dir is None:
        raise invalid_args("parse arguments", "-layout-dir is required")
    if not 1 <= len(flags.positionals) <= 2:
        raise invalid_args("parse arguments", "an image, and optionally the name to give it in "
                           f"the layout, are required, got {len(flags.positionals)} arguments")
    source = _reference(flags.positionals[0], "image argument")
    name = _reference(flags.positionals[-1], "name in the layout")
    return LayoutAddInputs(
        source=source, name=name, layout_dir=layout_dir,
        source_target=Target(daemon=flags.boolean("daemon"),
                             insecure_registries=frozenset(flags.strings("insecure-registry"))),
        log=log)
