"""An in-memory ImageStore for fast unit tests of the phases' logic.

Anything that claims to push to a registry or load into a daemon is tested against the real
thing in tests/integration; this fake only lets the phase logic (labels, reuse decisions,
checks, errors) be exercised in milliseconds.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from contextlib import AbstractContextManager

from lifecycle.backends.base import Access, ImageNotFound
from lifecycle.checking import TYPE_CHECKING
from lifecycle.image.index import ImageIndex, IndexChild, StoredIndex
from lifecycle.image.model import Image, SaveResult, StoredImage
from lifecycle.image.platforms import DEFAULT_PLATFORM, choose
from lifecycle.record import field, record, replace
from lifecycle.reference import Reference

if TYPE_CHECKING:  # as the phases, so that a rebase in this store imports no typing either
    from typing import BinaryIO


@record(frozen=False)
class MemoryBlobs:
    blobs: dict[str, bytes] = field(default_factory=dict)

    def open_blob(self, digest: str) -> AbstractContextManager[BinaryIO]:
        return io.BytesIO(self.blobs[digest])

    def describe(self) -> str:
        return "memory"


@record(frozen=False)
class MemoryStore:
    kind: str = "registry"
    compress_layers: bool = True
    images: dict[str, Image] = field(default_factory=dict)
    blobs: MemoryBlobs = field(default_factory=MemoryBlobs)
    uploaded: list[str] = field(default_factory=list)
    denied: set[str] = field(default_factory=set)
    indexes: dict[str, ImageIndex] = field(default_factory=dict)
    manifests: dict[str, Image] = field(default_factory=dict)   # by digest

    def check_read_access(self, ref: Reference) -> Access:
        if ref.name in self.denied:
            return Access(False, "access denied (HTTP 401)")
        present = ref.name in self.images or ref.name in self.indexes
        return Access(True, "readable") if present else Access(False, "not found")

    def read(self, ref: Reference) -> StoredImage:
        if ref.name in self.indexes:
            index = self.indexes[ref.name]
            return self.read_child(ref, choose(index, DEFAULT_PLATFORM, str(ref)))
        image = self.images.get(ref.name)
        if image is None and ref.digest:  # a digest reference: any tag of the repository
            image = next((candidate for name, candidate in self.images.items()
                          if name.startswith(f"{ref.context}:")
                          and candidate.digest() == ref.digest), None)
        if image is None:
            raise ImageNotFound(f"image '{ref}' not found")
        return StoredImage(image, f"{ref.context}@{image.digest()}", image.digest())

    def read_index(self, ref: Reference) -> StoredImage | StoredIndex:
        if ref.name in self.indexes:
            index = self.indexes[ref.name]
            return StoredIndex(index, f"{ref.context}@{index.digest()}", index.digest(),
                               len(index.manifest_bytes()))
        return self.read(ref)

    def read_child(self, ref: Reference, child: IndexChild) -> StoredImage:
        image = self.manifests[child.digest]
        return StoredImage(image, f"{ref.context}@{child.digest}", child.digest,
                           manifest_size=len(image.manifest_bytes()))

    def write_index(self, index: ImageIndex, images: Sequence[Image],
                    refs: Sequence[Reference], *, new_configs: bool = False) -> SaveResult:
        for image in images:
            self._store_blobs(image)
        missing = [c.digest for c in index.children if c.digest not in self.manifests]
        assert not missing, f"index children never written: {missing}"
        for ref in refs:
            self.indexes[ref.name] = index
            self.images.pop(ref.name, None)
        return SaveResult(digest=index.digest(), manifest_size=len(index.manifest_bytes()),
                          saved=tuple(ref.name for ref in refs))

    def blob_stager(self, refs: Sequence[Reference]) -> None:
        return None  # the fake keeps blobs in memory

    def close(self) -> None:
        pass

    def write(self, image: Image, refs: Sequence[Reference], *,
              new_configs: bool = False) -> SaveResult:
        stored = self._store_blobs(image)
        for ref in refs:
            self.images[ref.name] = stored
            self.indexes.pop(ref.name, None)
        return SaveResult(digest=image.digest(), manifest_size=len(image.manifest_bytes()),
                          saved=tuple(ref.name for ref in refs))

    def _store_blobs(self, image: Image) -> Image:
        layers = []
        for layer in image.layers:
            if layer.digest not in self.blobs.blobs:
                assert layer.source is not None
                with layer.source.open_blob(layer.digest) as stream:
                    self.blobs.blobs[layer.digest] = stream.read()
                self.uploaded.append(layer.digest)
            layers.append(replace(layer, source=self.blobs))
        stored = replace(image, layers=tuple(layers))
        self.manifests[image.digest()] = stored
        return stored
