"""Which child of an index serves which platform: pure, no backend.

An index is usable when every child that names a platform names a different one and none of
them is an index itself (we follow one level: a name points at an index, the index at
images). Children without a platform, or for ``unknown/unknown`` (the attestation manifests
docker buildx adds), serve no platform; they are kept when an index is rewritten unless they
describe a child that is gone.
"""

from __future__ import annotations

from lifecycle.image.index import ImageIndex, IndexChild, IndexProblem, Platform
from lifecycle.image.model import INDEX_TYPES

DEFAULT_PLATFORM = Platform("linux", "amd64")
REFERENCED_CHILD = "vnd.docker.reference.digest"
"""The annotation by which an attestation manifest names the image it describes."""


class MissingPlatform(IndexProblem):
    """The index has no child for the platform asked for."""

    def __init__(self, what: str, wanted: Platform, available: list[str]) -> None:
        listed = ", ".join(available) or "none"
        super().__init__(f"{what} has no image for platform {wanted} (it has: {listed})")
        self.wanted, self.available = wanted, available


def serves_platform(child: IndexChild) -> bool:
    return child.platform is not None and child.platform.key[:2] != ("unknown", "unknown")


def platform_children(index: ImageIndex) -> tuple[IndexChild, ...]:
    return tuple(child for child in index.children if serves_platform(child))


def available(index: ImageIndex) -> list[str]:
    return [str(child.platform) for child in platform_children(index)]


def check_index(index: ImageIndex, what: str) -> None:
    """Refuse a nested index or two children for one platform, naming the image."""
    seen: dict[tuple[str, str, str, str], Platform] = {}
    for child in index.children:
        if child.media_type in INDEX_TYPES:
            raise IndexProblem(f"{what} is a nested index: its child {child.digest} is an "
                               "index itself, which is not supported")
        if not serves_platform(child):
            continue
        assert child.platform is not None
        if child.platform.key in seen:
            raise IndexProblem(f"{what} lists platform {child.platform} more than once")
        seen[child.platform.key] = child.platform


def choose(index: ImageIndex, wanted: Platform, what: str) -> IndexChild:
    """The child for ``wanted``; an index whose single child names no platform serves any."""
    for child in platform_children(index):
        assert child.platform is not None
        if child.platform.matches(wanted):
            return child
    if len(index.children) == 1 and index.children[0].platform is None:
        return index.children[0]
    raise MissingPlatform(what, wanted, available(index))


def put_child(index: ImageIndex, child: IndexChild) -> tuple[ImageIndex, IndexChild | None]:
    """``index`` with ``child`` in place of the child for its platform (or added last), and
    the child it replaced. Attestations of the replaced child go with it."""
    assert child.platform is not None
    replaced = next((old for old in platform_children(index)
                     if old.platform is not None and old.platform.key == child.platform.key),
                    None)
    if replaced is None:
        return index.with_children((*index.children, child)), None
    children = tuple(child if old is replaced else old for old in index.children
                     if old.annotations.get(REFERENCED_CHILD) != replaced.digest)
    return index.with_children(children), replaced


def replace_children(index: ImageIndex, new: dict[str, IndexChild]) -> ImageIndex:
    """``index`` with each child whose digest is a key of ``new`` replaced by its value, in
    place; attestations of replaced children are dropped."""
    return index.with_children(tuple(
        new.get(child.digest, child) for child in index.children
        if child.annotations.get(REFERENCED_CHILD) not in new))
