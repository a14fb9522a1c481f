"""``rebase-many``'s flags and inputs (the shared part is :mod:`lifecycle.platform.inputs`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from lifecycle.platform.exits import invalid_args
from lifecycle.platform.flags import FlagSet, int_flag, string_flag
from lifecycle.platform.inputs import (
    FORCE_FLAG,
    RUN_IMAGE_FLAG,
    TARGET_AND_LOG_FLAGS,
    SharedInputs,
    WithShared,
    absolute,
    ignored_layout_dir,
    log_settings_from,
    optional_path,
    parse_for_api,
    run_image_from,
    target_from,
)
from lifecycle.record import record


@record
class RebaseManyInputs(WithShared):
    """Everything ``rebase-many`` needs: the image list and what applies to every image."""

    shared: SharedInputs
    image_list: str                   # a file path, or "-" for standard input
    force: bool
    jobs: int                         # images rebased at once, over one connection pool
    report_path: Path | None          # a TOML summary of every image, if asked for


DEFAULT_REBASE_JOBS = 16
MAX_REBASE_JOBS = 256

REBASE_MANY_FLAGS = FlagSet("rebase-many", "[flags] <image-list-file | ->", (
    RUN_IMAGE_FLAG, *TARGET_AND_LOG_FLAGS, FORCE_FLAG,
    int_flag("jobs", f"images to rebase at once (1-{MAX_REBASE_JOBS}; default "
             f"{DEFAULT_REBASE_JOBS})", "CNB_REBASE_JOBS"),
    string_flag("report", "where to write a TOML summary of every image",
                default_text="none"),
))


def resolve_rebase_many_inputs(argv: Sequence[str], environ: Mapping[str, str],
                               cwd: Path) -> RebaseManyInputs:
    """Resolve ``rebase-many``'s argv and environment; errors as for the rebaser."""
    flags, platform_api = parse_for_api(REBASE_MANY_FLAGS, argv, environ)
    log = log_settings_from(flags)
    target = target_from(flags, cwd)
    warnings = ignored_layout_dir(flags)
    if len(flags.positionals) != 1:
        raise invalid_args("parse arguments", "exactly one image list (a file, or - for "
                           f"standard input) is required, got {len(flags.positionals)}")
    jobs = flags.integer("jobs") or DEFAULT_REBASE_JOBS
    if not 1 <= jobs <= MAX_REBASE_JOBS:
        raise invalid_args(f"parse {flags.origin('jobs')}",
                           f"{jobs} is not between 1 and {MAX_REBASE_JOBS}")
    image_list = flags.positionals[0]
    return RebaseManyInputs(
        shared=SharedInputs(platform_api, target, log, *run_image_from(flags), warnings=warnings),
        image_list=image_list if image_list == "-" else str(absolute(image_list, cwd)),
        force=flags.boolean("force"),
        jobs=jobs,
        report_path=optional_path(flags, "report", cwd),
    )
