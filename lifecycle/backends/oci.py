"""Reading manifests and indexes: what the registry and the layout backends share.

Both serve the same documents (OCI or Docker v2 schema 2 manifests, OCI indexes or Docker
manifest lists); only how a blob is fetched differs, so this module takes a fetch function.
A name points at an image or at an index of images; an index inside an index is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from lifecycle.backends.base import BackendError
from lifecycle.checking import TYPE_CHECKING
from lifecycle.image import platforms
from lifecycle.image.index import ImageIndex, IndexChild, IndexProblem, StoredIndex
from lifecycle.image.model import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    BlobSource,
    Image,
    Layer,
    StoredImage,
    is_sha256_digest,
    sha256_digest,
)
from lifecycle.jsonio import loads_json

if TYPE_CHECKING:
    from typing import Any

FetchDocument = Callable[[str, str], bytes]
"""(digest, what) -> bytes of a config blob, verified against the digest."""


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


def parse_index(document: Mapping[str, Any], media_type: str, what: str) -> ImageIndex:
    """A usable index (platforms.check_index), or BackendError naming the image."""
    try:
        index = ImageIndex.parse(document, media_type, what)
        platforms.check_index(index, what)
    except IndexProblem as err:
        raise BackendError(str(err)) from None
    return index


def stored_document(data: bytes, media_type: str, digest: str, repository: str, what: str,
                    fetch: FetchDocument, source: BlobSource, child: bool = False
                    ) -> StoredImage | StoredIndex:
    """The image or index a manifest document (already verified against ``digest``) is.

    ``child`` is a document an index pointed at: an index there is a nested index.
    """
    document = parse_json(data, what)
    media_type = media_type_of(document, media_type)
    reference = f"{repository}@{digest}"
    if media_type in INDEX_TYPES or (media_type not in MANIFEST_TYPES
                                     and "manifests" in document and "layers" not in document):
        if child:
            raise BackendError(f"{what} is a nested index (an index inside an index), which "
                               "is not supported")
        return StoredIndex(parse_index(document, media_type, what), reference, digest,
                           len(data))
    if media_type not in MANIFEST_TYPES and "layers" not in document:
        raise BackendError(f"{what} has unsupported media type '{media_type}'")
    image = image_from_manifest(document, media_type, what, fetch, source)
    return StoredImage(image, reference, digest, manifest_size=len(data))


def child_what(what: str, child: IndexChild) -> str:
    return f"{what} ({child.platform or 'manifest'} {child.digest})"


def follow_default(top: StoredImage | StoredIndex, what: str,
                   read_child: Callable[[IndexChild], StoredImage]) -> StoredImage:
    """The image itself, or the index's linux/amd64 image (its only one, if it names no
    platform): what a reader that asks for no platform gets."""
    if isinstance(top, StoredImage):
        return top
    try:
        child = platforms.choose(top.index, platforms.DEFAULT_PLATFORM, what)
    except IndexProblem as err:
        raise BackendError(str(err)) from None
    return read_child(child)


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
    annotations = manifest.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(
            isinstance(value, str) for value in annotations.values()):
        raise BackendError(f"{what} manifest has annotations that are not strings")
    return Image(config, tuple(model_layers), media_type, dict(annotations))


def _digest(value: object, what: str) -> str:
    """A ``sha256:<64 hex>`` digest; anything else is refused before it is used as a name."""
    if not isinstance(value, str) or not is_sha256_digest(value):
        shown = json.dumps(value)[:80]   # as the document spells it, never a Python repr
        raise BackendError(f"{what}: {shown} is not a sha256 digest")
    return value
