"""The image a name holds for one platform, and which platform the exporter builds for.

A name may hold an image or an index of images (one per platform). Both phases read their
base this way: the exporter the run image's child for its target platform, the rebaser the
new run image's child for each app image's platform. Writing indexes, and rebasing an app
index child by child, is :mod:`lifecycle.multiplatform`, which only a run that meets an
index imports.
"""

from __future__ import annotations

from lifecycle.backends.base import ImageStore
from lifecycle.image import platforms
from lifecycle.image.index import Platform, StoredIndex
from lifecycle.image.model import StoredImage
from lifecycle.platform import files
from lifecycle.platform.api import Features
from lifecycle.record import record
from lifecycle.reference import Reference


@record
class TargetPlatform:
    """The platform the exporter builds for, and why."""

    platform: Platform
    reason: str
    asked: bool   # named by the platform (a single-image run image must then be for it)


def export_platform(flag: Platform | None, analyzed: files.Analyzed | None,
                    features: Features) -> TargetPlatform:
    """``-platform``, else analyzed.toml's run-image target (0.12 on), else linux/amd64."""
    if flag is not None:
        return TargetPlatform(flag, "given with -platform", True)
    target = analyzed.run_image.target if analyzed and analyzed.run_image else None
    if features.analyzed_run_image_target and target is not None and target.os and target.arch:
        return TargetPlatform(Platform(target.os, target.arch, target.variant),
                              "the run image's target in analyzed.toml", True)
    return TargetPlatform(platforms.DEFAULT_PLATFORM, "the default", False)


def read_for_platform(store: ImageStore, ref: Reference, wanted: Platform,
                      check_single: bool) -> StoredImage:
    """The image ``ref`` names for ``wanted``: its child if ``ref`` is an index, else the
    image itself, which must be for ``wanted`` if ``check_single``.

    Raises :class:`~lifecycle.image.platforms.MissingPlatform` (listing what there is), or
    the backend's errors.
    """
    what = f"image '{ref}'"
    top = store.read_index(ref)
    if isinstance(top, StoredIndex):
        return store.read_child(ref, platforms.choose(top.index, wanted, what))
    has = Platform.of_image(top.image)
    if check_single and not has.matches(wanted):
        raise platforms.MissingPlatform(what, wanted, [str(has)])
    return top
