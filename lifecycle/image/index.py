"""An immutable model of an image index (an OCI image index or a Docker manifest list).

An :class:`ImageIndex` is its child descriptors plus the index's own other fields
(annotations, ``subject``, ``artifactType``...), which are carried unchanged whenever the index
is rewritten. A child (:class:`IndexChild`) is a descriptor: digest, size, media type, the
platform it is for, its annotations and any other descriptor fields, kept as read. Which child
serves which platform, and what makes an index unusable, is :mod:`lifecycle.image.platforms`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from lifecycle.checking import TYPE_CHECKING
from lifecycle.image.model import (
    OCI_INDEX,
    Image,
    canonical_json,
    is_sha256_digest,
    sha256_digest,
)
from lifecycle.record import field, record, replace

if TYPE_CHECKING:
    from typing import Any

_DESCRIPTOR_KEYS = ("mediaType", "digest", "size", "platform", "annotations")
_PLATFORM_NAME = r"[a-z0-9][a-z0-9._-]*"  # compiled on first use: -platform is rare


class IndexProblem(ValueError):
    """An index that cannot be used as asked; the message is one line naming the image."""


@record
class Platform:
    """``os/architecture[/variant]``, as an index descriptor or an image config gives it."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``os/arch`` or ``os/arch/variant`` (what ``-platform`` takes); ValueError if not."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(re.fullmatch(_PLATFORM_NAME, p) for p in parts):
            raise ValueError(f"'{text}' is not a platform of the form os/arch[/variant] "
                             "(lower-case, e.g. linux/arm64/v8)")
        return cls(*parts)

    @classmethod
    def of_image(cls, image: Image) -> Platform:
        return cls(image.os, image.architecture, image.variant,
                   str(image.config.get("os.version", "")))

    @classmethod
    def from_json(cls, value: object, what: str) -> Platform:
        if not isinstance(value, Mapping) or not all(
                isinstance(value.get(key, ""), str) for key in
                ("os", "architecture", "variant", "os.version")) \
                or not value.get("os") or not value.get("architecture"):
            raise IndexProblem(f"{what}: a platform needs an os and an architecture, "
                               f"not {json.dumps(value)}")
        return cls(value["os"], value["architecture"], value.get("variant", ""),
                   value.get("os.version", ""))

    def to_json(self) -> dict[str, str]:
        document = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            document["os.version"] = self.os_version
        if self.variant:
            document["variant"] = self.variant
        return document

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two platforms the same: arm64 without a variant is arm64/v8 (as
        containerd normalises it)."""
        variant = self.variant or ("v8" if self.architecture == "arm64" else "")
        return self.os, self.architecture, variant, self.os_version

    def matches(self, wanted: Platform) -> bool:
        """Whether this image serves ``wanted`` (``os.version`` is not asked for)."""
        return self.key[:3] == wanted.key[:3]

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


@record
class IndexChild:
    """One descriptor of an index."""

    digest: str
    size: int
    media_type: str
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    other: Mapping[str, Any] = field(default_factory=dict)
    """Descriptor fields this model does not interpret (``urls``, ``artifactType``...)."""

    @classmethod
    def for_image(cls, image: Image, annotations: Mapping[str, str] | None = None
                  ) -> IndexChild:
        """The descriptor of ``image`` as we write it, for the platform of its config."""
        return cls(image.digest(), len(image.manifest_bytes()), image.manifest_media_type,
                   Platform.of_image(image), dict(annotations or {}))

    @classmethod
    def from_json(cls, value: object, what: str) -> IndexChild:
        if not isinstance(value, Mapping):
            raise IndexProblem(f"{what} is not a descriptor object")
        digest, size, media_type = value.get("digest"), value.get("size"), value.get("mediaType")
        if not isinstance(digest, str) or not is_sha256_digest(digest):
            raise IndexProblem(f"{what} has no sha256 digest")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise IndexProblem(f"{what} has no valid size")
        if not isinstance(media_type, str) or not media_type:
            raise IndexProblem(f"{what} has no media type")
        annotations = value.get("annotations") or {}
        if not isinstance(annotations, Mapping) or not all(
                isinstance(v, str) for v in annotations.values()):
            raise IndexProblem(f"{what} has annotations that are not strings")
        platform = value.get("platform")
        return cls(digest, size, media_type,
                   None if platform is None else Platform.from_json(platform, what),
                   dict(annotations),
                   {k: v for k, v in value.items() if k not in _DESCRIPTOR_KEYS})

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                                    "size": self.size, **self.other}
        if self.platform is not None:
            document["platform"] = self.platform.to_json()
        if self.annotations:
            document["annotations"] = dict(self.annotations)
        return document


@record
class ImageIndex:
    """Child descriptors plus the index's own other fields, kept as read."""

    children: tuple[IndexChild, ...]
    media_type: str = OCI_INDEX
    other: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, document: Mapping[str, Any], media_type: str, what: str) -> ImageIndex:
        manifests = document.get("manifests")
        if not isinstance(manifests, list):
            raise IndexProblem(f"{what} is an index without a list of manifests")
        children = tuple(IndexChild.from_json(child, f"{what}, manifest {number}")
                         for number, child in enumerate(manifests, start=1))
        other = {k: v for k, v in document.items()
                 if k not in ("schemaVersion", "mediaType", "manifests")}
        return cls(children, media_type, other)

    def with_children(self, children: tuple[IndexChild, ...]) -> ImageIndex:
        return replace(self, children=children)

    def manifest(self) -> dict[str, Any]:
        return {"schemaVersion": 2, "mediaType": self.media_type,
                "manifests": [child.to_json() for child in self.children], **self.other}

    def manifest_bytes(self) -> bytes:
        return canonical_json(self.manifest())

    def digest(self) -> str:
        return sha256_digest(self.manifest_bytes())


@record
class StoredIndex:
    """An index as read from a backend."""

    index: ImageIndex
    reference: str   # digest reference
    digest: str
    manifest_size: int
