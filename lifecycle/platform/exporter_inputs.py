"""The exporter's flags and inputs (the shared part is :mod:`lifecycle.platform.inputs`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from lifecycle.image.index import Platform
from lifecycle.image.mutate import NORMALIZED_TIME
from lifecycle.platform import api
from lifecycle.platform.api import Features
from lifecycle.platform.exits import invalid_args
from lifecycle.platform.flags import FlagSet, ParsedFlags, bool_flag, string_flag
from lifecycle.platform.inputs import (
    IMAGES_SYNOPSIS,
    OWNER_FLAGS,
    PREVIOUS_IMAGE_FLAG,
    RUN_IMAGE_FLAG,
    TARGET_AND_LOG_FLAGS,
    SharedInputs,
    WithShared,
    absolute,
    check_alias_conflict,
    optional_path,
    optional_reference,
    parse_for_api,
    path_or,
    resolve_shared,
)
from lifecycle.record import record, replace
from lifecycle.reference import Reference

DEFAULT_STACK_PATHS = (Path("/buildpacks/stack.toml"), Path("/cnb/stack.toml"))
DEFAULT_RUN_PATH = Path("/cnb/run.toml")
DEFAULT_LAUNCHER_SBOM_DIR = Path("/cnb/lifecycle")
DEFAULT_EXEC_ENV = "production"
NO_CACHE_WARNING = "Will not cache data, no cache flag specified."
"""Logged by the exporter once its inputs proved valid, so that it never precedes an input
error."""
LAUNCH_CACHE_WARNING = "Ignoring -launch-cache, only intended for use with -daemon"


@record
class ExporterInputs(WithShared):
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


EXPORTER_FLAGS = FlagSet("exporter", IMAGES_SYNOPSIS, (
    RUN_IMAGE_FLAG, PREVIOUS_IMAGE_FLAG, *TARGET_AND_LOG_FLAGS, *OWNER_FLAGS,
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


def resolve_exporter_inputs(argv: Sequence[str], environ: Mapping[str, str],
                            cwd: Path) -> ExporterInputs:
    """Resolve the exporter's argv and environment; relative paths are taken from ``cwd``.

    Raises :class:`EarlyExit` for ``-h``, ``-version`` and flag syntax errors, and
    :class:`LifecycleError` (exit 3, or 11 for ``CNB_PLATFORM_API``) for invalid inputs.
    """
    flags, platform_api = parse_for_api(EXPORTER_FLAGS, argv, environ)
    shared = resolve_shared(flags, platform_api, cwd)
    features = shared.features
    warnings = list(shared.warnings)
    check_alias_conflict(flags, "stack", "supply only one of -mirrors or -stack")

    layers_dir = absolute(flags.string("layers"), cwd)
    group_default = layers_dir / "group.toml"
    if not group_default.exists() and (cwd / "group.toml").exists():
        group_default = cwd / "group.toml"  # where platforms before 0.5 put it
    stack_default = next((path for path in DEFAULT_STACK_PATHS if path.exists()),
                         DEFAULT_STACK_PATHS[0])

    launch_cache_dir = optional_path(flags, "launch-cache", cwd)
    if launch_cache_dir is not None and not shared.target.daemon:
        warnings.append(LAUNCH_CACHE_WARNING)
        launch_cache_dir = None
    cache_dir = optional_path(flags, "cache-dir", cwd)
    cache_image = optional_reference(flags, "cache-image")
    created = _created(environ, features, warnings)
    if flags.boolean("index") and shared.target.daemon:
        raise invalid_args("parse arguments", "-index cannot be used with -daemon: the Docker "
                           "daemon stores no image index")

    return ExporterInputs(
        shared=replace(shared, warnings=tuple(warnings)),
        stack_path=path_or(flags, "stack", stack_default, cwd),
        run_path=path_or(flags, "run", DEFAULT_RUN_PATH, cwd),
        layers_dir=layers_dir,
        app_dir=absolute(flags.string("app"), cwd),
        group_path=path_or(flags, "group", group_default, cwd),
        analyzed_path=path_or(flags, "analyzed", layers_dir / "analyzed.toml", cwd),
        launcher_path=absolute(flags.string("launcher"), cwd),
        report_path=path_or(flags, "report", layers_dir / "report.toml", cwd),
        project_metadata_path=path_or(flags, "project-metadata",
                                       layers_dir / "project-metadata.toml", cwd),
        process_type=flags.string("process-type") or None,
        cache_dir=cache_dir,
        cache_image=cache_image,
        launch_cache_dir=launch_cache_dir,
        extended_dir=path_or(flags, "extended", layers_dir / "extended", cwd),
        launcher_sbom_dir=path_or(flags, "launcher-sbom", DEFAULT_LAUNCHER_SBOM_DIR, cwd),
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
        from datetime import UTC, datetime  # only a build that sets SOURCE_DATE_EPOCH needs it

        try:
            created = datetime.fromtimestamp(int(text), UTC)
        except (OverflowError, OSError, ValueError):
            pass  # outside what a timestamp can express: as invalid as a non-number
        else:
            return created.isoformat(timespec="seconds").replace("+00:00", "Z")
    warnings.append("Ignoring invalid SOURCE_DATE_EPOCH")
    return NORMALIZED_TIME
