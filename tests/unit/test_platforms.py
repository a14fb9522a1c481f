"""The index model and platform choice (pure): parsing, checks, choosing and replacing."""

from __future__ import annotations

from typing import Any

import pytest

from lifecycle.image.index import ImageIndex, IndexChild, IndexProblem, Platform
from lifecycle.image.model import OCI_INDEX, OCI_MANIFEST
from lifecycle.image.platforms import (
    REFERENCED_CHILD,
    MissingPlatform,
    available,
    check_index,
    choose,
    put_child,
    replace_children,
)


def digest(n: int) -> str:
    return "sha256:" + f"{n:x}".rjust(64, "0")


def descriptor(n: int, platform: dict[str, str] | None = None, **more: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": digest(n), "size": 100 + n,
                             **more}
    if platform is not None:
        entry["platform"] = platform
    return entry


def index_of(*descriptors: dict[str, Any], **fields: Any) -> ImageIndex:
    return ImageIndex.parse({"schemaVersion": 2, "mediaType": OCI_INDEX,
                             "manifests": list(descriptors), **fields}, OCI_INDEX, "image 'x'")


AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64", "variant": "v8"}


@pytest.mark.parametrize(("text", "expected"), [
    ("linux/amd64", Platform("linux", "amd64")),
    ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
    ("windows/amd64", Platform("windows", "amd64")),
])
def test_platform_parses_os_arch_and_variant(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected
    assert str(Platform.parse(text)) == text


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "linux/arm64/v8/x", "Linux/AMD64",
                                  "linux amd64", ""])
def test_malformed_platform_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="os/arch\\[/variant\\]"):
        Platform.parse(text)


def test_arm64_without_variant_is_arm64_v8() -> None:
    assert Platform("linux", "arm64").matches(Platform("linux", "arm64", "v8"))
    assert Platform("linux", "arm64", "v8").matches(Platform("linux", "arm64"))
    assert not Platform("linux", "arm", "v6").matches(Platform("linux", "arm", "v7"))
    assert not Platform("linux", "amd64").matches(Platform("linux", "arm64"))


def test_choose_finds_the_platform_or_lists_what_there_is() -> None:
    index = index_of(descriptor(1, AMD64), descriptor(2, ARM64),
                     descriptor(3, {"os": "unknown", "architecture": "unknown"},
                                annotations={REFERENCED_CHILD: digest(1)}))
    check_index(index, "image 'x'")
    assert choose(index, Platform.parse("linux/arm64"), "image 'x'").digest == digest(2)
    assert available(index) == ["linux/amd64", "linux/arm64/v8"]
    with pytest.raises(MissingPlatform) as missing:
        choose(index, Platform.parse("linux/s390x"), "image 'x'")
    assert str(missing.value) == ("image 'x' has no image for platform linux/s390x "
                                  "(it has: linux/amd64, linux/arm64/v8)")


def test_an_index_of_one_image_without_platform_serves_any() -> None:
    index = index_of(descriptor(1))
    assert choose(index, Platform.parse("linux/arm64"), "image 'x'").digest == digest(1)


@pytest.mark.parametrize(("index", "message"), [
    (lambda: index_of(descriptor(1, AMD64), descriptor(2, AMD64)),
     "image 'x' lists platform linux/amd64 more than once"),
    (lambda: index_of(descriptor(1, {"os": "linux", "architecture": "arm64"}),
                      descriptor(2, ARM64)),
     "image 'x' lists platform linux/arm64/v8 more than once"),
    (lambda: index_of(descriptor(1, AMD64, mediaType=OCI_INDEX)),
     "image 'x' is a nested index"),
])
def test_duplicate_platforms_and_nested_indexes_are_refused(index: Any, message: str) -> None:
    with pytest.raises(IndexProblem, match=message.replace("(", "\\(")):
        check_index(index(), "image 'x'")


@pytest.mark.parametrize(("document", "message"), [
    ({"manifests": "none"}, "image 'x' is an index without a list of manifests"),
    ({"manifests": [{"digest": "sha256:abc", "size": 1, "mediaType": OCI_MANIFEST}]},
     "image 'x', manifest 1 has no sha256 digest"),
    ({"manifests": [{"digest": digest(1), "size": -1, "mediaType": OCI_MANIFEST}]},
     "image 'x', manifest 1 has no valid size"),
    ({"manifests": [{"digest": digest(1), "size": 1}]}, "image 'x', manifest 1 has no media type"),
    ({"manifests": [descriptor(1, {"os": "linux"})]},
     "image 'x', manifest 1: a platform needs an os and an architecture"),
    ({"manifests": ["just text"]}, "image 'x', manifest 1 is not a descriptor object"),
])
def test_malformed_index_names_the_image(document: dict[str, Any], message: str) -> None:
    with pytest.raises(IndexProblem, match=message):
        ImageIndex.parse(document, OCI_INDEX, "image 'x'")


def test_an_index_keeps_its_own_fields_and_each_descriptors() -> None:
    original = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                "manifests": [descriptor(1, AMD64, annotations={"a": "1"}, urls=["u"])],
                "annotations": {"org.opencontainers.image.title": "app"}}
    index = ImageIndex.parse(original, OCI_INDEX, "image 'x'")
    assert index.manifest() == {
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest(1), "size": 101,
                       "urls": ["u"], "platform": {"architecture": "amd64", "os": "linux"},
                       "annotations": {"a": "1"}}],
        "annotations": {"org.opencontainers.image.title": "app"}}


def test_put_child_replaces_the_same_platform_and_its_attestation() -> None:
    index = index_of(descriptor(1, AMD64), descriptor(2, ARM64),
                     descriptor(3, {"os": "unknown", "architecture": "unknown"},
                                annotations={REFERENCED_CHILD: digest(2)}),
                     annotations={"kept": "yes"})
    new_arm = IndexChild(digest(9), 9, OCI_MANIFEST, Platform("linux", "arm64"))
    replaced_index, replaced = put_child(index, new_arm)
    assert replaced is not None and replaced.digest == digest(2)
    assert [c.digest for c in replaced_index.children] == [digest(1), digest(9)]
    assert replaced_index.other == {"annotations": {"kept": "yes"}}

    s390x = IndexChild(digest(8), 8, OCI_MANIFEST, Platform("linux", "s390x"))
    added, none = put_child(index, s390x)
    assert none is None and added.children[-1] == s390x and len(added.children) == 4


def test_replace_children_keeps_order_and_descriptor_fields() -> None:
    index = index_of(descriptor(1, AMD64, annotations={"a": "1"}), descriptor(2, ARM64))
    first = index.children[0]
    new = {digest(1): IndexChild(digest(7), 7, OCI_MANIFEST, first.platform, first.annotations)}
    rewritten = replace_children(index, new)
    assert [c.digest for c in rewritten.children] == [digest(7), digest(2)]
    assert rewritten.children[0].annotations == {"a": "1"}
