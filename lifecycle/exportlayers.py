"""The exporter's layers: planned from the build's trees without reading a file, then reused
from the previous image or built.

:class:`LayerPlanner` walks every layer's tree (stat only) into a plan with a fingerprint and
the previous image's layers it may be reused from; :class:`LayerBuilder` reuses a layer whose
fingerprint is unchanged, and tars, hashes and compresses the rest in parallel, streaming a
new layer to the registry while it is written (``docs/performance.md``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lifecycle import archive, buildcache, fingerprints, interrupts, sbom
from lifecycle.backends.base import BlobStager
from lifecycle.image.model import Image, Layer
from lifecycle.log import get_logger
from lifecycle.platform import files
from lifecycle.platform.exits import ExitCode, LifecycleError
from lifecycle.platform.exporter_inputs import ExporterInputs
from lifecycle.record import record

LAUNCHER_ID = "buildpacksio/lifecycle:launcher"
CONFIG_ID = "buildpacksio/lifecycle:config"
PROCESS_TYPES_ID = "buildpacksio/lifecycle:process-types"


@record
class BuildpackLayers:
    """One buildpack of the group with the layer metadata it left."""

    entry: files.GroupEntry
    directory: Path
    layers: tuple[files.LayerMetadata, ...]
    store: dict[str, Any] | None


@record
class PreviousImage:
    """The previous app image and its lifecycle label, whose layers may be reused."""

    image: Image
    label: files.LifecycleLabel


@record(eq=False)
class PlannedLayer:
    """One layer of the app image before its bytes exist: its entries, or a layer of the
    previous image to reuse as is (a launch layer whose contents the buildpack left out)."""

    layer_id: str                   # as logged: "<buildpack>:<layer>", "slice-<n>", ...
    history: str
    previous_shas: frozenset[str]   # diffIDs of the previous image it may be reused from
    plan: archive.LayerPlan | None = None
    reused: Layer | None = None


@record
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

    def plan(self, buildpacks: Sequence[BuildpackLayers], build: files.BuildMetadata,
             launcher: Path) -> LayerPlans:
        inputs = self.inputs
        try:
            return LayerPlans(
                buildpacks=tuple((bp, self.buildpack(bp)) for bp in buildpacks),
                app=self.app(build.slices),
                launcher=PlannedLayer(LAUNCHER_ID, "Buildpacks Application Launcher",
                                      self._previous_sha("launcher"),
                                      archive.launcher_plan(launcher)),
                config=PlannedLayer(CONFIG_ID, "Buildpacks Launcher Config",
                                    self._previous_sha("config"),
                                    archive.dir_plan(inputs.layers_dir / "config", inputs.uid,
                                                     inputs.gid, self._warn_skipped)),
                process_types=self.process_types(build.processes),
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


@record
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
                result, fingerprint = interrupts.result(pending[layer])
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
