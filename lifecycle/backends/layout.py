"""OCI image layout backend: one OCI layout directory per image name.

``reg.io/org/app:tag`` lives at ``<root>/reg.io/org/app/tag`` (a digest reference at
``<root>/reg.io/org/app/sha256/<hex>``), the way the Go lifecycle lays out ``-layout``
exports. Each directory holds ``oci-layout``, ``index.json`` and ``blobs/sha256/``. An image
read from a layout is identified as ``<that directory>@<manifest digest>``, as the Go lifecycle
records a layout run image's ``runImage.reference``.

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
from pathlib import Path
from typing import BinaryIO

from lifecycle.backends.base import Access, BackendError, ImageNotFound, ImageStore
from lifecycle.backends.oci import (
    child_what,
    follow_default,
    parse_index,
    parse_json,
    stored_document,
    verify,
)
from lifecycle.causes import describe
from lifecycle.image.index import ImageIndex, IndexChild, IndexProblem, StoredIndex
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
from lifecycle.record import record
from lifecycle.reference import Reference

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
OCI_LAYOUT_FILE = b'{"imageLayoutVersion":"1.0.0"}'


@record
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
        return follow_default(self.read_index(ref), self._what(ref),
                              lambda child: self.read_child(ref, child))

    def _what(self, ref: Reference) -> str:
        return f"image '{ref}' ({self.path_for(ref)})"

    def read_index(self, ref: Reference) -> StoredImage | StoredIndex:
        """What ``index.json`` names: its one descriptor (or the one tagged with the
        reference's tag) followed to an image or an index; a layout listing several images
        in ``index.json`` itself is read as that index."""
        directory = self.path_for(ref)
        index_path = directory / "index.json"
        try:
            index_data = index_path.read_bytes()
        except FileNotFoundError:
            raise ImageNotFound(f"image '{ref}' not found in the layout at {directory}") from None
        except OSError as err:
            raise BackendError(f"cannot read {index_path}: {err.strerror}") from None
        what = self._what(ref)
        try:  # the layout's own index: its one entry may well be an image index
            root = ImageIndex.parse(parse_json(index_data, str(index_path)), OCI_INDEX,
                                    str(index_path))
        except IndexProblem as err:
            raise BackendError(str(err)) from None
        tagged = [child for child in root.children
                  if child.annotations.get(REF_NAME_ANNOTATION) == ref.identifier]
        named = tagged or list(root.children)
        if not named:
            raise BackendError(f"{index_path} does not reference a manifest")
        if len(named) > 1:
            listed = parse_index(root.with_children(tuple(named)).manifest(), OCI_INDEX, what)
            return StoredIndex(listed, f"{directory}@{sha256_digest(index_data)}",
                               sha256_digest(index_data), len(index_data))
        return self._stored(ref, named[0], what)

    def read_child(self, ref: Reference, child: IndexChild) -> StoredImage:
        stored = self._stored(ref, child, child_what(self._what(ref), child), child=True)
        assert isinstance(stored, StoredImage)
        return stored

    def _stored(self, ref: Reference, descriptor: IndexChild, what: str,
                child: bool = False) -> StoredImage | StoredIndex:
        blobs = LayoutBlobs(self.path_for(ref))

        def fetch(digest: str, description: str) -> bytes:
            try:
                return verify(blobs.path(digest).read_bytes(), digest, description)
            except OSError as err:
                raise BackendError(f"{description}: cannot read blob {digest}: "
                                   f"{err.strerror}") from None

        data = fetch(descriptor.digest, what)
        return stored_document(data, descriptor.media_type, descriptor.digest,
                               str(self.path_for(ref)),
                               what, fetch, blobs, child)

    def blob_stager(self, refs: Sequence[Reference]) -> None:
        return None  # blobs are copied into the layout whole at write time

    # A blob already in the layout costs a stat to find, so new_configs changes nothing here.
    def write(self, image: Image, refs: Sequence[Reference], *,
              new_configs: bool = False) -> SaveResult:
        return self._publish([image], image.manifest_bytes(), image.manifest_media_type, refs)

    def write_index(self, index: ImageIndex, images: Sequence[Image],
                    refs: Sequence[Reference], *, new_configs: bool = False) -> SaveResult:
        return self._publish(images, index.manifest_bytes(), index.media_type, refs)

    def _publish(self, images: Sequence[Image], top: bytes, media_type: str,
                 refs: Sequence[Reference]) -> SaveResult:
        """Every blob of ``images``, then the ``top`` manifest (an image's, or an index of
        them) as a blob; only then each name's ``index.json``, pointing at ``top``."""
        digest = sha256_digest(top)
        directories = {self.path_for(ref): ref for ref in refs}
        new = [self._first_missing(directory) for directory in directories
               if not directory.exists()]
        created: list[Path] = []
        first: LayoutBlobs | None = None
        try:
            for directory in directories:
                for image in images:
                    self._write_blobs(directory, image, first, created)
                blob = LayoutBlobs(directory).path(digest)
                if not blob.exists():
                    write_atomically(blob, top)
                    created.append(blob)
                first = first or LayoutBlobs(directory)
        except BaseException as err:
            # No index.json points at this write's blobs yet, so a failure or an interrupt
            # (Ctrl-C, SIGTERM) takes back every one of them, and every directory it made.
            for path in created:
                path.unlink(missing_ok=True)
            for directory in new:
                shutil.rmtree(directory, ignore_errors=True)
            if isinstance(err, OSError):
                raise BackendError(f"cannot write blobs to the layout: {describe(err)}"
                                   ) from None
            raise
        saved, failed = [], {}
        for directory, ref in directories.items():
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
                "mediaType": media_type, "digest": digest, "size": len(top),
                "annotations": {REF_NAME_ANNOTATION: ref.identifier}}]}
            try:
                write_atomically(directory / "index.json", canonical_json(index))
                saved.append(str(ref))
            except OSError as err:
                failed[str(ref)] = f"cannot write {directory / 'index.json'}: {err.strerror}"
        return SaveResult(digest=digest, manifest_size=len(top), saved=tuple(saved),
                          failed=failed)

    def _first_missing(self, directory: Path) -> Path:
        """The outermost directory of ``directory``'s path under the root that does not
        exist yet: what a write that fails must remove to leave the root as it was."""
        missing = directory
        while missing.parent != self.root and not missing.parent.exists():
            missing = missing.parent
        return missing

    def _write_blobs(self, directory: Path, image: Image, written: LayoutBlobs | None,
                     created: list[Path]) -> None:
        """Every blob of ``image`` (its manifest included) into ``directory``; each blob file
        it adds goes into ``created``.

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
            if target.exists():
                continue
            if written and _hard_link(written.path(layer.digest), target):
                created.append(target)
                continue
            source = written or layer.source
            if source is None:
                raise BackendError(f"layer {layer.digest} has no source to copy it from")
            with source.open_blob(layer.digest) as stream:
                _store_verified(stream, target, layer.digest)
            created.append(target)
        for data in (image.config_bytes(), image.manifest_bytes()):
            target = blobs.path(sha256_digest(data))
            if not target.exists():
                write_atomically(target, data)
                created.append(target)


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

