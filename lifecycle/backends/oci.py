"""Reading manifests and indexes: what the registry and the layout backends share.

Both serve the same documents (OCI or Docker v2 schema 2 manifests, OCI indexes or Docker
manifest lists); only how a blob is fetched differs, so this module takes a fetch function.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from lifecycle.backends.base import BackendError
from lifecycle.image.model import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_MANIFEST,
    BlobSource,
    Image,
    Layer,
    sha256_digest,
)
from lifecycle.jsonio import loads_json

DEFAULT_PLATFORM = ("linux", "amd64")

FetchDocument = Callable[[str, str], bytes]
"""(digest, what) -> bytes of a manifest (resolve_manifest) or of a config blob
(image_from_manifest), verified against the digest."""


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = loads_json(data)
    except ValueError as err:  # UnicodeDecodeError is one too
        raise BackendError(f"{what} is not valid JSON: {err}") from None
    if not isinstance(document, dict):
        raise BackendError(f"{what} is not a JSON object")
    return document


def verify(data: bytes, digest: str, what: str) -> bytes:
    if sha256_digest(data) != digest:
        raise BackendError(f"{what} does not match its digest {digest}")
    return data


def media_type_of(document: Mapping[str, Any], fallback: str) -> str:
    media_type = document.get("mediaType")
    return media_type if isinstance(media_type, str) and media_type else fallback


def select_from_index(index: Mapping[str, Any], what: str,
                      platform: tuple[str, str] = DEFAULT_PLATFORM) -> dict[str, Any]:
    """The manifest descriptor for ``platform`` (linux/amd64 by default) in an index."""
    manifests = index.get("manifests")
    if not isinstance(manifests, list) or not manifests:
        raise BackendError(f"{what} is an index without manifests")
    for descriptor in manifests:
        wanted = descriptor.get("platform") or {}
        if (wanted.get("os"), wanted.get("architecture")) == platform:
            return dict(descriptor)
    if len(manifests) == 1 and not manifests[0].get("platform"):
        return dict(manifests[0])
    raise BackendError(f"{what} has no manifest for {platform[0]}/{platform[1]}")


def resolve_manifest(data: bytes, media_type: str, digest: str, what: str,
                     fetch: FetchDocument) -> tuple[dict[str, Any], str, str]:
    """Follow indexes down to an image manifest; returns (manifest, media type, digest)."""
    for _ in range(4):  # index → (nested index) → manifest; deeper nesting is not an image
        document = parse_json(data, what)
        media_type = media_type_of(document, media_type)
        if media_type in MANIFEST_TYPES or (
                "layers" in document and media_type not in INDEX_TYPES):
            return document, media_type, digest
        if media_type not in INDEX_TYPES and "manifests" not in document:
            raise BackendError(f"{what} has unsupported media type '{media_type}'")
        descriptor = select_from_index(document, what)
        digest = str(descriptor.get("digest", ""))
        media_type = str(descriptor.get("mediaType", OCI_MANIFEST))
        data = fetch(digest, f"{what} manifest {digest}")
    raise BackendError(f"{what}: indexes nested too deeply")


def image_from_manifest(manifest: Mapping[str, Any], media_type: str, what: str,
                        fetch: FetchDocument, source: BlobSource) -> Image:
    """Build the model from a manifest; layer bytes stay in ``source`` until needed."""
    config_descriptor = manifest.get("config")
    layers = manifest.get("layers")
    if not isinstance(config_descriptor, dict) or not isinstance(layers, list):
        raise BackendError(f"{what} manifest has no config or layers")
    config_digest = _digest(config_descriptor.get("digest"), f"{what} config descriptor")
    config = parse_json(fetch(config_digest, f"{what} config"), f"{what} config")
    rootfs = config.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(layers):
        raise BackendError(f"{what} config lists {len(diff_ids or [])} diffIDs for "
                           f"{len(layers)} layers")
    model_layers = []
    for number, (descriptor, diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
        where = f"{what} layer {number + 1}"
        size = descriptor.get("size") if isinstance(descriptor, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BackendError(f"{where}: the manifest gives no valid size")
        model_layers.append(Layer(digest=_digest(descriptor.get("digest"), where),
                                  diff_id=_digest(diff_id, f"{where} diffID"), size=size,
                                  media_type=str(descriptor.get("mediaType", "")),
                                  source=source))
    return Image(config, tuple(model_layers), media_type)


_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


def _digest(value: object, what: str) -> str:
    """A ``sha256:<64 hex>`` digest; anything else is refused before it is used as a name."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise BackendError(f"{what}: {value!r} is not a sha256 digest")
    return value
