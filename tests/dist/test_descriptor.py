"""lifecycle.toml in our archive and in an overlay on another lifecycle archive, read as
pack 0.12 and pack 0.40 read it (tests/dist/pack_descriptor.py). Fast: the phases here are
stand-in bytes, so no self-contained binary is built."""

from __future__ import annotations

import io
import tarfile
import tomllib
from pathlib import Path

import pytest

from release.build_dist import OURS, lifecycle_toml, overlay
from tests.dist.pack_descriptor import (
    PACK_0_12_BINARIES,
    PackRefuses,
    platform_pack_builds_with,
    read_as_pack_0_12,
    read_as_pack_current,
)

pytestmark = pytest.mark.dist

GO_PHASES = (*PACK_0_12_BINARIES, "rebaser", "creator")
V0_7_2 = '[api]\n  platform = "0.3"\n  buildpack = "0.2"\n\n[lifecycle]\n  version = "0.7.2"\n'
V0_20 = ('[apis]\n[apis.buildpack]\n  deprecated = []\n  supported = ["0.7", "0.10", "0.11"]\n'
         '[apis.platform]\n  deprecated = []\n  supported = ["0.12", "0.13", "0.16"]\n\n'
         '[api]\n  platform = "0.3"\n  buildpack = "0.2"\n\n[lifecycle]\n  version = "0.20.0"\n')
GO_LAUNCHER = (b"\x7fELF...\xff Go buildinf:...build\t-ldflags=\"-s -w -X 'github.com/buildpacks/"
               b"lifecycle/cmd.SCMRepository=github.com/buildpacks/lifecycle' -X 'github.com/"
               b"buildpacks/lifecycle/cmd.SCMCommit=0123abc' -X 'github.com/buildpacks/lifecycle"
               b"/cmd.Version=0.20.0'\"\n...")


def write_archive(path: Path, files: dict[str, bytes], prefix: str = "") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return path


def read_archive(path: Path) -> tuple[list[str], dict[str, bytes]]:
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        return ([m.name for m in members],
                {m.name.removeprefix("./"): tar.extractfile(m).read()  # type: ignore[union-attr]
                 for m in members if m.isfile()})


@pytest.fixture
def ours(tmp_path: Path) -> Path:
    """Our archive as make dist lays it out, with stand-in bytes for the executables."""
    return write_archive(tmp_path / "cnb-lifecycle-0.1.0-linux-x86-64.tgz", {
        "lifecycle.toml": lifecycle_toml(OURS).encode(), "lifecycle/exporter": b"our phases",
        "lifecycle/rebaser": b"our phases", "lifecycle/launcher": b"#!/bin/sh\n"})


def go_lifecycle(tmp_path: Path, name: str, descriptor: str, launcher: bytes = b"go launcher",
                 prefix: str = "") -> Path:
    return write_archive(tmp_path / name, {
        "lifecycle.toml": descriptor.encode(),
        **{f"lifecycle/{phase}": f"go {phase}".encode() for phase in GO_PHASES},
        "lifecycle/launcher": launcher}, prefix)


def test_our_descriptor_has_both_forms_and_no_empty_list() -> None:
    text = lifecycle_toml(OURS)
    document = tomllib.loads(text)
    for kind in ("platform", "buildpack"):
        assert document["apis"][kind]["supported"]
    full = [f"lifecycle/{phase}" for phase in GO_PHASES]
    old = read_as_pack_0_12(text, full)
    assert (old.platform, old.buildpack) == ((0, 3), (0, 2))
    new = read_as_pack_current(text, full)
    assert new.platform_apis == tuple((0, minor) for minor in range(3, 16))
    assert platform_pack_builds_with(new) == (0, 15)


def test_overlay_on_v0_7_2_is_what_pack_0_12_accepts(ours: Path, tmp_path: Path) -> None:
    """v0.7.2's descriptor has only ``[api]`` (pack 0.12 used to crash on our overlay)."""
    base = go_lifecycle(tmp_path, "lifecycle-v0.7.2+linux.x86-64.tgz", V0_7_2, prefix="./")
    names, files = read_archive(overlay(ours, base))
    descriptor = files["lifecycle.toml"].decode()
    accepted = read_as_pack_0_12(descriptor, names)
    assert (accepted.platform, accepted.buildpack) == ((0, 3), (0, 2))
    document = tomllib.loads(descriptor)
    assert document["apis"]["platform"] == {"deprecated": [], "supported": ["0.3"]}
    assert document["apis"]["buildpack"] == {"deprecated": [], "supported": ["0.2"]}
    assert document["lifecycle"]["version"] == "0.7.2+cnb-lifecycle.0.1.0"
    assert read_as_pack_current(descriptor, names).platform_apis == ((0, 3),)
    assert files["lifecycle/exporter"] == files["lifecycle/rebaser"] == b"our phases"
    assert files["lifecycle/launcher"] == b"go launcher"
    launcher = tomllib.loads(files["lifecycle/launcher.toml"].decode())
    assert launcher == {"launcher": {"version": "0.7.2"}}  # no source the binary tells


def test_overlay_on_a_newer_lifecycle_keeps_the_apis_both_implement(ours: Path,
                                                                    tmp_path: Path) -> None:
    base = go_lifecycle(tmp_path, "lifecycle-v0.20.0+linux.x86-64.tgz", V0_20, GO_LAUNCHER)
    names, files = read_archive(overlay(ours, base))
    descriptor = files["lifecycle.toml"].decode()
    document = tomllib.loads(descriptor)
    assert document["apis"]["platform"]["supported"] == ["0.12", "0.13"]
    assert document["apis"]["buildpack"]["supported"] == ["0.7", "0.10"]
    assert document["api"] == {"platform": "0.12", "buildpack": "0.7"}
    new = read_as_pack_current(descriptor, names)
    assert platform_pack_builds_with(new) == (0, 13)
    assert platform_pack_builds_with(new, ["0.12"]) == (0, 12)
    with pytest.raises(PackRefuses, match="incompatible"):  # honest: no 0.3 in both
        read_as_pack_0_12(descriptor, names)
    for phase in GO_PHASES:
        assert f"lifecycle/{phase}" in files
    assert files["lifecycle/creator"] == b"go creator"
    assert tomllib.loads(files["lifecycle/launcher.toml"].decode()) == {"launcher": {
        "version": "0.20.0", "source": {"git": {"repository": "github.com/buildpacks/lifecycle",
                                                "commit": "0123abc"}}}}


def test_a_version_either_side_deprecates_stays_deprecated(ours: Path, tmp_path: Path) -> None:
    base = go_lifecycle(tmp_path, "lifecycle-v0.9.0+linux.x86-64.tgz",
                        '[apis]\n[apis.buildpack]\n  deprecated = ["0.2"]\n  supported = '
                        '["0.3"]\n[apis.platform]\n  deprecated = ["0.3"]\n  supported = '
                        '["0.4"]\n[lifecycle]\n  version = "0.9.0"\n')
    document = tomllib.loads(read_archive(overlay(ours, base))[1]["lifecycle.toml"].decode())
    assert document["apis"]["platform"] == {"deprecated": ["0.3"], "supported": ["0.4"]}
    assert document["api"] == {"platform": "0.3", "buildpack": "0.2"}


def test_no_api_in_common_writes_no_archive(ours: Path, tmp_path: Path) -> None:
    base = go_lifecycle(tmp_path, "lifecycle-v9.0.0+linux.x86-64.tgz",
                        '[api]\n  platform = "0.99"\n  buildpack = "0.2"\n'
                        '[lifecycle]\n  version = "9.0.0"\n')
    with pytest.raises(SystemExit, match="no platform API is implemented by both"):
        overlay(ours, base)
    assert not list(tmp_path.glob("lifecycle-v9.0.0+linux.x86-64+*"))
