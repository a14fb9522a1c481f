"""The flags and inputs of ``inspect-image`` and ``layout-add``, the tools beside the phases
(the shared part is :mod:`lifecycle.platform.inputs`). No platform runs them, so they take
every flag at every platform API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from lifecycle.platform.exits import ExitCode, invalid_args
from lifecycle.platform.flags import Flag, FlagSet, ParsedFlags, UsageExit, bool_flag, string_flag
from lifecycle.platform.inputs import (
    TARGET_AND_LOG_FLAGS,
    VERSION_TEXT,
    EarlyExit,
    LogSettings,
    Target,
    ignored_layout_dir,
    log_settings_from,
    optional_path,
    reference_from,
    target_from,
)
from lifecycle.record import record
from lifecycle.reference import Reference

# -- inspect-image ---------------------------------------------------------------------------

@record
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
    return tuple(flag for flag in TARGET_AND_LOG_FLAGS if flag.name in names)


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
    return flags, log_settings_from(flags)


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
    target = target_from(flags, cwd)
    if len(flags.positionals) != 1:
        raise invalid_args("parse arguments",
                           f"exactly one image is required, got {len(flags.positionals)}")
    name = flags.positionals[0]
    image = reference_from(name, "image argument")
    registry = image.registry
    if flags.string("registry"):
        # Spelled as references spell it ("docker.io" is "index.docker.io").
        registry = reference_from(f"{flags.string('registry')}/any/repository",
                              "-registry").registry
    return InspectInputs(image=image, image_name=name, registry=registry,
                         json=flags.boolean("json"), target=target, log=log,
                         warnings=ignored_layout_dir(flags))


# -- layout-add ------------------------------------------------------------------------------

@record
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
    layout_dir = optional_path(flags, "layout-dir", cwd)
    if layout_dir is None:
        raise invalid_args("parse arguments", "-layout-dir is required")
    if not 1 <= len(flags.positionals) <= 2:
        raise invalid_args("parse arguments", "an image, and optionally the name to give it in "
                           f"the layout, are required, got {len(flags.positionals)} arguments")
    source = reference_from(flags.positionals[0], "image argument")
    name = reference_from(flags.positionals[-1], "name in the layout")
    return LayoutAddInputs(
        source=source, name=name, layout_dir=layout_dir,
        source_target=Target(daemon=flags.boolean("daemon"),
                             insecure_registries=frozenset(flags.strings("insecure-registry"))),
        log=log)
