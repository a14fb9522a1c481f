"""A small immutable image model in the spirit of go-containerregistry.

An :class:`Image` is a config document plus an ordered tuple of :class:`Layer` s. A layer knows
its identity (blob digest, diffID, size, media type) and *where its bytes can be read*
(:class:`BlobSource`), so a backend writing the image can decide per blob: already there, mount
it from another repository, or stream it. Images are never modified in place; the transforms
in :mod:`lifecycle.image.mutate` return new images.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager

from lifecycle.checking import TYPE_CHECKING, Protocol
from lifecycle.jsonio import copy_json
from lifecycle.record import field, record

if TYPE_CHECKING:
    from typing import Any, BinaryIO

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
UNCOMPRESSED_LAYER_TYPES = (OCI_LAYER_TAR, DOCKER_LAYER_TAR)

# Docker and OCI manifests differ only in media type strings; these pairs translate.
_CONFIG_TYPE_FOR = {OCI_MANIFEST: OCI_CONFIG, DOCKER_MANIFEST: DOCKER_CONFIG}
_LAYER_TYPE_FOR = {
    (OCI_MANIFEST, True): OCI_LAYER_GZIP, (OCI_MANIFEST, False): OCI_LAYER_TAR,
    (DOCKER_MANIFEST, True): DOCKER_LAYER_GZIP, (DOCKER_MANIFEST, False): DOCKER_LAYER_TAR,
}


_LOWER_HEX = frozenset("0123456789abcdef")

# The interpreter's own SHA-256 (``_sha2`` from Python 3.12, ``_sha256`` before) for
# documents: importing hashlib loads OpenSSL's libcrypto, 4 of the 20 ms a registry rebase
# has for everything but the interpreter's start and its requests. Layers, which are large,
# are hashed with hashlib (OpenSSL's SHA-256 is the faster one), by the code that writes
# them. Where neither module exists (another Python), hashlib it is.
try:
    from _sha2 import sha256 as _document_sha256  # type: ignore[import-not-found]
except ImportError:
    try:
        from _sha256 import sha256 as _document_sha256  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha256 as _document_sha256


def is_sha256_digest(value: object) -> bool:
    """Whether ``value`` is ``sha256:<64 hex>``: safe to use as a name (a path, a URL)."""
    return (isinstance(value, str) and len(value) == 71 and value.startswith("sha256:")
            and _LOWER_HEX.issuperset(value[7:]))


def sha256_digest(data: bytes) -> str:
    """The digest of a document (a manifest, a config): kilobytes, never a layer."""
    hex_digest: str = _document_sha256(data).hexdigest()
    return "sha256:" + hex_digest


def canonical_json(document: Any) -> bytes:
    """Compact JSON in insertion order: deterministic for deterministically built documents."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


class BlobSource(Protocol):
    """Somewhere a blob's bytes can be streamed from."""

    def open_blob(self, digest: str) -> AbstractContextManager[BinaryIO]:
        """A readable stream of the stored (possibly compressed) blob bytes."""
        ...

    def describe(self) -> str:
        """Where this is, for messages (e.g. ``localhost:5000/run``)."""
        ...


@record
class Layer:
    """One layer: its stored blob (``digest``/``size``/``media_type``) and its ``diff_id``."""

    digest: str
    diff_id: str
    size: int
    media_type: str
    source: BlobSource | None = field(default=None, compare=False, repr=False)

    @property
    def compressed(self) -> bool:
        return self.media_type not in UNCOMPRESSED_LAYER_TYPES

    def descriptor(self, manifest_type: str) -> dict[str, Any]:
        return {
            "mediaType": _LAYER_TYPE_FOR.get((manifest_type, self.compressed), self.media_type),
            "size": self.size,
            "digest": self.digest,
        }


@record
class Image:
    """A config document plus layers. Treat ``config`` as read-only; transforms copy it."""

    config: Mapping[str, Any]
    layers: tuple[Layer, ...]
    manifest_media_type: str = OCI_MANIFEST
    annotations: Mapping[str, str] = field(default_factory=dict)
    """The manifest's ``annotations`` (the OCI base-image annotations, for one)."""

    # -- derived documents -------------------------------------------------------------
    def config_bytes(self) -> bytes:
        return canonical_json(self.config)

    def config_digest(self) -> str:
        return sha256_digest(self.config_bytes())

    def manifest(self) -> dict[str, Any]:
        config_bytes = self.config_bytes()
        return {
            "schemaVersion": 2,
            "mediaType": self.manifest_media_type,
            "config": {
                "mediaType": _CONFIG_TYPE_FOR.get(self.manifest_media_type, OCI_CONFIG),
                "size": len(config_bytes),
                "digest": sha256_digest(config_bytes),
            },
            "layers": [layer.descriptor(self.manifest_media_type) for layer in self.layers],
            **({"annotations": dict(self.annotations)} if self.annotations else {}),
        }

    def manifest_bytes(self) -> bytes:
        return canonical_json(self.manifest())

    def digest(self) -> str:
        return sha256_digest(self.manifest_bytes())

    # -- convenient views --------------------------------------------------------------
    @property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(layer.diff_id for layer in self.layers)

    @property
    def top_layer(self) -> str:
        """The diffID of the last layer ("" for an image without layers)."""
        return self.layers[-1].diff_id if self.layers else ""

    @property
    def image_config(self) -> Mapping[str, Any]:
        """The runtime ``config`` section (Env, Entrypoint, Labels, ...)."""
        section = self.config.get("config")
        return section if isinstance(section, Mapping) else {}

    @property
    def labels(self) -> Mapping[str, str]:
        labels = self.image_config.get("Labels")
        return labels if isinstance(labels, Mapping) else {}

    @property
    def os(self) -> str:
        return str(self.config.get("os", ""))

    @property
    def architecture(self) -> str:
        return str(self.config.get("architecture", ""))

    @property
    def variant(self) -> str:
        return str(self.config.get("variant", ""))

    def layer_by_diff_id(self, diff_id: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.diff_id == diff_id), None)

    def mutable_config(self) -> dict[str, Any]:
        """A deep copy of the config for a transform to edit."""
        copied: dict[str, Any] = copy_json(self.config)
        return copied


@record
class StoredImage:
    """An image as read from a backend, with the identity the backend gave it."""

    image: Image
    reference: str        # digest reference (registry/layout) or image ID (daemon)
    digest: str = ""      # manifest digest; "" where the backend has none (daemon)
    image_id: str = ""    # config digest, the daemon's identity
    manifest_size: int = 0  # size of the stored manifest (an index descriptor needs it)


@record
class SaveResult:
    """What writing an image under one or more names produced."""

    digest: str = ""          # manifest digest (registry, layout)
    image_id: str = ""        # daemon image ID
    manifest_size: int = 0
    saved: tuple[str, ...] = ()                       # names written, as given
    failed: Mapping[str, str] = field(default_factory=dict)  # name -> one-line cause


def iter_chunks(stream: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk
