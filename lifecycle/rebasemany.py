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
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import closing
from dataclasses import dataclass
from typing import Any, TypeVar

from lifecycle.backends import open_store
from lifecycle.backends.base import Access, BackendError, ImageStore
from lifecycle.cli import run_phase
from lifecycle.image.model import Image, SaveResult, StoredImage
from lifecycle.log import get_logger, item_logger
from lifecycle.platform import files
from lifecycle.platform.exits import ExitCode, LifecycleError, one_line
from lifecycle.platform.inputs import RebaseManyInputs, resolve_rebase_many_inputs
from lifecycle.rebaser import RebaseRequest, rebase_image
from lifecycle.reference import Reference, ReferenceError, parse_reference
from lifecycle.saving import failure

T = TypeVar("T")


def main(argv: Sequence[str] | None = None) -> int:
    return run_phase(argv, resolve_rebase_many_inputs, lambda inputs: inputs.log, rebase_many)


class SharedReads:
    """The batch's store: what is shared between images (run images and their access checks)
    is asked of the backend once, even when many jobs ask at the same moment. App images
    are read straight through, so memory does not grow with the fleet."""

    def __init__(self, store: ImageStore, run_image: str | None) -> None:
        self._store = store
        self.kind, self.compress_layers = store.kind, store.compress_layers
        self._lock = threading.Lock()
        self._shared = {run_image} if run_image else set()
        self._reads: dict[str, Future[StoredImage]] = {}
        self._access: dict[str, Future[Access]] = {}

    def check_read_access(self, ref: Reference) -> Access:
        with self._lock:
            self._shared.add(str(ref))
        return self._once(self._access, str(ref), lambda: self._store.check_read_access(ref))

    def read(self, ref: Reference) -> StoredImage:
        with self._lock:
            shared = str(ref) in self._shared
        if not shared:
            return self._store.read(ref)
        return self._once(self._reads, str(ref), lambda: self._store.read(ref))

    def blob_stager(self, refs: Sequence[Reference]) -> None:
        return None  # a rebase writes only a config and a manifest

    def close(self) -> None:
        self._store.close()

    def write(self, image: Image, refs: Sequence[Reference]) -> SaveResult:
        return self._store.write(image, refs)

    def _once(self, answers: dict[str, Future[T]], key: str, ask: Callable[[], T]) -> T:
        with self._lock:
            answer = answers.get(key)
            owner = answer is None
            if answer is None:
                answer = answers[key] = Future()
        if owner:
            try:
                answer.set_result(ask())
            except Exception as err:  # noqa: BLE001 - every waiter, this one too, raises it
                answer.set_exception(err)
        return answer.result()


@dataclass(frozen=True)
class Outcome:
    name: str
    digest: str = ""
    run_image: str = ""
    error: str = ""

    def to_report(self) -> dict[str, Any]:
        entry = {"name": self.name, "status": "failed" if self.error else "rebased",
                 "digest": self.digest, "run-image": self.run_image, "error": self.error}
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
        return Outcome(name, error=f"failed to rebase: {type(err).__name__}: "
                                   f"{one_line(str(err))}")
    cause = failure(rebased.result, name, ref)
    if cause:
        return Outcome(name, error=f"failed to write image: {cause}")
    return Outcome(name, rebased.result.digest or rebased.result.image_id,
                   rebased.run_image["image"])


def rebase_many(inputs: RebaseManyInputs) -> None:
    logger = get_logger()
    names = files.read_image_list(inputs.image_list, sys.stdin)
    unique = list(dict.fromkeys(names))
    if len(unique) < len(names):
        logger.warning(f"{len(names) - len(unique)} duplicate image name(s) in the list: "
                       "each image is rebased once")
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    with closing(SharedReads(open_store(inputs.target, connections=inputs.jobs),
                             inputs.run_image)) as store, \
            ThreadPoolExecutor(max_workers=inputs.jobs, thread_name_prefix="rebase") as pool:
        futures = [pool.submit(rebase_one, store, name, inputs) for name in unique]
        for done in as_completed(futures):
            outcome = done.result()
            outcomes.append(outcome)
            if outcome.error:
                logger.error(f"{outcome.name}: {outcome.error}", image=outcome.name,
                             status="failed")
            else:
                logger.info(f"{outcome.name}: rebased onto '{outcome.run_image}' "
                            f"({outcome.digest})", image=outcome.name, status="rebased",
                            digest=outcome.digest, run_image=outcome.run_image)
    seconds = time.perf_counter() - started
    failed = sum(1 for outcome in outcomes if outcome.error)
    logger.info(f"Rebased {len(outcomes) - failed} of {len(outcomes)} image(s) in "
                f"{seconds:.2f} s ({len(outcomes) / max(seconds, 1e-9):.1f} images/s)"
                + (f"; {failed} failed" if failed else ""),
                rebased=len(outcomes) - failed, failed=failed, seconds=round(seconds, 3))
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
