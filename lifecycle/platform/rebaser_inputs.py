"""The rebaser's flags and inputs (the shared part is :mod:`lifecycle.platform.inputs`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from lifecycle.platform import api
from lifecycle.platform.flags import FlagSet, string_flag
from lifecycle.platform.inputs import (
    FORCE_FLAG,
    IMAGES_SYNOPSIS,
    OWNER_FLAGS,
    PREVIOUS_IMAGE_FLAG,
    RUN_IMAGE_FLAG,
    TARGET_AND_LOG_FLAGS,
    SharedInputs,
    WithShared,
    absolute,
    parse_for_api,
    path_or,
    resolve_shared,
)
from lifecycle.record import record


@record
class RebaserInputs(WithShared):
    """Everything the rebaser needs from its command line and environment."""

    shared: SharedInputs
    report_path: Path
    force: bool


REBASER_FLAGS = FlagSet("rebaser", IMAGES_SYNOPSIS, (
    RUN_IMAGE_FLAG, *TARGET_AND_LOG_FLAGS, *OWNER_FLAGS,
    PREVIOUS_IMAGE_FLAG.bounded(since=api.since("rebase_previous_image")),
    string_flag("report", "where to write report.toml", "CNB_REPORT_PATH",
                default_text="<$CNB_LAYERS_DIR or /layers>/report.toml"),
    FORCE_FLAG,
))


def resolve_rebaser_inputs(argv: Sequence[str], environ: Mapping[str, str],
                           cwd: Path) -> RebaserInputs:
    """Resolve the rebaser's argv and environment; errors as for the exporter."""
    flags, platform_api = parse_for_api(REBASER_FLAGS, argv, environ)
    shared = resolve_shared(flags, platform_api, cwd)
    # The rebaser has no -layers flag, but its report default still follows CNB_LAYERS_DIR.
    layers_dir = absolute(environ.get("CNB_LAYERS_DIR") or "/layers", cwd)
    return RebaserInputs(
        shared=shared,
        report_path=path_or(flags, "report", layers_dir / "report.toml", cwd),
        force=flags.boolean("force"),
    )
