"""OCI image layout backend: one OCI layout directory per image name.

``reg.io/org/app:tag`` lives at ``<root>/reg.io/org/app/tag`` (a digest reference at
``<root>/reg.io/org/app/sha256/<hex>``), the way the Go lifecycle lays out ``-layout``
exports. Each directory holds ``oci-layout``, ``index.json`` and ``blobs/sha256/``.

Writes never leave a partial image behind: every blob is written to a temporary file,
verified against its digest and renamed into place; ``index.json`` — the only thing that
makes the image visible — is replaced atomically last.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lifecycle.backends.base import Access, BackendError, ImageNotFound, ImageStore
from lifecycle.backends.oci import image_from_manifest, resolve_manifest, verify
from lifecycle.image.model import (
    OCI_INDEX,
    Image,
    SaveResult,
    StoredImage,
    canonical_json,
    iter_chunks,
    sha256_digest,
)
from lifecycle.jsonio import write_atomically
from lifecycle.reference import Reference

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
OCI_LAYOUT_FILE = b'{"imageLayoutVersion":"1.0.0"}'


@dataclass(frozen=True)
class LayoutBlobs:
    """The blobs of one OCI layout directory."""

    directory: Path

    def path(self, digest: str) -> Path:
        algorithm, _, hex_digest = digest.partition(":")
        if not hex_digest or "/" in digest or algorithm != "sha256":
            raise BackendError(f"invalid blob digest '{digest}' in {self.directory}")
        return self.directory / "blobs" / algorithm / hex_digest

    def open_blob(self, digest: str) -> AbstractContextManager[BinaryIO]:
        try:
            return self.path(digest).open("rb")
        except OSError as err:
            raise BackendError(f"cannot read blob {digest} in {self.directory}: "
                               f"{err.strerror}") from None

    def describe(self) -> str:
        return str(self.directory)


class LayoutStore(ImageStore):
    """Images in OCI image layouts under one root directory (``-layout-dir``)."""

    kind = "layout"
    compress_layers = True

    def __init__(self, root: Path) -> None:
        self.root = root

    def close(self) -> None:
        pass  # every write closes what it opened

    def path_for(self, ref: Reference) -> Path:
        """``<root>/<registry>/<repository>/<tag>`` (or ``.../<algorithm>/<hex>``).

        Reference syntax allows repository components such as ``..`` or an empty one
        (``example.com//x``); as path components they would leave the root, so such a
        reference cannot be stored in a layout.
        """
        if ref.digest:
            algorithm, _, hex_digest = ref.digest.partition(":")
            leaf = [algorithm, hex_digest]
        else:
            leaf = [ref.tag or "latest"]
        parts = [ref.registry, *ref.repository_str.split("/"), *leaf]
        if any(part in ("", ".", "..") for part in parts):
            raise BackendError(f"'{ref}' cannot be stored in an OCI layout: a path component "
                               "of it would be empty, '.' or '..'")
        return self.root.joinpath(*parts)

    def check_read_access(self, ref: Reference) -> Access:
        try:
            self.read(ref)
        except ImageNotFound:
            return Access(False, f"not present in the layout ({self.path_for(ref)})")
        except BackendError as err:
            return Access(False, f"unreadable: {err}")
        return Access(True, f"present in the layout ({self.path_for(ref)})")

    def read(self, ref: Reference) -> StoredImage:
        directory = self.path_for(ref)
        index_path = directory / "index.json"
        try:
            index_data = index_path.read_bytes()
        except FileNotFoundError:
            raise ImageNotFound(f"image '{ref}' not found in the layout at {directory}") from None
        except OSError as err:
            raise BackendError(f"cannot read {index_path}: {err.strerror}") from None
        blobs = LayoutBlobs(directory)
        what = f"image '{ref}' ({directory})"

        def fetch(digest: str, description: str) -> bytes:
            try:
                return verify(blobs.path(digest).read_bytes(), digest, description)
            except OSError as err:
                raise BackendError(f"{description}: cannot read blob {digest}: "
                                   f"{err.strerror}") from None

        manifest, media_type, digest = resolve_manifest(index_data, OCI_INDEX, "", what, fetch)
        if not digest:
            raise BackendError(f"{index_path} does not reference a manifest")
        image = image_from_manifest(manifest, media_type, what, fetch, blobs)
        return StoredImage(image, f"{ref.context}@{digest}", digest)

    def blob_stager(self, refs: Sequence[Reference]) -> None:
        return None  # blobs are copied into the layout whole at write time

    def write(self, image: Image, refs: Sequence[Reference]) -> SaveResult:
        manifest = image.manifest_bytes()
        digest = image.digest()
        directories = {self.path_for(ref): ref for ref in refs}
        new = [directory for directory in directories if not directory.exists()]
        first: LayoutBlobs | None = None
        try:
            for directory in directories:
                self._write_blobs(directory, image, manifest, first)
                first = first or LayoutBlobs(directory)
        except (OSError, BackendError) as err:
            for directory in new:  # no index.json yet: nothing points at these blobs
                shutil.rmtree(directory, ignore_errors=True)
            if isinstance(err, BackendError):
                raise
            raise BackendError(f"cannot write blobs to the layout: {err}") from None
        saved, failed = [], {}
        for directory, ref in directories.items():
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
                "mediaType": image.manifest_media_type, "digest": digest,
                "size": len(manifest), "annotations": {REF_NAME_ANNOTATION: ref.identifier}}]}
            try:
                write_atomically(directory / "index.json", canonical_json(index))
                saved.append(str(ref))
            except OSError as err:
                failed[str(ref)] = f"cannot write {directory / 'index.json'}: {err.strerror}"
        return SaveResult(digest=digest, manifest_size=len(manifest), saved=tuple(saved),
                          failed=failed)

    def _write_blobs(self, directory: Path, image: Image, manifest: bytes,
                     written: LayoutBlobs | None) -> None:
        """Every blob of ``image`` into ``directory``.

        ``written`` is a directory this write already filled: every further name takes its
        layers from there (a hard link where the filesystem allows) rather than streaming
        each one from its source again.
        """
        blobs = LayoutBlobs(directory)
        blobs.path(image.config_digest()).parent.mkdir(parents=True, exist_ok=True)
        layout_file = directory / "oci-layout"
        if not layout_file.exists():
            write_atomically(layout_file, OCI_LAYOUT_FILE)
        for layer in image.layers:
            target = blobs.path(layer.digest)
            if target.exists() or (written and _hard_link(written.path(layer.digest), target)):
                continue
            source = written or layer.source
            if source is None:
                raise BackendError(f"layer {layer.digest} has no source to copy it from")
            with source.open_blob(layer.digest) as stream:
                _store_verified(stream, target, layer.digest)
        for data in (image.config_bytes(), manifest):
            target = blobs.path(sha256_digest(data))
            if not target.exists():
                write_atomically(target, data)


def _hard_link(existing: Path, target: Path) -> bool:
    """Link a verified blob into another layout; False where links are not possible."""
    try:
        os.link(existing, target)
    except FileExistsError:
        return True  # another writer put the same content there
    except OSError:
        return False  # e.g. another filesystem, or links not supported: copy instead
    return True


def _store_verified(stream: BinaryIO, target: Path, digest: str) -> None:
    """Copy a blob through a temp file, checking its digest before it becomes visible."""
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".blob-", suffix=".tmp")
    try:
        hasher = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for chunk in iter_chunks(stream):
                hasher.update(chunk)
                out.write(chunk)
        if "sha256:" + hasher.hexdigest() != digest:
            raise BackendError(f"blob copied into {target.parent} does not match {digest}")
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise

