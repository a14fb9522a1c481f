"""Phase inputs: flags > environment > defaults, resolved once into immutable dataclasses.

This module owns every flag name, alias, environment variable and default of contract §1.
Phases receive the dataclasses below and never read ``os.environ`` or argv themselves. Every
path in them is absolute (relative ones are taken from the ``cwd`` given to the resolver), and
warnings found while resolving travel in ``warnings``, because logging is configured only after
resolution (``-log-level``, ``-log-format``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lifecycle import __version__
from lifecycle.image.mutate import NORMALIZED_TIME
from lifecycle.platform.exits import ExitCode, LifecycleError, invalid_args
from lifecycle.platform.flags import (
    FlagSet,
    ParsedFlags,
    UsageExit,
    bool_flag,
    int_flag,
    string_flag,
    string_list_flag,
)
from lifecycle.reference import Reference, ReferenceError, parse_reference

SUPPORTED_PLATFORM_APIS = ("0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "0.10", "0.11",
                           "0.12", "0.13", "0.14", "0.15")
DEFAULT_PLATFORM_API = "0.12"
DEFAULT_STACK_PATHS = (Path("/buildpacks/stack.toml"), Path("/cnb/stack.toml"))
VERSION_TEXT = f"{__version__}\n"
LOG_LEVELS = ("debug", "info", "warn", "warning", "error")
LOG_FORMATS = ("console", "json")
NO_CACHE_WARNING = "Will not cache data, no cache flag specified."
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
class ExporterInputs:
    """Everything the exporter needs from its command line and environment."""

    images: tuple[Reference, ...]     # output image first, then additional tags (parsed)
    image_names: tuple[str, ...]      # the same names exactly as given (report tags, output)
    run_image: str | None             # explicit -runImage/-run-image/-image/CNB_RUN_IMAGE
    stack_path: Path                  # resolved stack/mirrors file (may not exist)
    layers_dir: Path
    app_dir: Path
    group_path: Path
    analyzed_path: Path
    previous_image: Reference | None  # -previous-image; None = the output image
    launcher_path: Path
    report_path: Path
    project_metadata_path: Path
    process_type: str | None
    cache_dir: Path | None
    cache_image: Reference | None
    launch_cache_dir: Path | None     # None unless -daemon
    uid: int
    gid: int
    platform_api: str
    target: Target
    log: LogSettings
    created: str = NORMALIZED_TIME    # image creation time: SOURCE_DATE_EPOCH, else 1980-01-01
    warnings: tuple[str, ...] = ()    # for the phase to log once logging is configured


@dataclass(frozen=True)
class RebaserInputs:
    """Everything the rebaser needs from its command line and environment."""

    images: tuple[Reference, ...]     # output image first, then additional tags (parsed)
    image_names: tuple[str, ...]      # the same names exactly as given
    run_image: str | None             # explicit -runImage/-run-image/-image/CNB_RUN_IMAGE
    previous_image: Reference | None  # the app image to rebase; None = the output image
    report_path: Path
    force: bool
    uid: int
    gid: int
    platform_api: str
    target: Target
    log: LogSettings
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RebaseManyInputs:
    """Everything ``rebase-many`` needs: the image list and what applies to every image."""

    image_list: str                   # a file path, or "-" for standard input
    run_image: str | None             # Scenario 2 for every image; None = each one's label
    force: bool
    jobs: int                         # images rebased at once, over one connection pool
    report_path: Path | None          # a TOML summary of every image, if asked for
    target: Target
    log: LogSettings
    warnings: tuple[str, ...] = ()


# -- flag tables (contract §1) -----------------------------------------------------------------

_SYNOPSIS = "[flags] <image> [<additional-tag>...]"
_RUN_IMAGE_CONFLICT = "supply only one of -run-image or (deprecated) -image"
_IGNORED = "accepted for compatibility with other lifecycles; ignored"

_SHARED_FLAGS = (
    string_flag(("run-image", "runImage", "image"),
                "run image to use as-is (no mirror selection); -image is deprecated",
                "CNB_RUN_IMAGE"),
    string_flag("previous-image", "existing app image to read, if it is not the output image",
                "CNB_PREVIOUS_IMAGE", default_text="the output image"),
    bool_flag("daemon", "read and write images in the Docker daemon", "CNB_USE_DAEMON"),
    bool_flag("layout", "read and write images in an OCI layout directory (needs -layout-dir)",
              "CNB_USE_LAYOUT"),
    string_flag("layout-dir", "root of the OCI layout directory", "CNB_LAYOUT_DIR"),
    int_flag("uid", "user ID that owns the files the lifecycle writes", "CNB_USER_ID"),
    int_flag("gid", "group ID that owns the files the lifecycle writes", "CNB_GROUP_ID"),
    string_list_flag("insecure-registry", "registry to reach over plain HTTP",
                     "CNB_INSECURE_REGISTRIES"),
    string_flag("log-level", "log level: debug, info, warn or error", "CNB_LOG_LEVEL",
                default="info"),
    string_flag("log-format", "log format: console or json", "CNB_LOG_FORMAT",
                default="console"),
    bool_flag("no-color", "disable color output", "CNB_NO_COLOR"),
    bool_flag("version", "print the version and exit"),
)

EXPORTER_FLAGS = FlagSet("exporter", _SYNOPSIS, (
    *_SHARED_FLAGS,
    string_flag(("stack", "mirrors"), "stack.toml with the run image and its mirrors",
                ("CNB_MIRRORS_PATH", "CNB_STACK_PATH"),
                default_text="/buildpacks/stack.toml if it exists, else /cnb/stack.toml"),
    string_flag("layers", "layers directory", "CNB_LAYERS_DIR", default="/layers"),
    string_flag("app", "application directory", "CNB_APP_DIR", default="/workspace"),
    string_flag("group", "group.toml", "CNB_GROUP_PATH",
                default_text="<layers>/group.toml, else ./group.toml if only that exists"),
    string_flag("analyzed", "analyzed.toml", "CNB_ANALYZED_PATH",
                default_text="<layers>/analyzed.toml"),
    string_flag("launcher", "launcher executable to put into the image", "CNB_LAUNCHER_PATH",
                default="/cnb/lifecycle/launcher"),
    string_flag("report", "where to write report.toml", "CNB_REPORT_PATH",
                default_text="<layers>/report.toml"),
    string_flag("process-type", "default process type", "CNB_PROCESS_TYPE"),
    string_flag("cache-dir", "build cache directory", "CNB_CACHE_DIR"),
    string_flag("cache-image", "build cache image", "CNB_CACHE_IMAGE"),
    string_flag("launch-cache", "layer tarball cache for -daemon", "CNB_LAUNCH_CACHE_DIR"),
    string_flag("project-metadata", "project-metadata.toml", "CNB_PROJECT_METADATA_PATH",
                default_text="<layers>/project-metadata.toml"),
    bool_flag("helpers", _IGNORED, "CNB_USE_CRED_HELPERS"),
    bool_flag("parallel", _IGNORED, "CNB_PARALLEL_EXPORT"),
    string_flag("run", _IGNORED, "CNB_RUN_PATH"),
    string_flag("extended", _IGNORED),
    string_flag("launcher-sbom", _IGNORED),
))

REBASER_FLAGS = FlagSet("rebaser", _SYNOPSIS, (
    *_SHARED_FLAGS,
    string_flag("report", "where to write report.toml", "CNB_REPORT_PATH",
                default_text="<$CNB_LAYERS_DIR or /layers>/report.toml"),
    bool_flag("force", "rebase even if the new run image looks incompatible",
              "CNB_FORCE_REBASE"),
))


DEFAULT_REBASE_JOBS = 16
MAX_REBASE_JOBS = 256

REBASE_MANY_FLAGS = FlagSet("rebase-many", "[flags] <image-list-file | ->", (
    *(flag for flag in _SHARED_FLAGS
      if flag.names[0] not in ("previous-image", "uid", "gid")),
    bool_flag("force", "rebase even if the new run image looks incompatible",
              "CNB_FORCE_REBASE"),
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
    flags = _parse(EXPORTER_FLAGS, argv, environ)
    shared = _resolve_shared(flags, environ, cwd)
    warnings = list(shared.warnings)
    _check_alias_conflict(flags, "stack", "supply only one of -mirrors or -stack")

    layers_dir = _absolute(flags.string("layers"), cwd)
    group_default = layers_dir / "group.toml"
    if not group_default.exists() and (cwd / "group.toml").exists():
        group_default = cwd / "group.toml"  # where Era A/B platforms put it
    stack_default = next((path for path in DEFAULT_STACK_PATHS if path.exists()),
                         DEFAULT_STACK_PATHS[0])

    launch_cache_dir = _optional_path(flags, "launch-cache", cwd)
    if launch_cache_dir is not None and not shared.target.daemon:
        warnings.append(LAUNCH_CACHE_WARNING)
        launch_cache_dir = None
    cache_dir = _optional_path(flags, "cache-dir", cwd)
    cache_image = _optional_reference(flags, "cache-image")
    if cache_dir is None and cache_image is None:
        warnings.append(NO_CACHE_WARNING)

    return ExporterInputs(
        images=shared.images,
        image_names=shared.image_names,
        run_image=shared.run_image,
        stack_path=_path_or(flags, "stack", stack_default, cwd),
        layers_dir=layers_dir,
        app_dir=_absolute(flags.string("app"), cwd),
        group_path=_path_or(flags, "group", group_default, cwd),
        analyzed_path=_path_or(flags, "analyzed", layers_dir / "analyzed.toml", cwd),
        previous_image=shared.previous_image,
        launcher_path=_absolute(flags.string("launcher"), cwd),
        report_path=_path_or(flags, "report", layers_dir / "report.toml", cwd),
        project_metadata_path=_path_or(flags, "project-metadata",
                                       layers_dir / "project-metadata.toml", cwd),
        process_type=flags.string("process-type") or None,
        cache_dir=cache_dir,
        cache_image=cache_image,
        launch_cache_dir=launch_cache_dir,
        uid=shared.uid,
        gid=shared.gid,
        platform_api=shared.platform_api,
        target=shared.target,
        log=shared.log,
        created=_created(environ, warnings),
        warnings=tuple(warnings),
    )


def resolve_rebaser_inputs(argv: Sequence[str], environ: Mapping[str, str],
                           cwd: Path) -> RebaserInputs:
    """Resolve the rebaser's argv and environment; errors as for the exporter."""
    flags = _parse(REBASER_FLAGS, argv, environ)
    shared = _resolve_shared(flags, environ, cwd)
    # The rebaser has no -layers flag, but its report default still follows CNB_LAYERS_DIR.
    layers_dir = _absolute(environ.get("CNB_LAYERS_DIR") or "/layers", cwd)
    return RebaserInputs(
        images=shared.images,
        image_names=shared.image_names,
        run_image=shared.run_image,
        previous_image=shared.previous_image,
        report_path=_path_or(flags, "report", layers_dir / "report.toml", cwd),
        force=flags.boolean("force"),
        uid=shared.uid,
        gid=shared.gid,
        platform_api=shared.platform_api,
        target=shared.target,
        log=shared.log,
        warnings=shared.warnings,
    )


def resolve_rebase_many_inputs(argv: Sequence[str], environ: Mapping[str, str],
                               cwd: Path) -> RebaseManyInputs:
    """Resolve ``rebase-many``'s argv and environment; errors as for the rebaser."""
    flags = _parse(REBASE_MANY_FLAGS, argv, environ)
    _platform_api(environ)
    log = _log_settings(flags)
    target = _target(flags, cwd)
    if len(flags.positionals) != 1:
        raise invalid_args("parse arguments", "exactly one image list (a file, or - for "
                           f"standard input) is required, got {len(flags.positionals)}")
    _check_alias_conflict(flags, "run-image", _RUN_IMAGE_CONFLICT)
    run_image = flags.string("run-image") or None
    if run_image is not None:
        _reference(run_image, flags.origin("run-image"))
    jobs = flags.integer("jobs") or DEFAULT_REBASE_JOBS
    if not 1 <= jobs <= MAX_REBASE_JOBS:
        raise invalid_args(f"parse {flags.origin('jobs')}",
                           f"{jobs} is not between 1 and {MAX_REBASE_JOBS}")
    image_list = flags.positionals[0]
    return RebaseManyInputs(
        image_list=image_list if image_list == "-" else str(_absolute(image_list, cwd)),
        run_image=run_image,
        force=flags.boolean("force"),
        jobs=jobs,
        report_path=_optional_path(flags, "report", cwd),
        target=target,
        log=log,
    )


@dataclass(frozen=True)
class _SharedInputs:
    """What both phases resolve the same way."""

    images: tuple[Reference, ...]
    image_names: tuple[str, ...]
    run_image: str | None
    previous_image: Reference | None
    uid: int
    gid: int
    platform_api: str
    target: Target
    log: LogSettings
    warnings: tuple[str, ...]


def _parse(flag_set: FlagSet, argv: Sequence[str], environ: Mapping[str, str]) -> ParsedFlags:
    try:
        flags = flag_set.parse(argv, environ)
    except UsageExit as usage:
        raise EarlyExit(usage.code, usage.output, to_stderr=True) from None
    if flags.boolean("version"):
        raise EarlyExit(ExitCode.SUCCESS, VERSION_TEXT, to_stderr=False)
    return flags


def _resolve_shared(flags: ParsedFlags, environ: Mapping[str, str], cwd: Path) -> _SharedInputs:
    # An unsupported platform API (exit 11) is reported before any invalid argument (exit 3):
    # with the wrong API, the arguments may well mean something else.
    platform_api = _platform_api(environ)
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
    _check_alias_conflict(flags, "run-image", _RUN_IMAGE_CONFLICT)
    run_image = flags.string("run-image") or None
    if run_image is not None:
        _reference(run_image, flags.origin("run-image"))
    warnings = tuple(
        f"unconsumed flag-like positional arg: {name} (flags must come before the first image "
        "argument; it is treated as an image name)"
        for name in names if name.startswith("-"))
    return _SharedInputs(
        images=images,
        image_names=names,
        run_image=run_image,
        previous_image=_optional_reference(flags, "previous-image"),
        uid=_owner_id(flags, "uid"),
        gid=_owner_id(flags, "gid"),
        platform_api=platform_api,
        target=target,
        log=log,
        warnings=warnings,
    )


def _platform_api(environ: Mapping[str, str]) -> str:
    requested = environ.get("CNB_PLATFORM_API", "")
    if not requested:
        return DEFAULT_PLATFORM_API
    if requested not in SUPPORTED_PLATFORM_APIS:
        raise LifecycleError(
            "set platform API",
            f"platform API version '{requested}' is incompatible with the lifecycle",
            ExitCode.INCOMPATIBLE_PLATFORM_API)
    return requested


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


def _created(environ: Mapping[str, str], warnings: list[str]) -> str:
    """The image creation time: ``SOURCE_DATE_EPOCH`` if valid, else the normalised time."""
    text = environ.get("SOURCE_DATE_EPOCH", "")
    if not text:
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


INSPECT_FLAGS = FlagSet("inspect-image", "[flags] <image>", (
    *(flag for flag in _SHARED_FLAGS
      if flag.names[0] in ("daemon", "layout", "layout-dir", "insecure-registry", "log-level",
                           "no-color", "version")),
    string_flag("registry", "show the run image a rebase would choose for this registry",
                default_text="the image's own registry"),
    bool_flag("json", "print one JSON document"),
))


def resolve_inspect_inputs(argv: Sequence[str], environ: Mapping[str, str],
                           cwd: Path) -> InspectInputs:
    """Resolve ``inspect-image``'s argv and environment; errors as for the phases."""
    flags = _parse(INSPECT_FLAGS, argv, environ)
    level = flags.string("log-level").lower()
    if level not in LOG_LEVELS:
        raise invalid_args("parse log level", f"'{level}' is not one of {', '.join(LOG_LEVELS)}")
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
                         json=flags.boolean("json"), target=target,
                         log=LogSettings("warn" if level == "warning" else level, "console",
                                         flags.boolean("no-color")))


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
    *(flag for flag in _SHARED_FLAGS
      if flag.names[0] in ("daemon", "insecure-registry", "log-level", "no-color", "version")),
    string_flag("layout-dir", "root of the OCI layout directory to add the image to",
                "CNB_LAYOUT_DIR"),
))


def resolve_layout_add_inputs(argv: Sequence[str], environ: Mapping[str, str],
                              cwd: Path) -> LayoutAddInputs:
    """Resolve ``layout-add``'s argv and environment; errors as for the phases."""
    flags = _parse(LAYOUT_ADD_FLAGS, argv, environ)
    level = flags.string("log-level").lower()
    if level not in LOG_LEVELS:
        raise invalid_args("parse log level", f"'{level}' is not one of {', '.join(LOG_LEVELS)}")
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
        log=LogSettings("warn" if level == "warning" else level, "console",
                        flags.boolean("no-color")))
