"""Saving an image under all its names and reporting it: shared by exporter and rebaser.

The output lines follow the lifecycle's (``*** Images (<id>):`` then one line per name, with
`` - <cause>`` for a name that failed), and report.toml lists only the names that were saved.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from lifecycle import progress
from lifecycle.backends.base import BackendError, ImageStore
from lifecycle.checking import TYPE_CHECKING
from lifecycle.image.model import Image, SaveResult
from lifecycle.log import Logger, get_logger
from lifecycle.platform import files
from lifecycle.platform.api import Features
from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.reference import Reference

if TYPE_CHECKING:
    from typing import Any


def save_image(store: ImageStore, image: Image, refs: Sequence[Reference],
               names: Sequence[str], action: str, code: ExitCode,
               logger: Logger | None = None) -> SaveResult:
    return save_with(lambda: store.write(image, refs), refs, names, action, code, logger)


def save_with(write: Callable[[], SaveResult], refs: Sequence[Reference],
              names: Sequence[str], action: str, code: ExitCode,
              logger: Logger | None = None) -> SaveResult:
    """Save by ``write`` (an image, or an index of images) and print the lifecycle's lines."""
    logger = logger or get_logger()
    for name in names:
        logger.info(f"Saving {name}...", kind="image.saving", image=name)
    started = time.monotonic()
    try:
        result = write()
    except BackendError as err:
        raise LifecycleError(action, err, code) from None
    identity = result.digest or result.image_id
    logger.info(f"*** Images ({result.digest or result.image_id.removeprefix('sha256:')[:12]}):",
                kind="image.written", digest=identity,
                bytes=progress.sent_total(),    # this run's blobs, early uploads included
                seconds=round(time.monotonic() - started, 3))
    for name, ref in zip(names, refs, strict=True):
        cause = failure(result, name, ref)
        logger.info(f"      {name}" + (f" - {cause}" if cause else ""), kind="image.named",
                    image=name, digest=identity, status="failed" if cause else "saved",
                    **({"reason": cause} if cause else {}))
    if result.image_id:
        logger.debug(f"*** Image ID: {result.image_id.removeprefix('sha256:')}")
    if result.digest:
        logger.debug(f"*** Digest: {result.digest}")
    if result.manifest_size:
        logger.debug(f"*** Manifest Size: {result.manifest_size}")
    return result


def failure(result: SaveResult, name: str, ref: Reference) -> str | None:
    return result.failed.get(name) or result.failed.get(str(ref))


def report_and_check(report_path: Path, result: SaveResult, refs: Sequence[Reference],
                     names: Sequence[str], run_image: Mapping[str, Any], action: str,
                     code: ExitCode, features: Features,
                     build_bom: Sequence[Mapping[str, Any]] = (),
                     index: Mapping[str, Any] | None = None) -> None:
    """Write report.toml (atomically) in the shape of the platform API, then fail if any
    name could not be saved.

    ``index`` adds what an index write changed to ``[image]`` (per platform, the old and new
    child digests)."""
    saved = [name for name, ref in zip(names, refs, strict=True)
             if failure(result, name, ref) is None]
    image: dict[str, Any] = {"tags": saved}
    if result.digest:
        image["digest"] = result.digest
    if result.image_id:
        image["image-id"] = result.image_id.removeprefix("sha256:")
    if result.manifest_size and features.report_manifest_size:
        image["manifest-size"] = result.manifest_size
    image.update(index or {})
    try:
        files.write_report(report_path, image, run_image,
                           build_bom if features.report_build_bom else None)
    except OSError as err:
        raise LifecycleError(f"write {action} report '{report_path}'", err.strerror or err,
                             code) from None
    if len(saved) < len(names):
        failures = ",".join(f"[{name}: {failure(result, name, ref)}]"
                            for name, ref in zip(names, refs, strict=True) if name not in saved)
        raise LifecycleError(action, f"failed to write image to the following tags: {failures}",
                             code)
