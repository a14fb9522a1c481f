"""The rebaser phase: put an app image's layers onto a new run image without rebuilding.

Scenario 1 (no run-image flag): the run image and mirrors recorded in the app image's
``io.buildpacks.lifecycle.metadata`` label are the candidates, selected by the app image's
registry exactly as the exporter selects. Scenario 2 (``-run-image x``): ``x`` is used, and
the label afterwards records ``x`` as the run image (lifecycle#1098).

Only manifests and configs are read; layers stay where they are (the backend mounts or
already has them), so a rebase costs the same for a 1 MiB and a 1 GiB app.

An app index is rebased child by child, each onto the new run image's image for its platform
with every check of a single rebase (:mod:`lifecycle.multiplatform`); the children are
written first and the new index last, so a platform the new run image lacks, or any other
failure, leaves the tag as it was.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from structlog.typing import FilteringBoundLogger

from lifecycle import multiplatform, progress
from lifecycle.backends import open_store
from lifecycle.backends.base import BackendError, ImageStore
from lifecycle.cli import run_phase
from lifecycle.image import mutate
from lifecycle.image.index import IndexProblem, Platform, StoredIndex
from lifecycle.image.model import Image, SaveResult, StoredImage
from lifecycle.image.platforms import DEFAULT_PLATFORM
from lifecycle.log import get_logger
from lifecycle.platform import files
from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.platform.inputs import RebaserInputs, resolve_rebaser_inputs
from lifecycle.reference import Reference, ReferenceError, parse_reference
from lifecycle.runimage import select_run_image
from lifecycle.saving import report_and_check, save_image, save_with

SYNCED_LABEL_PREFIXES = ("io.buildpacks.stack.", "io.buildpacks.base.")


def main(argv: Sequence[str] | None = None) -> int:
    return run_phase(argv, resolve_rebaser_inputs, lambda inputs: inputs.log, rebase)


def fail(action: str, cause: object) -> LifecycleError:
    return LifecycleError(action, str(cause), ExitCode.REBASE_FAILED)


def rebase(inputs: RebaserInputs) -> None:
    logger = get_logger()
    for warning in inputs.warnings:
        logger.warning(warning)
    with closing(open_store(inputs.target)) as store, \
            progress.show_transfers(inputs.log.format == "console"):  # the daemon may send layers
        rebased = rebase_image(store, RebaseRequest(
            app=inputs.previous_image or inputs.images[0], images=inputs.images,
            names=inputs.image_names, run_image=inputs.run_image, force=inputs.force), logger)
    report_and_check(inputs.report_path, rebased.result, inputs.images, inputs.image_names,
                     rebased.run_image, "rebase", ExitCode.REBASE_FAILED, rebased.index)


@dataclass(frozen=True)
class RebaseRequest:
    """One rebase: the app image to read, the names to write, and the run image if given."""

    app: Reference
    images: tuple[Reference, ...]
    names: tuple[str, ...]
    run_image: str | None
    force: bool


@dataclass(frozen=True)
class Rebased:
    result: SaveResult
    run_image: dict[str, str]   # image, reference, reason: report.toml's [run-image]
    index: dict[str, Any] | None = None   # for an app index: report.toml's per-platform part


def rebase_image(store: ImageStore, request: RebaseRequest, logger: FilteringBoundLogger
                 ) -> Rebased:
    """Read, check, rebase and save one app image, or every child of an app index (written
    before the new index); raises LifecycleError (exit 72)."""
    try:
        app = store.read_index(request.app)
    except BackendError as err:
        raise fail(f"access image to rebase '{request.app}'", err) from None
    if isinstance(app, StoredIndex):
        return rebase_app_index(store, app, request, logger)
    wanted = Platform.of_image(app.image)
    image, run_image = rebase_onto(store, app, request,
                                   wanted if wanted.architecture else DEFAULT_PLATFORM, logger)
    result = save_image(store, image, request.images, request.names, "rebase",
                        ExitCode.REBASE_FAILED, logger)
    return Rebased(result, run_image)


def rebase_app_index(store: ImageStore, app: StoredIndex, request: RebaseRequest,
                     logger: FilteringBoundLogger) -> Rebased:
    def rebase_child(shared: ImageStore, child: StoredImage, platform: Platform,
                     child_logger: FilteringBoundLogger) -> tuple[Image, dict[str, str]]:
        return rebase_onto(shared, child, request, platform, child_logger)

    try:
        planned, images, run_image = multiplatform.plan_rebase(
            store, request.app, app, request.names[0], request.run_image, rebase_child, logger)
    except IndexProblem as err:
        raise fail(f"rebase '{request.app}'", err) from None
    result = save_with(lambda: store.write_index(planned.index, images, request.images),
                       request.images, request.names, "rebase", ExitCode.REBASE_FAILED, logger)
    planned.log(logger, request.names, result.digest)
    return Rebased(result, run_image, planned.to_report(result))


def rebase_onto(store: ImageStore, app: StoredImage, request: RebaseRequest,
                platform: Platform, logger: FilteringBoundLogger
                ) -> tuple[Image, dict[str, str]]:
    """``app`` (an image, or one child of an index) checked and rebased onto the new run
    image's image for ``platform``; nothing is written."""
    label = app_label(app, request.app)
    run_name, reason = choose_run_image(request, store, label, logger)
    try:
        new_base = multiplatform.read_for_platform(store, parse_reference(run_name), platform,
                                                   check_single=False)
    except ReferenceError as err:
        raise fail(f"parse run image '{run_name}'", err) from None
    except IndexProblem as err:
        raise fail("rebase", err) from None
    except BackendError as err:
        raise fail(f"access run image '{run_name}'", err) from None

    check_compatible(app.image, new_base.image, request.force, logger)
    image = rebased_image(app.image, label, new_base, run_name, logger)
    return image, {"image": run_name, "reference": new_base.reference, "reason": reason}


def app_label(app: StoredImage, ref: Reference) -> files.LifecycleLabel:
    text = app.image.labels.get(files.LIFECYCLE_LABEL)
    if text is None:
        raise fail(f"rebase '{ref}'", f"image has no label '{files.LIFECYCLE_LABEL}': "
                   "it was not built by a buildpacks lifecycle")
    label = files.LifecycleLabel.parse(text, str(ref))
    if not label.top_layer:
        raise fail(f"rebase '{ref}'", f"label '{files.LIFECYCLE_LABEL}' has no runImage.topLayer")
    return label


def choose_run_image(request: RebaseRequest, store: ImageStore, label: files.LifecycleLabel,
                     logger: FilteringBoundLogger) -> tuple[str, str]:
    app_ref = request.app
    if request.run_image:
        reason = "given with -run-image"
        logger.info(f"Using run image '{request.run_image}' ({reason})")
        return request.run_image, reason
    recorded = label.run_image()
    if not recorded.image:
        raise fail("set app image", "-run-image is required when there is no run image "
                   f"metadata available in '{app_ref}'")
    logger.info(f"Selecting run image for registry '{app_ref.registry}' from the app image's "
                f"label ({len(recorded.candidates)} candidates):")
    choice = select_run_image(recorded.candidates, app_ref.registry, store.check_read_access)
    for line in choice.explanation():
        logger.info(line)
    if choice.image is None:
        raise fail("select run image", f"no run image is readable: {choice.rejections()}")
    logger.info(f"Selected run image '{choice.image}': {choice.reason}")
    return choice.image, choice.reason


def check_compatible(app: Image, new_base: Image, force: bool,
                     logger: FilteringBoundLogger) -> None:
    """Stack id, os/arch and rebasable checks; ``-force`` turns each into a warning."""
    problems = []
    app_stack, base_stack = (app.labels.get(files.STACK_ID_LABEL),
                             new_base.labels.get(files.STACK_ID_LABEL))
    if app_stack and base_stack and app_stack != base_stack:
        problems.append(f"incompatible stack: '{base_stack}' is not compatible with '{app_stack}'")
    if (app.os, app.architecture) != (new_base.os, new_base.architecture):
        problems.append(f"unable to satisfy target os/arch constraints; new run image: "
                        f"{new_base.os}/{new_base.architecture}, old run image: "
                        f"{app.os}/{app.architecture}")
    if app.labels.get(files.REBASABLE_LABEL) == "false":
        problems.append("app image is not marked as rebasable")
    for problem in problems:
        if not force:
            raise fail("rebase", f"{problem}; please provide -force to override")
        logger.warning(f"{problem}; continuing because of -force")


def recorded_contains(recorded: files.RunImageMetadata, name: str) -> bool:
    """Whether ``name`` is the recorded image or a mirror (tag matters, digest ignored)."""
    def key(text: str) -> tuple[str, str, str] | None:
        try:
            ref = parse_reference(text)
        except ReferenceError:
            return None
        return ref.registry, ref.repository_str, ref.tag or "latest"

    wanted = key(name)
    return wanted is not None and any(key(c) == wanted for c in recorded.candidates)


def rebased_image(app: Image, label: files.LifecycleLabel, new_base: StoredImage,
                  run_name: str, logger: FilteringBoundLogger) -> Image:
    try:
        image = mutate.rebase(app, label.top_layer, new_base.image)
    except mutate.RebaseError as err:
        raise fail("rebase", err) from None

    recorded = label.run_image()
    new_record = None
    if not recorded_contains(recorded, run_name):
        new_record = files.RunImageMetadata(run_name)
        logger.warning(
            f"new run image '{run_name}' is not among the recorded run image and mirrors "
            f"{list(recorded.candidates)}; recording '{run_name}' as the run image")
    document = label.with_run_image(new_base.image.top_layer, new_base.reference, new_record)
    synced = {k: v for k, v in new_base.image.labels.items()
              if k.startswith(SYNCED_LABEL_PREFIXES)}
    synced[files.LIFECYCLE_LABEL] = files.labels_json(document)
    image = mutate.set_labels(image, synced, remove_prefixes=SYNCED_LABEL_PREFIXES)
    image = mutate.set_base_annotations(image, run_name, new_base.digest)
    return mutate.set_created(image, mutate.NORMALIZED_TIME)


if __name__ == "__main__":
    sys.exit(main())
