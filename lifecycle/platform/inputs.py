"""Phase inputs: flags > environment > defaults, resolved once into immutable records.

This module has what every command resolves alike: the platform API, the target (registry,
daemon or layout), logging, the run image, the image names and owner ids, and the flags that
carry them; each command's own flags and inputs class are in a module of its own
(:mod:`~lifecycle.platform.exporter_inputs`, :mod:`~lifecycle.platform.rebaser_inputs`,
:mod:`~lifecycle.platform.rebase_many_inputs`, :mod:`~lifecycle.platform.tool_inputs`), so a
run defines only its own. Together they own every flag name, alias, environment variable and
default, and which platform API versions define each flag.

Phases receive the records and never read ``os.environ`` or argv themselves. Every
path in them is absolute (relative ones are taken from the ``cwd`` given to the resolver), and
warnings found while resolving travel in ``warnings``, because logging is configured only after
resolution (``-log-level``, ``-log-format``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from lifecycle import __version__
from lifecycle.platform import api
from lifecycle.platform.api import Features, PlatformAPI, features_for, platform_api_from
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
from lifecycle.record import record
from lifecycle.reference import Reference, ReferenceError, parse_reference

SUPPORTED_PLATFORM_APIS = tuple(str(version) for version in api.SUPPORTED)
DEFAULT_PLATFORM_API = str(api.DEFAULT)
VERSION_TEXT = f"{__version__}\n"
LOG_LEVELS = ("debug", "info", "warn", "warning", "error")
LOG_FORMATS = ("console", "json")


class EarlyExit(Exception):
    """Parsing ended the run before any phase work: ``-h``, ``-version`` or a flag error."""

    def __init__(self, code: int, output: str, to_stderr: bool) -> None:
        super().__init__(output)
        self.code = code
        self.output = output
        self.to_stderr = to_stderr


@record
class LogSettings:
    """``-log-level``, ``-log-format`` and ``-no-color``, as resolved."""

    level: str = "info"           # debug | info | warn | error ("warning" is stored as "warn")
    format: str = "console"       # console | json
    no_color: bool = False


@record
class Target:
    """Where images are read and written: exactly one of registry, daemon, layout."""

    daemon: bool = False
    layout_dir: Path | None = None          # set iff -layout
    insecure_registries: frozenset[str] = frozenset()

    @property
    def kind(self) -> str:
        return "daemon" if self.daemon else "layout" if self.layout_dir is not None else "registry"


@record
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


class WithShared:
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


# -- the flags every phase shares ----------------------------------------------------------------
# Each phase's table adds its own; ``bounded`` flags exist only at the platform APIs that define
# them, and each run parses with the table filtered for its version. Flags of our own (-layout,
# -report, -log-format, ...) exist at every version.

IMAGES_SYNOPSIS = "[flags] <image> [<additional-tag>...]"
_RUN_IMAGE_CONFLICT = "supply only one of -run-image or (deprecated) -image"

RUN_IMAGE_FLAG = string_flag(
    ("run-image", "runImage", "image"),
    "run image to use as-is (no mirror selection); -image is deprecated", "CNB_RUN_IMAGE")
TARGET_AND_LOG_FLAGS = (
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
OWNER_FLAGS = (
    int_flag("uid", "user ID that owns the files the lifecycle writes", "CNB_USER_ID"),
    int_flag("gid", "group ID that owns the files the lifecycle writes", "CNB_GROUP_ID"),
)
PREVIOUS_IMAGE_FLAG = string_flag("previous-image",
                                  "existing app image to read, if it is not the output image",
                                  "CNB_PREVIOUS_IMAGE", default_text="the output image")
FORCE_FLAG = bool_flag("force", "rebase even if the new run image looks incompatible",
                       "CNB_FORCE_REBASE").bounded(since=api.since("rebase_force"))


# -- resolution ----------------------------------------------------------------------------------

def parse_for_api(flag_set: FlagSet, argv: Sequence[str],
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


def resolve_shared(flags: ParsedFlags, platform_api: PlatformAPI, cwd: Path) -> SharedInputs:
    log = log_settings_from(flags)
    target = target_from(flags, cwd)
    names = flags.positionals
    if not names:
        raise invalid_args("parse arguments", "at least one image argument is required")
    images = tuple(reference_from(name, "image argument") for name in names)
    if target.kind == "registry" and len({image.registry for image in images}) > 1:
        on = ", ".join(f"'{name}' on {image.registry}"
                       for name, image in zip(names, images, strict=True))
        raise invalid_args("parse arguments",
                           f"exporting to multiple registries is unsupported: {on}")
    run_image, run_image_origin = run_image_from(flags)
    warnings = ignored_layout_dir(flags) + tuple(
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
        previous_image=optional_reference(flags, "previous-image"),
        uid=_owner_id(flags, "uid"),
        gid=_owner_id(flags, "gid"),
        warnings=warnings,
    )


def run_image_from(flags: ParsedFlags) -> tuple[str | None, str]:
    """The explicit run image, if any, and where it came from (a flag or CNB_RUN_IMAGE)."""
    check_alias_conflict(flags, "run-image", _RUN_IMAGE_CONFLICT)
    run_image = flags.string("run-image") or None
    if run_image is None:
        return None, ""
    origin = flags.origin("run-image")
    reference_from(run_image, origin)
    return run_image, origin


def log_settings_from(flags: ParsedFlags) -> LogSettings:
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


def target_from(flags: ParsedFlags, cwd: Path) -> Target:
    daemon, layout = flags.boolean("daemon"), flags.boolean("layout")
    if daemon and layout:
        raise invalid_args("parse arguments", "supply only one of -daemon or -layout")
    layout_dir = None
    if layout:
        layout_dir = optional_path(flags, "layout-dir", cwd)
        if layout_dir is None:
            raise invalid_args("parse arguments", "-layout-dir is required when -layout is set")
    return Target(daemon=daemon, layout_dir=layout_dir,
                  insecure_registries=frozenset(flags.strings("insecure-registry")))


def ignored_layout_dir(flags: ParsedFlags) -> tuple[str, ...]:
    """A layout directory without ``-layout`` would be silently ignored, and the images read
    from and written to somewhere else: say so."""
    if flags.boolean("layout") or not flags.string("layout-dir"):
        return ()
    where = "the Docker daemon" if flags.boolean("daemon") else "the registry"
    return (f"Ignoring {flags.origin('layout-dir')}: it is used only with -layout; images "
            f"are read from and written to {where}",)


def check_alias_conflict(flags: ParsedFlags, name: str, message: str) -> None:
    """Two spellings of one flag with different values: neither may silently win."""
    last_by_spelling = {occurrence.spelling: occurrence.value for occurrence in flags.given(name)}
    if len(set(last_by_spelling.values())) > 1:
        raise invalid_args("parse arguments", message)


def _owner_id(flags: ParsedFlags, name: str) -> int:
    value = flags.integer(name)
    if value < 0:  # Go accepts it, but no tar header can carry it
        raise invalid_args(f"parse {flags.origin(name)}", f"{value} is negative")
    return value


def reference_from(text: str, what: str) -> Reference:
    try:
        return parse_reference(text)
    except ReferenceError as err:
        raise invalid_args(f"parse {what}", err) from None


def optional_reference(flags: ParsedFlags, name: str) -> Reference | None:
    text = flags.string(name)
    return reference_from(text, flags.origin(name)) if text else None


def absolute(text: str, cwd: Path) -> Path:
    """``cwd``-relative paths made absolute and cleaned, as Go's ``filepath.Abs`` does."""
    return Path(os.path.normpath(cwd / text))


def optional_path(flags: ParsedFlags, name: str, cwd: Path) -> Path | None:
    text = flags.string(name)
    return absolute(text, cwd) if text else None


def path_or(flags: ParsedFlags, name: str, default: Path, cwd: Path) -> Path:
    return optional_path(flags, name, cwd) or absolute(str(default), cwd)
