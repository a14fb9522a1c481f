"""``rebase-many``: rebase a fleet of app images concurrently, each exactly as ``rebaser`` would.

    rebase-many [flags] <image-list-file | ->

Every image gets the rebaser's mirror selection from its label, or the given ``-run-image``,
and the rebaser's checks at the platform API in ``CNB_PLATFORM_API``. The images share one
store, so one connection pool, and a run image is read (and its access checked) once for the
whole batch. One line per image and a summary are printed; a failed image does not stop the
others, and the command exits 72 if any failed. ``-report`` writes every image's outcome to a
TOML file, atomically.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

from lifecycle import interrupts
from lifecycle.backends.base import BackendError, ImageStore
from lifecycle.backends.shared import SharedReads
from lifecycle.causes import describe
from lifecycle.cli import open_target, run_phase
from lifecycle.log import get_logger, item_logger
from lifecycle.platform import files
from lifecycle.platform.exits import ExitCode, LifecycleError, one_line
from lifecycle.platform.rebase_many_inputs import RebaseManyInputs, resolve_rebase_many_inputs
from lifecycle.rebaser import RebaseRequest, rebase_image
from lifecycle.record import record
from lifecycle.reference import ReferenceError, parse_reference
from lifecycle.saving import failure


def main(argv: Sequence[str] | None = None) -> int:
    return run_phase(argv, resolve_rebase_many_inputs, lambda inputs: inputs.log, rebase_many)


@record
class Outcome:
    """What became of one image of the list: its new digest and run image, or its error."""

    name: str
    digest: str = ""
    run_image: str = ""
    error: str = ""
    platforms: tuple[dict[str, str], ...] = ()   # an app index: per platform, old and new

    def to_report(self) -> dict[str, Any]:
        entry = {"name": self.name, "status": "failed" if self.error else "rebased",
                 "digest": self.digest, "run-image": self.run_image, "error": self.error,
                 "platforms": list(self.platforms)}
        return {key: value for key, value in entry.items() if value}


def rebase_one(store: ImageStore, name: str, inputs: RebaseManyInputs) -> Outcome:
    """Rebase one image of the list; every problem becomes its Outcome's error."""
    try:
        ref = parse_reference(name)
    except ReferenceError as err:
        return Outcome(name, error=f"failed to parse image '{name}': {err}")
    request = RebaseRequest(app=ref, images=(ref,), names=(name,), run_image=inputs.run_image,
                            force=inputs.force, features=inputs.features)
    try:
        rebased = rebase_image(store, request, item_logger(name))
    except LifecycleError as err:
        return Outcome(name, error=err.message)
    except BackendError as err:
        return Outcome(name, error=f"failed to rebase: {one_line(str(err))}")
    except Exception as err:  # noqa: BLE001 - one image's surprise must not stop the fleet
        return Outcome(name, error=f"failed to rebase: {describe(err)}")
    cause = failure(rebased.result, name, ref)
    if cause:
        return Outcome(name, error=f"failed to write image: {cause}")
    return Outcome(name, rebased.result.digest or rebased.result.image_id,
                   rebased.run_image["image"],
                   platforms=tuple((rebased.index or {}).get("platforms", ())))


def rebase_many(inputs: RebaseManyInputs) -> None:
    logger = get_logger()
    for warning in inputs.warnings:
        logger.warning(warning)
    names = files.read_image_list(inputs.image_list, sys.stdin)
    unique = list(dict.fromkeys(names))
    if len(unique) < len(names):
        logger.warning(f"{len(names) - len(unique)} duplicate image name(s) in the list: "
                       "each image is rebased once")
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    with closing(SharedReads(open_target(inputs.target, "rebase", ExitCode.REBASE_FAILED,
                                         connections=inputs.jobs),
                             inputs.run_image)) as store, \
            ThreadPoolExecutor(max_workers=inputs.jobs, thread_name_prefix="rebase") as pool:
        futures = [pool.submit(rebase_one, store, name, inputs) for name in unique]
        for done in interrupts.as_completed(futures):
            outcome = done.result()
            outcomes.append(outcome)
            if outcome.error:
                logger.error(f"{outcome.name}: {outcome.error}", kind="rebase.image",
                             image=outcome.name, status="failed", reason=outcome.error)
            else:
                platforms = f", {len(outcome.platforms)} platforms" if outcome.platforms else ""
                logger.info(f"{outcome.name}: rebased onto '{outcome.run_image}' "
                            f"({outcome.digest}{platforms})", kind="rebase.image",
                            image=outcome.name, status="rebased", digest=outcome.digest,
                            run_image=outcome.run_image, platforms=list(outcome.platforms))
    seconds = time.perf_counter() - started
    failed = sum(1 for outcome in outcomes if outcome.error)
    logger.info(f"Rebased {len(outcomes) - failed} of {len(outcomes)} image(s) in "
                f"{seconds:.2f} s ({len(outcomes) / max(seconds, 1e-9):.1f} images/s)"
                + (f"; {failed} failed" if failed else ""),
                kind="rebase.summary", rebased=len(outcomes) - failed, failed=failed,
                seconds=round(seconds, 3))
    if inputs.report_path is not None:
        order = {name: index for index, name in enumerate(unique)}
        ordered = sorted(outcomes, key=lambda outcome: order[outcome.name])
        try:
            files.write_rebase_summary(inputs.report_path,
                                       [outcome.to_report() for outcome in ordered])
        except OSError as err:
            raise LifecycleError(f"write rebase report '{inputs.report_path}'",
                                 err.strerror or err, ExitCode.REBASE_FAILED) from None
    if failed:
        raise LifecycleError("rebase", f"{failed} of {len(outcomes)} image(s) could not be "
                             "rebased (see above)", ExitCode.REBASE_FAILED)


if __name__ == "__main__":
    sys.exit(main())
