"""The exporter's caches: the launch cache (``-launch-cache``, with ``-daemon``: the layer
tars of the last export, so that reusing a layer never costs a ``docker save``) and the
build cache (``-cache-dir`` or ``-cache-image``: the ``cache = true`` layers, reused by
fingerprint like the image's). Both are written after the image is saved, and a failure in
either is only a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lifecycle import archive, buildcache, fingerprints, sbom
from lifecycle.backends.base import BackendError, ImageStore
from lifecycle.exportlayers import BuildpackLayers
from lifecycle.image.model import Layer
from lifecycle.log import get_logger
from lifecycle.platform.exporter_inputs import ExporterInputs


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


# -- the build cache ------------------------------------------------------------------------

def open_build_cache(inputs: ExporterInputs, store: ImageStore,
                     workdir: Path) -> buildcache.BuildCache | None:
    """The cache image if given (it wins, as in the lifecycle), else the cache directory."""
    if inputs.cache_image is not None:
        return buildcache.ImageCache(store, inputs.cache_image, workdir)
    if inputs.cache_dir is not None:
        return buildcache.VolumeCache(inputs.cache_dir, inputs.uid, inputs.gid)
    return None


def export_cache(inputs: ExporterInputs, buildpacks: Sequence[BuildpackLayers], store: ImageStore,
                 known: fingerprints.LayerFingerprints,
                 workdir: Path) -> dict[str, fingerprints.Recorded]:
    """Put the ``cache = true`` layers into the build cache, reusing unchanged ones.

    Runs after the image is saved; any failure is only the warning ``Failed to export
    cache: ...``. Returns the fingerprints to remember for the cache layers.
    """
    try:
        cache = open_build_cache(inputs, store, workdir)
        return {} if cache is None else fill_cache(inputs, buildpacks, cache, known)
    except (OSError, BackendError, archive.ArchiveError) as err:
        cause = err.strerror if isinstance(err, OSError) and err.strerror else err
        get_logger().warning(f"Failed to export cache: {cause}")
        return {}


def fill_cache(inputs: ExporterInputs, buildpacks: Sequence[BuildpackLayers],
               cache: buildcache.BuildCache,
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
    for buildpack in buildpacks:
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
