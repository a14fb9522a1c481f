"""The build cache: ``cache = true`` layers kept for the next build, in the Go lifecycle's formats.

* A **directory** (``-cache-dir``, the volume pack mounts at ``/cache``): layer tars in
  ``committed/<diffID>.tar``, the metadata (JSON) in
  ``committed/io.buildpacks.lifecycle.cache.metadata``. A new cache is assembled in
  ``staging/`` (unchanged layers hard-linked from ``committed/``), then swapped in:
  ``committed`` → ``committed-backup``, ``staging`` → ``committed``, backup removed; a
  reader sees the old cache or the new one.
* An **image** (``-cache-image``): the cache layers as an image whose label
  ``io.buildpacks.lifecycle.cache.metadata`` holds the same JSON, written through the same
  backend as the app image (so every blob is present before the tag moves).

Both are written after the app image was saved, and a problem with either is a warning:
the app image is what the build was for.

A cached layer counts as present only once its tar has been read and found to hash to the
diffID it is filed under: a cache directory can be damaged on disk and a cache image can be
written by anyone, and a layer reused unchecked would carry the damage into every later
build. A layer that fails the check is rebuilt and written again, and the check's result is
kept for the rest of the export, so no tar is read twice.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from isal import isal_zlib

from lifecycle import archive
from lifecycle.backends.base import BackendError, ImageNotFound, ImageStore
from lifecycle.image import mutate
from lifecycle.image.model import Image, Layer, iter_chunks
from lifecycle.jsonio import labels_json, loads_json, write_atomically
from lifecycle.log import get_logger
from lifecycle.record import replace
from lifecycle.reference import Reference

CACHE_LABEL = "io.buildpacks.lifecycle.cache.metadata"

# isal's stubs declare its error as an instance of Exception; it is the class of bad gzip data.
_BAD_GZIP: type[Exception] = isal_zlib.error  # type: ignore[assignment]


class BuildCache(Protocol):
    name: str

    def metadata(self) -> Mapping[str, Any]:
        """The metadata the previous build left (empty if none, or unreadable)."""
        ...

    def has_layer(self, diff_id: str) -> bool:
        ...

    def write_layer(self, plan: archive.LayerPlan) -> Layer:
        """Tar ``plan`` the way this cache stores layers (not yet part of the cache)."""
        ...

    def reuse(self, diff_id: str) -> None:
        ...

    def add(self, layer: Layer) -> None:
        ...

    def commit(self, metadata: Mapping[str, Any]) -> None:
        ...


def previous_shas(metadata: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """``(buildpack id, layer name) -> sha`` from cache metadata, ignoring what is malformed."""
    shas: dict[tuple[str, str], str] = {}
    buildpacks = metadata.get("buildpacks")
    for buildpack in buildpacks if isinstance(buildpacks, list) else []:
        if not isinstance(buildpack, dict) or not isinstance(buildpack.get("layers"), dict):
            continue
        for name, layer in buildpack["layers"].items():
            if isinstance(layer, dict) and isinstance(layer.get("sha"), str):
                shas[(str(buildpack.get("key")), str(name))] = layer["sha"]
    return shas


def tar_digest(stream: BinaryIO, compressed: bool) -> str:
    """The sha256 digest of the tar in ``stream`` (gunzipped first if ``compressed``)."""
    digest = hashlib.sha256()
    inflater = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS) if compressed else None
    for chunk in iter_chunks(stream):
        digest.update(inflater.decompress(chunk) if inflater else chunk)
    if inflater:
        digest.update(inflater.flush())
    return f"sha256:{digest.hexdigest()}"


def previous_sbom_sha(metadata: Mapping[str, Any]) -> str | None:
    """The cache SBOM layer's diffID in cache metadata (platform API 0.8 on), if any."""
    recorded = metadata.get("sbom")
    sha = recorded.get("sha") if isinstance(recorded, dict) else None
    return sha if isinstance(sha, str) else None


class _IntactLayers:
    """Which cached layers hash to their diffIDs, each read at most once per export."""

    def __init__(self, cache_name: str) -> None:
        self._cache_name = cache_name
        self._checked: dict[str, bool] = {}

    def check(self, diff_id: str, read: Callable[[], str]) -> bool:
        """Whether ``read()`` (the digest of the tar filed under ``diff_id``) matches it."""
        if diff_id not in self._checked:
            try:
                found = read()
            except (OSError, BackendError, _BAD_GZIP) as err:
                found = f"unreadable ({err})"
            intact = found == diff_id
            if not intact:
                get_logger().warning(f"Cached layer {diff_id} in '{self._cache_name}' is "
                                     f"damaged (its tar is {found}); building it again")
            self._checked[diff_id] = intact
        return self._checked[diff_id]


class VolumeCache:
    """A cache directory in the Go lifecycle's volume-cache layout."""

    def __init__(self, root: Path, uid: int, gid: int) -> None:
        self.name = str(root)
        self.committed, self.staging = root / "committed", root / "staging"
        self.backup = root / "committed-backup"
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        shutil.rmtree(self.backup, ignore_errors=True)
        self.committed.mkdir(exist_ok=True)
        self.staging.mkdir()
        self._owner = (uid, gid)
        self._intact = _IntactLayers(self.name)

    def _tar(self, diff_id: str, directory: Path | None = None) -> Path:
        return (directory or self.committed) / f"{diff_id}.tar"

    def metadata(self) -> Mapping[str, Any]:
        try:
            document = loads_json((self.committed / CACHE_LABEL).read_bytes())
        except (OSError, ValueError):
            return {}
        return document if isinstance(document, dict) else {}

    def has_layer(self, diff_id: str) -> bool:
        """Whether the committed cache holds an intact tar of ``diff_id``."""
        tar = self._tar(diff_id)
        if not tar.is_file():
            return False

        def digest() -> str:
            with tar.open("rb") as stream:
                return tar_digest(stream, compressed=False)
        return self._intact.check(diff_id, digest)

    def write_layer(self, plan: archive.LayerPlan) -> Layer:
        return archive.write_layer(plan.entries, self.staging, compress=False)

    def reuse(self, diff_id: str) -> None:
        try:
            os.link(self._tar(diff_id), self._tar(diff_id, self.staging))
        except FileExistsError:
            pass

    def add(self, layer: Layer) -> None:
        """Take a layer written as a local uncompressed tar (moved here, or copied from
        another file system)."""
        assert isinstance(layer.source, archive.LocalBlob)
        target = self._tar(layer.diff_id, self.staging)
        try:
            os.replace(layer.source.path, target)
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            shutil.copyfile(layer.source.path, target)

    def with_cached_source(self, layer: Layer) -> Layer:
        """``layer`` read from this cache's committed tar, if it is there (an uncompressed
        layer only: its blob digest is its diffID)."""
        cached = self._tar(layer.diff_id)
        if layer.digest != layer.diff_id or not self.has_layer(layer.diff_id):
            return layer
        return replace(layer, size=cached.stat().st_size,
                       source=archive.LocalBlob(cached, layer.digest))

    def commit(self, metadata: Mapping[str, Any]) -> None:
        for stray in self.staging.glob("blob-*"):  # tarred, then found unchanged
            stray.unlink()
        write_atomically(self.staging / CACHE_LABEL, json.dumps(metadata).encode())
        if os.geteuid() == 0:
            for path in (self.staging, *self.staging.iterdir()):
                os.chown(path, *self._owner)
        os.rename(self.committed, self.backup)
        try:
            os.rename(self.staging, self.committed)
        except OSError:
            os.rename(self.backup, self.committed)
            raise
        shutil.rmtree(self.backup, ignore_errors=True)


class ImageCache:
    """A cache image, read from and written to the app image's backend."""

    def __init__(self, store: ImageStore, ref: Reference, workdir: Path) -> None:
        self.name = str(ref)
        self.store, self.ref, self.workdir = store, ref, workdir
        self.previous: Image | None = None
        try:
            self.previous = store.read(ref).image
        except ImageNotFound:
            get_logger().debug(f"No cache image '{ref}' yet")
        except BackendError as err:
            get_logger().warning(f"Not reusing the cache image '{ref}': {err}")
        self.layers: list[Layer] = []
        self._intact = _IntactLayers(self.name)

    def metadata(self) -> Mapping[str, Any]:
        text = self.previous.labels.get(CACHE_LABEL) if self.previous else None
        try:
            document = loads_json(text) if text else {}
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}

    def has_layer(self, diff_id: str) -> bool:
        """Whether the previous cache image has a layer of ``diff_id`` whose blob really
        unpacks to it (the blob is read once to tell)."""
        layer = self.previous.layer_by_diff_id(diff_id) if self.previous else None
        if layer is None or layer.source is None:
            return False
        source = layer.source

        def digest() -> str:
            with source.open_blob(layer.digest) as stream:
                return tar_digest(stream, layer.compressed)
        return self._intact.check(diff_id, digest)

    def write_layer(self, plan: archive.LayerPlan) -> Layer:
        return archive.write_layer(plan.entries, self.workdir, self.store.compress_layers)

    def reuse(self, diff_id: str) -> None:
        layer = self.previous.layer_by_diff_id(diff_id) if self.previous else None
        assert layer is not None  # asked has_layer first
        self.layers.append(layer)

    def add(self, layer: Layer) -> None:
        self.layers.append(layer)

    def commit(self, metadata: Mapping[str, Any]) -> None:
        layers = self.layers or [archive.write_layer([], self.workdir,
                                                     self.store.compress_layers)]
        empty = Image({"architecture": "amd64", "os": "linux", "config": {},
                       "rootfs": {"type": "layers", "diff_ids": []}}, ())
        image = mutate.append_layers(empty, [(layer, "") for layer in layers],
                                     mutate.NORMALIZED_TIME)
        image = mutate.set_labels(image, {CACHE_LABEL: labels_json(metadata)})
        result = self.store.write(mutate.set_created(image, mutate.NORMALIZED_TIME),
                                  [self.ref])
        if not result.saved:
            raise BackendError(f"cannot write cache image '{self.ref}': "
                               + "; ".join(result.failed.values()))
