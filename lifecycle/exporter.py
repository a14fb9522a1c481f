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

Started as root with a build user (CNB_USER_ID/CNB_GROUP_ID), every step that reads the
build's files or writes ours runs as that user (:mod:`lifecycle.privileges`).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lifecycle import (
    __version__,
    archive,
    backends,
    buildcache,
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
    BlobStager,
    ImageNotFound,
    ImageStore,
)
from lifecycle.cli import open_target, run_phase
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
from lifecycle.reference import ReferenceError, parse_reference
from lifecycle.runimage import choose_run_image, names_contain, same_repository
from lifecycle.saving import report_and_check, save_image

LAUNCHER_ID = "buildpacksio/lifecycle:launcher"
CONFIG_ID = "buildpacksio/lifecycle:config"
PROCESS_TYPES_ID = "buildpacksio/lifecycle:process-types"
LAUNCHER_IN_IMAGE = "/cnb/lifecycle/launcher"
# Beside this module; in the release binaries, whose one folder is flat
# (release/build_dist.py), beside the executable's other files.
BUNDLED_LAUNCHER = Path(getattr(sys, "_MEIPASS", Path(__file__).parent)) / "launcher.sh"


def main(argv: Sequence[str] | None = None) -> int:
    return run_phase(argv, resolve_exporter_inputs, lambda inputs: inputs.log, export)


@dataclass(frozen=True)
class BuildpackLayers:
    """One buildpack of the group with the layer metadata it left."""

    entry: files.GroupEntry
    directory: Path
    layers: tuple[files.LayerMetadata, ...]
    store: dict[str, Any] | None


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
    backends.import_ahead()
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
        plans = LayerPlanner(inputs, previous).plan(local)
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
                    return export_cache(inputs, local, store, known, workdir)

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


@dataclass(frozen=True)
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

@dataclass(frozen=True)
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


@dataclass(frozen=True)
class PreviousImage:
    """The previous app image and its lifecycle label, whose layers may be reused."""

    image: Image
    label: files.LifecycleLabel


# -- 3. layers -------------------------------------------------------------------------------

@dataclass(eq=False, frozen=True)
class PlannedLayer:
    """One layer of the app image before its bytes exist: its entries, or a layer of the
    previous image to reuse as is (a launch layer whose contents the buildpack left out)."""

    layer_id: str                   # as logged: "<buildpack>:<layer>", "slice-<n>", ...
    history: str
    previous_shas: frozenset[str]   # diffIDs of the previous image it may be reused from
    plan: archive.LayerPlan | None = None
    reused: Layer | None = None


@dataclass(frozen=True)
class LayerPlans:
    """Every layer the exporter adds, in image order, with what the label needs of each."""

    buildpacks: tuple[tuple[BuildpackLayers, tuple[tuple[files.LayerMetadata, PlannedLayer],
                                                   ...]], ...]
    app: tuple[PlannedLayer, ...]
    launcher: PlannedLayer
    config: PlannedLayer
    process_types: PlannedLayer | None
    sbom: PlannedLayer | None = None   # <layers>/sbom/launch (0.8 on), after the buildpacks'

    def in_order(self) -> list[PlannedLayer]:
        return [*(planned for _, layers in self.buildpacks for _, planned in layers),
                *([self.sbom] if self.sbom else []), *self.app, self.launcher, self.config,
                *([self.process_types] if self.process_types else [])]


class LayerPlanner:
    """Reads the trees of every layer (stat only, no contents) and what each may reuse."""

    def __init__(self, inputs: ExporterInputs, previous: PreviousImage | None) -> None:
        self.inputs, self.previous = inputs, previous

    def _warn_skipped(self, path: Path, why: str) -> None:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        get_logger().warning(f"Skipping '{shown}': {why}")

    def _previous_sha(self, key: str) -> frozenset[str]:
        sha = self.previous.label.sha(key) if self.previous else None
        return frozenset({sha}) if sha else frozenset()

    def plan(self, local: LocalInputs) -> LayerPlans:
        inputs = self.inputs
        try:
            return LayerPlans(
                buildpacks=tuple((bp, self.buildpack(bp)) for bp in local.buildpacks),
                app=self.app(local.build.slices),
                launcher=PlannedLayer(LAUNCHER_ID, "Buildpacks Application Launcher",
                                      self._previous_sha("launcher"),
                                      archive.launcher_plan(local.launcher)),
                config=PlannedLayer(CONFIG_ID, "Buildpacks Launcher Config",
                                    self._previous_sha("config"),
                                    archive.dir_plan(inputs.layers_dir / "config", inputs.uid,
                                                     inputs.gid, self._warn_skipped)),
                process_types=self.process_types(local.build.processes),
                sbom=self.launch_sbom())
        except archive.ArchiveError as err:
            raise LifecycleError("export", err, ExitCode.EXPORT_FAILED) from None

    def buildpack(self, buildpack: BuildpackLayers
                  ) -> tuple[tuple[files.LayerMetadata, PlannedLayer], ...]:
        entry, planned = buildpack.entry, []
        for meta in buildpack.layers:
            if not meta.launch:
                continue
            layer_id = f"{entry.id}:{meta.name}"
            history = f"Layer: '{meta.name}', Created by buildpack: {entry.id}@{entry.version}"
            previous_sha = (self.previous.label.layer_sha(entry.id, meta.name)
                            if self.previous else None)
            previous_shas = frozenset({previous_sha} if previous_sha else ())
            if meta.has_contents:
                layer_plan = archive.dir_plan(buildpack.directory / meta.name, self.inputs.uid,
                                              self.inputs.gid, self._warn_skipped)
                planned.append((meta, PlannedLayer(layer_id, history, previous_shas,
                                                   plan=layer_plan)))
            else:
                reused = self._reuse_without_contents(layer_id, meta, previous_sha)
                planned.append((meta, PlannedLayer(layer_id, history, previous_shas,
                                                   reused=reused)))
        return tuple(planned)

    def _reuse_without_contents(self, layer_id: str, meta: files.LayerMetadata,
                                previous_sha: str | None) -> Layer:
        if meta.cache:
            raise LifecycleError("export", f"layer '{layer_id}' is cache=true but has no contents",
                                 ExitCode.EXPORT_FAILED)
        reused = (self.previous.image.layer_by_diff_id(previous_sha)
                  if self.previous and previous_sha else None)
        if previous_sha is None or reused is None:
            cause = (f"cannot reuse '{layer_id}', previous image has no metadata for layer "
                     f"'{layer_id}'" if previous_sha is None else
                     f"cannot reuse '{layer_id}', previous image did not have layer {previous_sha}")
            raise LifecycleError("export", cause, ExitCode.EXPORT_FAILED)
        return reused

    def app(self, slices: tuple[tuple[str, ...], ...]) -> tuple[PlannedLayer, ...]:
        plans = archive.app_slice_plans(self.inputs.app_dir, slices, self.inputs.uid,
                                        self.inputs.gid, self._warn_skipped)
        previous_shas = self.previous.label.app_shas() if self.previous else frozenset()
        return tuple(
            PlannedLayer(f"slice-{index}", "Application Layer" if len(plans) == 1
                         else f"Application Slice: {index}", previous_shas, plan=layer_plan)
            for index, layer_plan in enumerate(plans, start=1))

    def launch_sbom(self) -> PlannedLayer | None:
        """The launch SBOM layer, when this platform API has one and the build left it."""
        directory = sbom.sbom_dir(self.inputs.layers_dir, "launch")
        if not self.inputs.features.sbom_layers or directory is None:
            return None
        return PlannedLayer(sbom.LAUNCH_SBOM_ID, sbom.SBOM_HISTORY, self._previous_sha("sbom"),
                            archive.dir_plan(directory, self.inputs.uid, self.inputs.gid,
                                             self._warn_skipped))

    def process_types(self, processes: Sequence[files.Process]) -> PlannedLayer | None:
        types = [process.type for process in processes]
        if not types:
            return None
        try:
            layer_plan = archive.process_types_plan(types)
        except ValueError as err:
            raise LifecycleError("export", err, ExitCode.EXPORT_FAILED) from None
        return PlannedLayer(PROCESS_TYPES_ID, "Buildpacks Process Types",
                            self._previous_sha("process-types"), plan=layer_plan)


BUILD_WORKERS = max(1, min(4, os.cpu_count() or 1))
"""Layers are tarred, hashed and compressed in threads: hashlib and isal release the GIL."""


@dataclass(frozen=True)
class BuiltLayers:
    """Each planned layer as built or reused, and the fingerprints to remember."""

    layers: dict[PlannedLayer, Layer]
    fingerprints: dict[str, fingerprints.Recorded]   # to remember once the image is saved


class LayerBuilder:
    """Turns plans into layers: reused from the previous image when the fingerprint says
    nothing changed, else written in parallel into a private work dir."""

    def __init__(self, workdir: Path, compress: bool, previous: PreviousImage | None,
                 known: fingerprints.LayerFingerprints, stager: BlobStager | None,
                 launch_cache: buildcache.VolumeCache | None = None) -> None:
        self.workdir, self.compress = workdir, compress
        self.previous, self.known, self.stager = previous, known, stager
        self.launch_cache = launch_cache

    def _from_previous(self, diff_id: str | None) -> Layer | None:
        """The previous image's layer, read from the launch cache when it has it, so that
        the daemon's lack of it never costs a ``docker save``."""
        layer = self.previous.image.layer_by_diff_id(diff_id) if self.previous and diff_id \
            else None
        if layer is not None and self.launch_cache is not None:
            return self.launch_cache.with_cached_source(layer)
        return layer

    def build(self, planned: Sequence[PlannedLayer]) -> BuiltLayers:
        pool = ThreadPoolExecutor(max_workers=BUILD_WORKERS, thread_name_prefix="layer")
        try:
            pending = {layer: pool.submit(self._layer, layer) for layer in planned}
            built: dict[PlannedLayer, Layer] = {}
            remembered: dict[str, fingerprints.Recorded] = {}
            # Decided in image order, so the log reads like the image and the first
            # problem in that order is the one reported.
            for layer in planned:
                result, fingerprint = pending[layer].result()
                built[layer] = self._decide(layer, result)
                if fingerprint is not None:
                    remembered[layer.layer_id] = fingerprints.Recorded(
                        fingerprint, built[layer].diff_id)
            return BuiltLayers(built, remembered)
        except archive.ArchiveError as err:
            raise LifecycleError("export", err, ExitCode.EXPORT_FAILED) from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _layer(self, planned: PlannedLayer) -> tuple[Layer, str | None]:
        if planned.plan is None:
            assert planned.reused is not None
            return planned.reused, None
        fingerprint = planned.plan.fingerprint()
        unchanged = self.known.diff_id(planned.layer_id, fingerprint)
        if unchanged in planned.previous_shas:
            reusable = self._from_previous(unchanged)
            if reusable is not None:
                get_logger().debug(f"Layer '{planned.layer_id}' is unchanged since the last "
                                   f"export (fingerprint {fingerprint}); not tarring it")
                return reusable, fingerprint
        # A layer the previous image may already hold is uploaded only if write() finds it
        # missing: an identical rebuild must not send its bytes again. A layer with nothing
        # to compare with is uploaded while it is written.
        stage = self.stager.stage if self.stager and not planned.previous_shas else None
        return (archive.write_layer(planned.plan.entries, self.workdir, self.compress, stage),
                fingerprint)

    def _decide(self, planned: PlannedLayer, layer: Layer) -> Layer:
        reused = (self._from_previous(layer.diff_id)
                  if layer.diff_id in planned.previous_shas else None)
        fields = {"layer": planned.layer_id, "digest": layer.digest, "bytes": layer.size}
        if reused is not None or planned.reused is not None:
            layer = reused or layer
            get_logger().info(f"Reusing layer '{planned.layer_id}'", kind="layer.reused",
                              **{**fields, "digest": layer.digest, "bytes": layer.size})
        else:
            get_logger().info(f"Adding layer '{planned.layer_id}'", kind="layer.added",
                              **fields)
        get_logger().debug(f"Layer '{planned.layer_id}' SHA: {layer.diff_id}")
        return layer


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


# -- launch cache (daemon) ----------------------------------------------------------------

def open_launch_cache(inputs: ExporterInputs) -> buildcache.VolumeCache | None:
    """``-launch-cache`` (only with ``-daemon``): the layer tars of the last export."""
    if inputs.launch_cache_dir is None:
        return None
    try:
        return buildcache.VolumeCache(inputs.launch_cache_dir, inputs.uid, inputs.gid)
    except OSError as err:
        get_logger().warning(f"Not using the launch cache '{inputs.launch_cache_dir}': "
                             f"{err.strerror or err}")
        return None


def keep_launch_layers(cache: buildcache.VolumeCache, layers: Iterable[Layer]) -> None:
    """Replace the launch cache with the tars of the layers the image now has (moved from
    the work dir, or kept from the cache); a failure is a warning."""
    try:
        for layer in layers:
            if cache.has_layer(layer.diff_id):
                cache.reuse(layer.diff_id)
            elif isinstance(layer.source, archive.LocalBlob) and layer.digest == layer.diff_id:
                cache.add(layer)
        cache.commit({})
    except OSError as err:
        get_logger().warning(f"Failed to update the launch cache: {err.strerror or err}")


# -- 6. build cache --------------------------------------------------------------------------

def open_build_cache(inputs: ExporterInputs, store: ImageStore,
                     workdir: Path) -> buildcache.BuildCache | None:
    """The cache image if given (it wins, as in the lifecycle), else the cache directory."""
    if inputs.cache_image is not None:
        return buildcache.ImageCache(store, inputs.cache_image, workdir)
    if inputs.cache_dir is not None:
        return buildcache.VolumeCache(inputs.cache_dir, inputs.uid, inputs.gid)
    return None


def export_cache(inputs: ExporterInputs, local: LocalInputs, store: ImageStore,
                 known: fingerprints.LayerFingerprints,
                 workdir: Path) -> dict[str, fingerprints.Recorded]:
    """Put the ``cache = true`` layers into the build cache, reusing unchanged ones.

    Runs after the image is saved; any failure is only the warning ``Failed to export
    cache: ...``. Returns the fingerprints to remember for the cache layers.
    """
    try:
        cache = open_build_cache(inputs, store, workdir)
        return {} if cache is None else fill_cache(inputs, local, cache, known)
    except (OSError, BackendError, archive.ArchiveError) as err:
        cause = err.strerror if isinstance(err, OSError) and err.strerror else err
        get_logger().warning(f"Failed to export cache: {cause}")
        return {}


def fill_cache(inputs: ExporterInputs, local: LocalInputs, cache: buildcache.BuildCache,
               known: fingerprints.LayerFingerprints) -> dict[str, fingerprints.Recorded]:
    logger = get_logger()
    metadata = cache.metadata()
    previous = buildcache.previous_shas(metadata)
    remembered: dict[str, fingerprints.Recorded] = {}

    def cache_layer(layer_id: str, directory: Path, previous_sha: str | None) -> str:
        plan = archive.dir_plan(directory, inputs.uid, inputs.gid,
                                lambda path, why: logger.warning(f"Skipping '{path}': {why}"))
        fingerprint = plan.fingerprint()
        unchanged = known.diff_id(f"cache:{layer_id}", fingerprint)
        if unchanged is not None and unchanged == previous_sha \
                and cache.has_layer(unchanged):
            sha = unchanged
        else:
            layer = cache.write_layer(plan)
            sha = layer.diff_id
            if sha != previous_sha or not cache.has_layer(sha):
                logger.info(f"Adding cache layer '{layer_id}'", kind="cache-layer.added",
                            layer=layer_id, digest=layer.digest, bytes=layer.size)
                cache.add(layer)
        if sha == previous_sha and cache.has_layer(sha):
            logger.info(f"Reusing cache layer '{layer_id}'", kind="cache-layer.reused",
                        layer=layer_id, digest=sha)
            cache.reuse(sha)
        logger.debug(f"Layer '{layer_id}' SHA: {sha}")
        if fingerprint is not None:
            remembered[f"cache:{layer_id}"] = fingerprints.Recorded(fingerprint, sha)
        return sha

    entries = []
    for buildpack in local.buildpacks:
        layers: dict[str, Any] = {}
        for meta in buildpack.layers:
            if not meta.cache:
                continue
            layer_id = f"{buildpack.entry.id}:{meta.name}"
            if not meta.has_contents:
                logger.warning(f"Not caching layer '{layer_id}': it is cache=true but has no "
                               "contents")
                continue
            sha = cache_layer(layer_id, buildpack.directory / meta.name,
                              previous.get((buildpack.entry.id, meta.name)))
            layers[meta.name] = meta.to_json(sha)
        entries.append({"key": buildpack.entry.id, "version": buildpack.entry.version,
                        "layers": layers})
    committed: dict[str, Any] = {"buildpacks": entries}
    sbom_dir = sbom.sbom_dir(inputs.layers_dir, "cache")
    if inputs.features.sbom_layers and sbom_dir is not None:
        committed["sbom"] = {"sha": cache_layer(sbom.CACHE_SBOM_ID, sbom_dir,
                                                buildcache.previous_sbom_sha(metadata))}
    cache.commit(committed)
    return remembered


if __name__ == "__main__":
    sys.exit(main())
