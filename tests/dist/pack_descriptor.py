"""lifecycle.toml and a lifecycle archive read the way pack reads them, so that a test can say
"pack 0.12 accepts this" and "pack 0.40 accepts this" without the pack binaries.

Written from pack's sources (``internal/builder/lifecycle.go`` at v0.12.0;
``internal/builder/descriptor.go``, ``lifecycle.go`` and ``internal/build/`` at v0.40):

* pack 0.12 decodes only ``[lifecycle] version`` (a semantic version) and ``[api] buildpack,
  platform`` (``<major>.<minor>``), into pointers: a missing ``platform`` is a nil pointer that
  ``(*lifecycle).binaries`` dereferences (the crash issue reports show). It needs ``detector,
  restorer, analyzer, builder, exporter, launcher`` in the archive and builds only when the
  platform API equals one of its own, 0.2 or 0.3.
* pack 0.13 and later decode ``[apis.<kind>] supported, deprecated`` as well; when the lists are
  there the earliest of them replaces ``[api]``, otherwise ``[api]`` fills the lists. They also
  need ``creator``, and build with the latest platform API that pack, the builder's lifecycle
  and (with ``--lifecycle-image``) that image's ``io.buildpacks.lifecycle.apis`` label share.
* Both put a lifecycle archive into a builder the same way (``internal/builder/builder.go``,
  ``embedLifecycleTar``): only the entries named ``<dir>/<name>`` are kept, each written as
  ``/cnb/lifecycle/<name>`` with its header (type, mode, link target) unchanged; anything
  deeper is dropped.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

Version = tuple[int, int]

_API_VERSION = re.compile(r"^v?(\d+)\.(\d+)$")
_SEMVER = re.compile(r"^v?\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
_ARCHIVE_ENTRY = re.compile(r"^[^/]+/([^/]+)$")
PACK_0_12_BINARIES = ("detector", "restorer", "analyzer", "builder", "exporter", "launcher")
PACK_0_12_PLATFORM_APIS = ((0, 2), (0, 3))
PACK_0_40_PLATFORM_APIS = tuple((0, minor) for minor in range(3, 16))


class PackRefuses(Exception):
    """What pack would print (or, for pack 0.12's nil pointer, where it would crash)."""


def api_version(text: object) -> Version:
    match = _API_VERSION.match(text) if isinstance(text, str) else None
    if match is None:
        raise PackRefuses(f"invalid api version {text!r}")
    return int(match.group(1)), int(match.group(2))


def _lifecycle_version(document: dict[str, object]) -> str:
    info = document.get("lifecycle")
    version = info.get("version") if isinstance(info, dict) else None
    if not isinstance(version, str) or not _SEMVER.match(version):
        raise PackRefuses(f"lifecycle version must be specified (got {version!r})")
    return version


def _binaries(names: Iterable[str]) -> set[str]:
    return {match.group(1) for name in names
            if (match := _ARCHIVE_ENTRY.match(posixpath.normpath(name)))}


@dataclass(frozen=True)
class Pack012:
    platform: Version
    buildpack: Version


def read_as_pack_0_12(descriptor: str, archive_names: Iterable[str]) -> Pack012:
    document = tomllib.loads(descriptor)
    version_table = document.get("api", {})
    _lifecycle_version(document)
    if "platform" not in version_table:
        raise PackRefuses("panic: nil pointer dereference in (*lifecycle).binaries")
    platform = api_version(version_table["platform"])
    missing = set(PACK_0_12_BINARIES) - _binaries(archive_names)
    if missing:
        raise PackRefuses(f"validating binaries: did not find '{sorted(missing)[0]}' in tar")
    if "buildpack" not in version_table:
        raise PackRefuses("lifecycle buildpack api version must be specified in builder")
    if platform not in PACK_0_12_PLATFORM_APIS:
        raise PackRefuses("Builder is incompatible with this version of pack")
    return Pack012(platform, api_version(version_table["buildpack"]))


@dataclass(frozen=True)
class PackCurrent:
    platform_apis: tuple[Version, ...]  # deprecated + supported, as pack appends them
    buildpack_apis: tuple[Version, ...]
    earliest_platform: Version  # what pack shows for the deprecated [api] field


def read_as_pack_current(descriptor: str, archive_names: Iterable[str]) -> PackCurrent:
    document = tomllib.loads(descriptor)
    _lifecycle_version(document)

    def listed(kind: str) -> tuple[Version, ...]:
        table = document.get("apis", {}).get(kind, {})
        return tuple(api_version(v) for v in (*table.get("deprecated", ()),
                                              *table.get("supported", ())))

    platform, buildpack = listed("platform"), listed("buildpack")
    old = document.get("api", {})
    if not platform and not buildpack and "platform" in old and "buildpack" in old:
        platform, buildpack = (api_version(old["platform"]),), (api_version(old["buildpack"]),)
    found = _binaries(archive_names)
    for binary in (*PACK_0_12_BINARIES, "creator"):
        if binary not in found and f"{binary}.exe" not in found:
            raise PackRefuses(f"validating binaries: did not find '{binary}' in tar")
    return PackCurrent(platform, buildpack, min(platform) if platform else (0, 0))


def platform_pack_builds_with(builder: PackCurrent,
                              lifecycle_image_apis: Sequence[str] = ()) -> Version:
    """The platform API pack 0.40 would run the phases with (``FindLatestSupported``)."""
    apis = set(builder.platform_apis)
    if lifecycle_image_apis:
        apis &= {api_version(v) for v in lifecycle_image_apis}
    for version in reversed(PACK_0_40_PLATFORM_APIS):
        if version in apis:
            return version
    raise PackRefuses("unable to find a supported Platform API version")


def embed_as_pack(archive: Path, lifecycle_dir: Path) -> None:
    """The archive's entries that pack puts into a builder's /cnb/lifecycle, written into
    ``lifecycle_dir`` as pack names them."""
    lifecycle_dir.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if matched := _ARCHIVE_ENTRY.match(posixpath.normpath(member.name)):
                member.name = matched.group(1)
                tar.extract(member, lifecycle_dir, filter="tar")
