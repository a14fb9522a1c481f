"""The rebaser phase: put an app image's layers onto a new run image without rebuilding.

Without a run image given, the run image and mirrors recorded in the app image's
``io.buildpacks.lifecycle.metadata`` label are the candidates, selected by the app image's
registry exactly as the exporter selects. With ``-run-image x``, ``x`` is used, and the label
afterwards records ``x`` as the run image (lifecycle#1098); from platform API 0.12 an ``x`` in
none of the recorded repositories needs ``-force``. The compatibility checks are those of the
platform API that built the app.

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

from lifecycle import platformimage, progress
from lifecycle.backends.base import BackendError, ImageStore
from lifecycle.checking import TYPE_CHECKING
from lifecycle.cli import open_target, run_phase
from lifecycle.image import mutate
from lifecycle.image.index import IndexChild, IndexProblem, Platform, StoredIndex
from lifecycle.image.model import Image, SaveResult, StoredImage
from lifecycle.image.platforms import DEFAULT_PLATFORM
from lifecycle.jsonio import labels_json, loads_json
from lifecycle.log import Logger, get_logger
from lifecycle.platform import files
from lifecycle.platform.api import DEFAULT, Features, PlatformAPI, features_for
from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.platform.rebaser_inputs import RebaserInputs, resolve_rebaser_inputs
from lifecycle.record import record
from lifecycle.reference import Reference, ReferenceError, parse_reference
from lifecycle.runimage import choose_run_image, names_contain, same_repository
from lifecycle.saving import report_and_check, save_with

if TYPE_CHECKING:
    from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    return run_phase(argv, resolve_rebaser_inputs, lambda inputs: inputs.log, rebase)


def fail(action: str, cause: object) -> LifecycleError:
    return LifecycleError(action, str(cause), ExitCode.REBASE_FAILED)


def rebase(inputs: RebaserInputs) -> None:
    logger = get_logger()
    for warning in inputs.warnings:
        logger.warning(warning)
    with closing(open_target(inputs.target, "rebase", ExitCode.REBASE_FAILED)) as store, \
            progress.show_transfers(inputs.log.format == "console"):  # the daemon may send layers
        rebased = rebase_image(store, RebaseRequest(
            app=inputs.previous_image or inputs.images[0], images=inputs.images,
            names=inputs.image_names, run_image=inputs.run_image, force=inputs.force,
            features=inputs.features), logger)
    report_and_check(inputs.report_path, rebased.result, inputs.images, inputs.image_names,
                     rebased.run_image, "rebase", ExitCode.REBASE_FAILED, inputs.features,
                     index=rebased.index)


@record
class RebaseRequest:
    """One rebase: the app image to read, the names to write, and the run image if given."""

    app: Reference
    images: tuple[Reference, ...]
    names: tuple[str, ...]
    run_image: str | None
    force: bool
    features: Features      # of the rebaser's platform API


@record
class Rebased:
    """What a rebase saved, and what report.toml says of it."""

    result: SaveResult
    run_image: dict[str, str]   # image, reference, reason: report.toml's [run-image]
    index: dict[str, Any] | None = None   # for an app index: report.toml's per-platform part


def rebase_image(store: ImageStore, request: RebaseRequest, logger: Logger
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
    # A rebased config is new wherever it goes, unless this very rebase was made before:
    # sent without asking first, it costs one request less in all other cases.
    result = save_with(lambda: store.write(image, request.images, new_configs=True),
                       request.images, request.names, "rebase", ExitCode.REBASE_FAILED, logger)
    return Rebased(result, run_image)


def rebase_app_index(store: ImageStore, app: StoredIndex, request: RebaseRequest,
                     logger: Logger) -> Rebased:
    from lifecycle import multiplatform  # with its thread pool: only an app index needs it

    def rebase_child(shared: ImageStore, child: IndexChild,
                     child_logger: Logger) -> tuple[Image, dict[str, str]]:
        assert child.platform is not None
        try:
            image = shared.read_child(request.app, child)
        except BackendError as err:
            raise fail(f"access image to rebase '{request.app}' ({child.platform})",
                       err) from None
        return rebase_onto(shared, image, request, child.platform, child_logger)

    try:
        planned, images, run_image = multiplatform.plan_rebase(
            store, request.app, app, request.names[0], request.run_image, rebase_child, logger)
    except IndexProblem as err:
        raise fail(f"rebase '{request.app}'", err) from None
    result = save_with(lambda: store.write_index(planned.index, images, request.images,
                                                 new_configs=True),
                       request.images, request.names, "rebase", ExitCode.REBASE_FAILED, logger)
    planned.log(logger, request.names, result.digest)
    return Rebased(result, run_image, planned.to_report(result))


def rebase_onto(store: ImageStore, app: StoredImage, request: RebaseRequest,
                platform: Platform, logger: Logger
                ) -> tuple[Image, dict[str, str]]:
    """``app`` (an image, or one child of an index) checked and rebased onto the new run
    image's image for ``platform``; nothing is written."""
    label = app_label(app, request.app)
    run_name, reason = run_image_for(request, store, label, logger)
    try:
        new_base = platformimage.read_for_platform(store, parse_reference(run_name), platform,
                                                    check_single=False)
    except ReferenceError as err:
        raise fail(f"parse run image '{run_name}'", err) from None
    except IndexProblem as err:
        raise fail("rebase", err) from None
    except BackendError as err:
        raise fail(f"access run image '{run_name}'", err) from None

    overrides = Overrides(request.force, request.features.rebase_force, logger)
    check_compatible(app.image, new_base.image, overrides)
    recorded = recorded_run_image(label.run_image(), run_name, request, overrides)
    image = rebased_image(app.image, label, new_base, recorded, request.features)
    image = mutate.set_base_annotations(image, run_name, new_base.digest)
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


def run_image_for(request: RebaseRequest, store: ImageStore, label: files.LifecycleLabel,
                  logger: Logger) -> tuple[str, str]:
    """The given run image, else the one chosen from the label's image and mirrors."""
    if request.run_image:
        reason = "given with -run-image"
        logger.info(f"Using run image '{request.run_image}' ({reason})", kind="run-image.given",
                    image=str(request.app), run_image=request.run_image, reason=reason)
        return request.run_image, reason
    recorded = label.run_image()
    if not recorded.image:
        raise fail("set app image", "-run-image is required when there is no run image "
                   f"metadata available in '{request.app}'")
    choice = choose_run_image(recorded.candidates, request.app.registry,
                              store.check_read_access, "the app image's label",
                              ExitCode.REBASE_FAILED, logger.bind(image=str(request.app)))
    assert choice.image is not None
    return choice.image, choice.reason


@record
class Overrides:
    """``-force``: each refused check becomes a warning, where the platform API has it."""

    force: bool
    available: bool          # the rebaser's platform API defines -force
    logger: Logger

    def refuse(self, problem: str) -> None:
        if self.force:
            self.logger.warning(f"{problem}; continuing because of -force")
            return
        hint = "please provide -force to override" if self.available else \
            "platform API 0.12 and later can override this with -force"
        raise fail("rebase", f"{problem}; {hint}")


def built_with(app: Image) -> Features:
    """The features of the platform API that built the app (its CNB_PLATFORM_API); an app
    that does not say is checked as the oldest versions check."""
    try:
        return features_for(PlatformAPI.parse(mutate.env_value(app, "CNB_PLATFORM_API") or ""))
    except ValueError:
        return features_for(DEFAULT)


def check_compatible(app: Image, new_base: Image, overrides: Overrides) -> None:
    """The checks of the platform API that built the app: below 0.12 stack id and mixins,
    from 0.12 target data; os/arch and ``io.buildpacks.rebasable=false`` at every version."""
    problems = (target_problems(app, new_base) if built_with(app).target_checks
                else stack_problems(app, new_base) + os_arch_problems(app, new_base))
    if app.labels.get(files.REBASABLE_LABEL) == "false":
        problems.append("app image is not marked as rebasable")
    for problem in problems:
        overrides.refuse(problem)


def stack_problems(app: Image, new_base: Image) -> list[str]:
    app_stack = app.labels.get(files.STACK_ID_LABEL, "")
    base_stack = new_base.labels.get(files.STACK_ID_LABEL, "")
    if not app_stack:
        return [f"stack not defined on app image (no label '{files.STACK_ID_LABEL}')"]
    if not base_stack:
        return [f"stack not defined on new base image (no label '{files.STACK_ID_LABEL}')"]
    if app_stack != base_stack:
        return [f"incompatible stack: '{base_stack}' is not compatible with '{app_stack}'"]
    missing = sorted(mixins(app) - mixins(new_base))
    return [f"missing required mixin(s): {', '.join(missing)}"] if missing else []


def mixins(image: Image) -> set[str]:
    """``io.buildpacks.stack.mixins`` without stage prefixes; a malformed list is none."""
    text = image.labels.get(files.MIXINS_LABEL)
    try:
        listed = loads_json(text) if text else []
    except ValueError:
        listed = []
    if not isinstance(listed, list):
        return set()
    return {str(name).removeprefix("build:").removeprefix("run:") for name in listed}


def os_arch_problems(app: Image, new_base: Image) -> list[str]:
    if (app.os, app.architecture) == (new_base.os, new_base.architecture):
        return []
    return [f"unable to satisfy target os/arch constraints; new run image: "
            f"{new_base.os}/{new_base.architecture}, old run image: {app.os}/{app.architecture}"]


def target_of(image: Image) -> dict[str, str]:
    distro = {key: image.labels[label] for key, label in (
        ("name", files.DISTRO_NAME_LABEL), ("version", files.DISTRO_VERSION_LABEL))
        if label in image.labels}
    target = {"os": image.os, "arch": image.architecture,
              "arch-variant": str(image.config.get("variant") or "")}
    return {**target, **{f"distro.{key}": value for key, value in distro.items()}}


def target_problems(app: Image, new_base: Image) -> list[str]:
    """Targets as the spec compares them: os and arch equal, a variant only if both have
    one, and each distro field the new base names equal to the app's."""
    old, new = target_of(app), target_of(new_base)
    satisfied = old["os"] == new["os"] and old["arch"] == new["arch"] and \
        (not old["arch-variant"] or not new["arch-variant"]
         or old["arch-variant"] == new["arch-variant"]) and \
        all(old.get(key) == value for key, value in new.items()
            if key.startswith("distro.") and value)
    if satisfied:
        return []
    return [f"unable to satisfy target os/arch constraints; new run image: "
            f"{labels_json(new)}, old run image: {labels_json(old)}"]


def recorded_run_image(recorded: files.RunImageMetadata, run_name: str, request: RebaseRequest,
                       overrides: Overrides) -> files.RunImageMetadata | None:
    """The names the label should record afterwards; None keeps what it records.

    A run image among the recorded image and mirrors changes nothing. Another one is
    recorded as the image, mirrors emptied. From platform API 0.12 that needs ``-force`` if
    it is in another repository; another tag or digest of a recorded repository needs none
    (a deliberate difference from the spec, which wants ``-force`` for a plain tag bump).
    """
    if names_contain(recorded.candidates, run_name):
        return None
    listed = list(recorded.candidates)
    logger = overrides.logger
    if request.features.rebase_name_check:
        if any(same_repository(run_name, name) for name in recorded.candidates):
            logger.info(f"New run image '{run_name}' is another tag or digest of the recorded "
                        f"run image {listed}; recording '{run_name}' as the run image",
                        kind="run-image.recorded", run_image=run_name)
            return files.RunImageMetadata(run_name)
        overrides.refuse(f"new run image '{run_name}' is in none of the repositories of the "
                         f"recorded run image and mirrors {listed}")
    if not request.features.rebase_name_check or not request.force:
        logger.warning(f"new run image '{run_name}' is not among the recorded run image and "
                       f"mirrors {listed}; recording '{run_name}' as the run image",
                       kind="run-image.recorded", run_image=run_name)
    else:
        logger.info(f"Recording '{run_name}' as the run image", kind="run-image.recorded",
                    run_image=run_name)
    return files.RunImageMetadata(run_name)


def rebased_image(app: Image, label: files.LifecycleLabel, new_base: StoredImage,
                  recorded: files.RunImageMetadata | None, features: Features) -> Image:
    try:
        image = mutate.rebase(app, label.top_layer, new_base.image)
    except mutate.RebaseError as err:
        raise fail("rebase", err) from None
    document = label.with_run_image(new_base.image.top_layer, new_base.reference, recorded,
                                    features)
    synced = {k: v for k, v in new_base.image.labels.items()
              if k.startswith(files.RUN_IMAGE_LABEL_PREFIXES)}
    synced[files.LIFECYCLE_LABEL] = files.labels_json(document)
    image = mutate.set_labels(image, synced, remove_prefixes=files.RUN_IMAGE_LABEL_PREFIXES)
    if not built_with(app).history:
        image = mutate.without_history_texts(image)
    return mutate.set_created(image, mutate.NORMALIZED_TIME)


if __name__ == "__main__":
    sys.exit(main())
