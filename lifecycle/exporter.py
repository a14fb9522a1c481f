"""The exporter phase: run image + buildpack, app, launcher and config layers → app image.

Order of work, so that a bad input can never leave a half-made image behind:
1. read and validate every local input (group, metadata, layer tomls, project metadata,
   analyzed.toml);
2. choose the run image (explained), read it and the previous image's label;
3. plan every layer (a stat-only walk), then build the ones whose fingerprint changed (tar →
   sha256 → gzip → temp file, streamed, in parallel; uploads may start while writing);
4. compose the image with pure transforms and hand it to the backend, which writes every
   blob before any name points at the new manifest;
5. write report.toml atomically; then the launch cache, the build cache (a failure there is
   a warning) and the layer fingerprints.

Steps 3 and the caches of step 5 are their own modules: :mod:`lifecycle.exportlayers` and
:mod:`lifecycle.exportcaches`.

Started as root with a build user (CNB_USER_ID/CNB_GROUP_ID), every step that reads the
build's files or writes ours runs as that user (:mod:`lifecycle.privileges`).
"""

from __future__ import annotations

import functools
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, closing
from pathlib import Path
from typing import Any

from lifecycle import (
    __version__,
    backends,
    fingerprints,
    multiplatform,
    platformimage,
    privileges,
    progress,
    sbom,
)
from lifecycle.backends.base import (
    AccessDenied,
    BackendError,
    ImageNotFound,
    ImageStore,
)
from lifecycle.cli import open_target, run_phase
from lifecycle.exportcaches import export_cache, keep_launch_layers, open_launch_cache
from lifecycle.exportlayers import (
    BuildpackLayers,
    LayerBuilder,
    LayerPlanner,
    LayerPlans,
    PlannedLayer,
    PreviousImage,
)
from lifecycle.extended import extended_run_image
from lifecycle.image import mutate
from lifecycle.image.index import Platform
from lifecycle.image.model import Image, Layer, StoredImage
from lifecycle.image.platforms import MissingPlatform
from lifecycle.log import get_logger
from lifecycle.parallel import export_image_and_cache
from lifecycle.platform import files
from lifecycle.platform.api import Features
from lifecycle.platform.exits import ExitCode, LifecycleError, invalid_args
from lifecycle.platform.exporter_inputs import (
    DEFAULT_LAUNCHER_SBOM_DIR,
    NO_CACHE_WARNING,
    ExporterInputs,
    resolve_exporter_inputs,
)
from lifecycle.record import record, replace
from lifecycle.reference import ReferenceError, parse_reference
from lifecycle.runimage import choose_run_image, names_contain, same_repository
from lifecycle.saving import report_and_check, save_image

LAUNCHER_IN_IMAGE = "/cnb/lifecycle/launcher"
# Beside this module; in the release binaries, whose one folder is flat
# (release/build_dist.py), beside the executable's other files.
BUNDLED_LAUNCHER = Path(getattr(sys, "_MEIPASS", Path(__file__).parent)) / "launcher.sh"


def main(argv: Sequence[str] | None = None) -> int:
    return run_phase(argv, resolve_exporter_inputs, lambda inputs: inputs.log, export)


@record
class LocalInputs:
    """Everything the exporter reads from disk, validated before any image work starts."""

    buildpacks: tuple[BuildpackLayers, ...]
    build: files.BuildMetadata
    project: dict[str, Any]
    launcher: Path
    launcher_info: files.LauncherInfo
    entrypoint: Entrypoint
    analyzed: files.Analyzed | None
    run_images: RunImageFile
    build_bom: tuple[dict[str, Any], ...]   # report.toml [build] bom (platform API 0.5-0.8)


@record
class RunImage:
    """The run image the app is built on: as read, the name it was chosen by and why."""

    stored: StoredImage
    name: str
    reason: str
    recorded: files.RunImageMetadata   # canonical image + mirrors for the label
    extended: Image | None = None      # the run image as extensions extended it (0.12 on)

    @property
    def base(self) -> Image:
        """What the app image is built on."""
        return self.extended or self.stored.image


def export(inputs: ExporterInputs) -> None:
    logger = get_logger()
    for warning in inputs.warnings:
        logger.warning(warning)
    # Nothing can be imported once running as the build's user (privileges).
    files.import_every_format()
    backends.import_ahead(first_request_as_user=inputs.cache_image is not None)
    as_user = functools.partial(privileges.as_user, inputs.uid, inputs.gid)
    try:
        privileges.ensure_owner(inputs.uid, inputs.gid, inputs.cache_dir,
                                inputs.launch_cache_dir)
    except OSError as err:
        logger.warning(f"Cannot prepare the cache directories: {err.strerror or err}")
    with as_user():
        if inputs.features.lifecycle_sboms:
            copy_lifecycle_sboms(inputs)
        local = read_local_inputs(inputs)
    with closing(open_target(inputs.target, "export", ExitCode.EXPORT_FAILED)) as store:
        export_to(store, inputs, local, as_user)


def export_to(store: ImageStore, inputs: ExporterInputs, local: LocalInputs,
              as_user: Callable[[], AbstractContextManager[None]]) -> None:
    target = platformimage.export_platform(inputs.platform, local.analyzed, inputs.features)
    run_image = resolve_run_image(inputs, store, local, target)
    analyzed = local.analyzed.run_image if local.analyzed is not None else None
    if inputs.features.extended_run_image and analyzed is not None and analyzed.extend:
        with as_user():
            extended = extended_run_image(inputs.extended_dir, run_image.stored.image)
        get_logger().info(f"Using the extended run image in '{inputs.extended_dir}' "
                          f"({len(extended.layers) - len(run_image.stored.image.layers)} "
                          "extension layer(s))")
        run_image = replace(run_image, extended=extended)
    if inputs.cache_dir is None and inputs.cache_image is None:
        get_logger().warning(NO_CACHE_WARNING)   # the inputs are valid: now it is news
    previous = read_previous_label(inputs, store, local.analyzed, target.platform)

    with as_user():
        if not (inputs.layers_dir / "config").is_dir():
            (inputs.layers_dir / "config").mkdir()
        plans = LayerPlanner(inputs, previous).plan(local.buildpacks, local.build, local.launcher)
        known = fingerprints.LayerFingerprints.load(inputs.layers_dir)
        workdir = Path(tempfile.mkdtemp(prefix="cnb-export-"))
    try:
        with progress.show_transfers(inputs.log.format == "console"):
            stager = store.blob_stager(inputs.images)
            with as_user():
                launch_cache = open_launch_cache(inputs)
                builder = LayerBuilder(workdir, store.compress_layers, previous, known, stager,
                                       launch_cache)
                try:
                    built = builder.build(plans.in_order())
                finally:
                    if stager is not None:
                        stager.finish()
            image, label = compose(inputs, local, run_image, plans, built.layers)
            # The app's manifest annotations are ours, never the run image's own.
            image = mutate.set_base_annotations(replace(image, annotations={}), run_image.name,
                                                run_image.stored.digest)

            def save_and_keep_launch_layers() -> None:
                save(inputs, store, image, run_image, label, local)
                if launch_cache is not None:
                    with as_user():
                        keep_launch_layers(launch_cache, built.layers.values())

            def cache_as_user() -> dict[str, fingerprints.Recorded]:
                with as_user():
                    return export_cache(inputs, local.buildpacks, store, known, workdir)

            cached = export_image_and_cache(
                save_and_keep_launch_layers, cache_as_user,
                parallel=inputs.parallel and inputs.features.parallel_export,
                needs_root=needs_root_to_save(inputs),
                as_user=as_user if privileges.switching(inputs.uid, inputs.gid) else None)
            with as_user():
                known.save({**built.fingerprints, **cached})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# -- 1. local inputs -------------------------------------------------------------------------

def copy_lifecycle_sboms(inputs: ExporterInputs) -> None:
    """The lifecycle's and the launcher's SBOM files into ``<layers>/sbom`` (0.11 on)."""
    try:
        sbom.copy_lifecycle_sboms(inputs.layers_dir, inputs.launcher_sbom_dir,
                                  DEFAULT_LAUNCHER_SBOM_DIR)
    except OSError as err:
        raise LifecycleError(f"copy the launcher's SBOM files from '{inputs.launcher_sbom_dir}'",
                             err.strerror or err, ExitCode.EXPORT_FAILED) from None


def read_local_inputs(inputs: ExporterInputs) -> LocalInputs:
    for what, directory in (("layers", inputs.layers_dir), ("app", inputs.app_dir)):
        if not directory.is_dir():
            raise invalid_args(f"read {what} directory '{directory}'", "not a directory")
    group = files.read_group(inputs.group_path)
    buildpacks = tuple(
        BuildpackLayers(entry, inputs.layers_dir / entry.escaped_id,
                        files.read_buildpack_layers(inputs.layers_dir / entry.escaped_id, entry.id),
                        files.read_store(inputs.layers_dir / entry.escaped_id))
        for entry in group)
    build = files.read_build_metadata(inputs.layers_dir / "config" / "metadata.toml")
    launcher = launcher_file(inputs)
    return LocalInputs(
        buildpacks=buildpacks,
        build=build,
        project=files.read_project_metadata(inputs.project_metadata_path),
        launcher=launcher,
        launcher_info=launcher_info(launcher),
        entrypoint=entrypoint_for(inputs.process_type, build, inputs.features),
        analyzed=files.read_analyzed(inputs.analyzed_path),
        run_images=read_run_image_file(inputs),
        build_bom=tuple(entry for bp in buildpacks if inputs.features.report_build_bom
                        for entry in files.read_build_bom(bp.directory, bp.entry.id,
                                                          bp.entry.version)),
    )


def launcher_file(inputs: ExporterInputs) -> Path:
    """The launcher to put at /cnb/lifecycle/launcher.

    Outside a builder image the default path does not exist; the bundled POSIX-sh launcher
    is used then, so that an export works with nothing else installed.
    """
    if inputs.launcher_path.is_file():
        return inputs.launcher_path
    if inputs.launcher_path == Path(LAUNCHER_IN_IMAGE):
        get_logger().debug(f"No launcher at {LAUNCHER_IN_IMAGE}; using the bundled launcher")
        return BUNDLED_LAUNCHER
    raise invalid_args(f"read launcher '{inputs.launcher_path}'", "not a file")


@record
class Entrypoint:
    """The app image's entry point, in the platform API's form."""

    path: str                       # the image's single ENTRYPOINT
    process_type_env: str | None    # CNB_PROCESS_TYPE for the launcher (platform API 0.3)


def launcher_info(launcher: Path) -> files.LauncherInfo:
    """What the build label says of the launcher in the image: ours, or what the
    ``launcher.toml`` beside another launcher says, else nothing (an unknown launcher)."""
    if launcher == BUNDLED_LAUNCHER or _same_bytes(launcher, BUNDLED_LAUNCHER):
        return files.LauncherInfo(__version__, "cnb-lifecycle")
    described = files.read_launcher_info(launcher.with_name("launcher.toml"))
    if described is None:
        get_logger().debug(f"No launcher.toml beside '{launcher}': the build label names no "
                           "launcher version")
    return described or files.LauncherInfo()


def _same_bytes(first: Path, second: Path) -> bool:
    try:
        return first.stat().st_size == second.stat().st_size and \
            first.read_bytes() == second.read_bytes()
    except OSError:
        return False


def entrypoint_for(process_type: str | None, build: files.BuildMetadata,
                   features: Features) -> Entrypoint:
    """The entry point each platform API asks for: the launcher with ``CNB_PROCESS_TYPE``
    (0.3); ``/cnb/process/<type>`` for ``-process-type``, else the only process (0.4, 0.5);
    ``-process-type`` (unknown: a failure), else metadata.toml's default (0.6 on)."""
    types = [process.type for process in build.processes]
    logger = get_logger()
    if process_type and process_type not in types:
        if features.buildpack_default_process or not features.process_entrypoints:
            raise LifecycleError("export", f"tried to set {process_type} to default but it "
                                 f"doesn't exist (processes: {types})", ExitCode.EXPORT_FAILED)
        logger.warning(f"Process type '{process_type}' does not exist (processes: {types}); "
                       "not setting it as the default")
        process_type = None
    if process_type:
        logger.info(f"Setting default process type '{process_type}'")
        if not features.process_entrypoints:
            return Entrypoint(LAUNCHER_IN_IMAGE, process_type)
        return Entrypoint(f"/cnb/process/{process_type}", None)
    default = build.default_process_type if features.buildpack_default_process else \
        types[0] if features.process_entrypoints and len(types) == 1 else ""
    if default:
        return Entrypoint(f"/cnb/process/{default}", None)
    logger.info("no default process type")
    return Entrypoint(LAUNCHER_IN_IMAGE, None)


# -- 2. run image and previous image ---------------------------------------------------------

@record
class RunImageFile:
    """run.toml (platform API 0.12 on) or stack.toml (before): the run images a builder
    offers, each with its mirrors."""

    path: Path
    what: str                                           # "run file" or "stack file"
    key: str                                            # where the file names an image
    images: tuple[files.RunImageMetadata, ...] | None   # None: the file does not exist

    def names_for(self, name: str) -> files.RunImageMetadata:
        """The entry that has ``name`` as its image or a mirror, else the first entry."""
        entries = self.images or ()
        matching = [entry for entry in entries if name and names_contain(entry.candidates, name)]
        return (matching or [*entries, files.RunImageMetadata()])[0]

    def why_empty(self) -> str:
        if self.images is None:
            return f"{self.what} '{self.path}' does not exist"
        return f"{self.what} '{self.path}' has no '{self.key}'"


def read_run_image_file(inputs: ExporterInputs) -> RunImageFile:
    if inputs.features.run_toml:
        return RunImageFile(inputs.run_path, "run file", "[[images]] image",
                            files.read_run(inputs.run_path))
    stack = files.read_stack(inputs.stack_path)
    return RunImageFile(inputs.stack_path, "stack file", "[run-image] image",
                        None if stack is None else (stack,) if stack.image else ())


_IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{64}")


def resolve_run_image(inputs: ExporterInputs, store: ImageStore, local: LocalInputs,
                      wanted: platformimage.TargetPlatform) -> RunImage:
    """The run image: named by analyzed.toml from platform API 0.7 (an explicit run image
    must agree), else given explicitly, else chosen from the run or stack file's image and
    mirrors by the target registry (our mirror selection, at every version); of an index,
    the child for the ``wanted`` platform."""
    logger = get_logger()
    names = local.run_images
    analyzed = local.analyzed.run_image if local.analyzed is not None and \
        inputs.features.exporter_run_image_from_analyzed else None
    if analyzed is not None:
        check_explicit_run_image(inputs, analyzed)
        name = analyzed_run_image_name(analyzed, inputs.target.kind)
        reason = f"named by '{inputs.analyzed_path}' ([run-image] reference)"
        recorded = names.names_for(analyzed.image or name)
        logger.info(f"Using run image '{name}' ({reason})", kind="run-image.given",
                    run_image=name, reason=reason)
    elif inputs.run_image:
        name, reason = inputs.run_image, f"given with {inputs.shared.run_image_origin}"
        recorded = names.names_for(name)
        logger.info(f"Using run image '{name}' ({reason})", kind="run-image.given",
                    run_image=name, reason=reason)
    else:
        recorded = names.names_for("")
        if not recorded.image:
            unnamed = (f"; '{inputs.analyzed_path}' names no run image ([run-image] reference)"
                       if inputs.features.exporter_run_image_from_analyzed else "")
            raise invalid_args("parse arguments", "-run-image is required when there is no "
                               f"run image metadata available: {names.why_empty()}{unnamed}")
        choice = choose_run_image(recorded.candidates, inputs.images[0].registry,
                                  store.check_read_access, f"'{names.path}'",
                                  ExitCode.INVALID_ARGS,
                                  logger.bind(image=str(inputs.images[0])))
        assert choice.image is not None
        name, reason = choice.image, choice.reason
    say = logger.info if wanted.asked else logger.debug
    say(f"Exporting for platform {wanted.platform} ({wanted.reason})")
    try:
        stored = platformimage.read_for_platform(store, parse_reference(name), wanted.platform,
                                                 check_single=wanted.asked)
    except ReferenceError as err:
        raise invalid_args(f"parse run image '{name}'", err) from None
    except (ImageNotFound, AccessDenied, MissingPlatform) as err:
        raise invalid_args(f"access run image '{name}'", err) from None
    except BackendError as err:
        raise LifecycleError(f"access run image '{name}'", err, ExitCode.EXPORT_FAILED) from None
    return RunImage(stored, name, reason, recorded)


def analyzed_run_image_name(analyzed: files.AnalyzedRunImage, target_kind: str) -> str:
    """What to read: the reference the analyzer resolved (a digest reference, or an image ID
    in the daemon), unless it is a path into a layout, which is read by its name."""
    if target_kind == "layout" and analyzed.image:
        return analyzed.image
    return analyzed.reference


def check_explicit_run_image(inputs: ExporterInputs, analyzed: files.AnalyzedRunImage) -> None:
    """From platform API 0.7 the run image is analyzed.toml's; a run image also given with a
    flag or CNB_RUN_IMAGE must be the same image (any tag or digest of its repository)."""
    explicit = inputs.run_image
    named = [text for text in (analyzed.image, analyzed.reference)
             if text and not _IMAGE_ID.fullmatch(text)]
    if not explicit or not named or any(same_repository(explicit, text) for text in named):
        return
    raise invalid_args(
        "resolve inputs",
        f"'{inputs.analyzed_path}' names the run image '{named[0]}' but "
        f"{inputs.shared.run_image_origin} names '{explicit}'; from platform API 0.7 the run "
        f"image comes from analyzed.toml, so give {inputs.shared.run_image_origin} the same "
        "image or leave it out")


def read_previous_label(inputs: ExporterInputs, store: ImageStore,
                        analyzed: files.Analyzed | None,
                        platform: Platform) -> PreviousImage | None:
    """The previous image (for layer reuse), or None on a first build.

    It is ``-previous-image``, else the image analyzed.toml names, else the output image;
    of an index, the child for ``platform``.
    Reuse is decided on analyzed.toml's ``[metadata]`` when the analyzer left one (as the
    lifecycle does), else on the previous image's own label.
    """
    logger = get_logger()
    if analyzed is None:
        logger.debug(f"No analyzed TOML file at '{inputs.analyzed_path}'")
    ref = inputs.previous_image or inputs.images[0]
    if inputs.previous_image is None and analyzed and analyzed.image_reference:
        try:
            ref = parse_reference(analyzed.image_reference)
        except ReferenceError as err:
            logger.warning(f"Not reusing layers from the analyzed image "
                           f"'{analyzed.image_reference}': {err}")
            return None
    try:
        stored = platformimage.read_for_platform(store, ref, platform, check_single=False)
    except (ImageNotFound, MissingPlatform) as err:
        logger.debug(f"No previous image '{ref}' ({err}); nothing to reuse")
        return None
    except BackendError as err:
        logger.warning(f"Not reusing layers from '{ref}': {err}")
        return None
    if analyzed is not None and analyzed.label is not None:
        label = analyzed.label
    else:
        text = stored.image.labels.get(files.LIFECYCLE_LABEL)
        if text is None:
            return None
        try:
            label = files.LifecycleLabel.parse(text, str(ref))
        except LifecycleError as err:
            logger.warning(f"Not reusing layers from '{ref}': {err.message}")
            return None
    logger.info(f"Reusing layers from image '{stored.reference}'", kind="previous-image.found",
                image=stored.reference)
    return PreviousImage(stored.image, label)


# -- 4. compose ------------------------------------------------------------------------------

def compose(inputs: ExporterInputs, local: LocalInputs, run_image: RunImage,
            plans: LayerPlans, built: dict[PlannedLayer, Layer]
            ) -> tuple[Image, dict[str, Any]]:
    """The lifecycle label and the app image, with pure transforms, from the built layers."""
    def sha(planned: PlannedLayer | None) -> str:
        return built[planned].diff_id if planned else ""

    buildpacks = [
        files.buildpack_entry(buildpack.entry.id, buildpack.entry.version,
                              {meta.name: meta.to_json(sha(planned)) for meta, planned in layers},
                              buildpack.store)
        for buildpack, layers in plans.buildpacks]
    app_reused = sum(1 for planned in plans.app if sha(planned) in planned.previous_shas)
    get_logger().info(f"Reused {app_reused}/{len(plans.app)} app layer(s)")
    get_logger().info(f"Added {len(plans.app) - app_reused}/{len(plans.app)} app layer(s)")

    base = run_image.base
    features = inputs.features
    label = files.lifecycle_label(
        features, app=[sha(planned) for planned in plans.app], sbom=sha(plans.sbom) or None,
        buildpacks=buildpacks, config=sha(plans.config), launcher=sha(plans.launcher),
        process_types=sha(plans.process_types),
        run_image=files.RecordedRunImage(run_image.stored.image.top_layer,
                                         run_image.stored.reference,
                                         run_image.recorded),
        exec_env=inputs.exec_env)
    build_label = files.build_label(
        features,
        buildpacks=[{"id": bp.entry.id, "version": bp.entry.version,
                     **({"homepage": bp.entry.homepage} if bp.entry.homepage else {})}
                    for bp in local.buildpacks],
        processes=local.build.processes,
        default_process_type=local.build.default_process_type, bom=local.build.bom,
        launcher=local.launcher_info)
    labels = {files.LIFECYCLE_LABEL: files.labels_json(label),
              files.BUILD_LABEL: files.labels_json(build_label),
              files.PROJECT_LABEL: files.labels_json(local.project),
              **dict(local.build.labels)}
    if features.exec_env and inputs.exec_env:
        labels[files.EXEC_ENV_LABEL] = inputs.exec_env
    for key in labels:
        get_logger().debug(f"Adding label '{key}'")

    base_path = mutate.env_value(base, "PATH")
    image = mutate.append_layers(
        base, [(built[planned], planned.history) for planned in plans.in_order()],
        inputs.created)
    env = {
        "CNB_LAYERS_DIR": str(inputs.layers_dir),
        "CNB_APP_DIR": str(inputs.app_dir),
        "CNB_PLATFORM_API": inputs.platform_api,
        "CNB_DEPRECATION_MODE": "quiet",
        "PATH": "/cnb/process:/cnb/lifecycle" + (f":{base_path}" if base_path else ""),
    }
    if local.entrypoint.process_type_env:
        env["CNB_PROCESS_TYPE"] = local.entrypoint.process_type_env
    image = mutate.set_env(image, env)
    image = mutate.set_runtime_config(
        image, Entrypoint=[local.entrypoint.path], Cmd=None,
        **({"WorkingDir": str(inputs.app_dir)} if features.working_dir_is_app else {}))
    image = mutate.set_labels(image, labels)
    if not features.history:
        image = mutate.without_history_texts(image)
    return mutate.set_created(image, inputs.created), label


# -- 5. save and report ----------------------------------------------------------------------

def save(inputs: ExporterInputs, store: ImageStore, image: Image, run_image: RunImage,
         label: dict[str, Any], local: LocalInputs) -> None:
    index = None
    if inputs.index:
        result, index = multiplatform.save_into_indexes(
            store, image, inputs.images, inputs.image_names, run_image.stored.reference)
    else:
        result = save_image(store, image, inputs.images, inputs.image_names, "export",
                            ExitCode.EXPORT_FAILED)
    with privileges.as_user(inputs.uid, inputs.gid):
        report_and_check(inputs.report_path, result, inputs.images, inputs.image_names,
                         {"image": run_image.name, "reference": label["runImage"]["reference"],
                          "reason": run_image.reason}, "export", ExitCode.EXPORT_FAILED,
                         inputs.features, local.build_bom, index)


def needs_root_to_save(inputs: ExporterInputs) -> str | None:
    """Why saving the image needs root's IDs, if it does (see :mod:`lifecycle.parallel`)."""
    if inputs.target.daemon:
        return "the Docker socket is root's, and the cache is written as the build's user"
    if inputs.target.layout_dir is not None:
        return "the layout directory is root's, and the cache is written as the build's user"
    return None


if __name__ == "__main__":
    sys.exit(main())
