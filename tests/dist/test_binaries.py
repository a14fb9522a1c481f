"""The release artifact (``make dist``) in a builder with no Python at all: its exporter and
rebaser are self-contained, and pack 0.12's exact exporter command lines work there."""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
import shutil
import tarfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lifecycle.buildcache import CACHE_LABEL
from lifecycle.platform.inputs import SUPPORTED_PLATFORM_APIS
from release.build_dist import overlay
from tests.harness.dockerd import Dockerd
from tests.harness.images import make_run_image_layout, publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import BUILD_USER, build_of_user

pytestmark = pytest.mark.dist


@pytest.fixture
def reachable(tmp_path: Path) -> Iterator[Path]:
    root = Path("/tmp") / f"cnb-dist-{tmp_path.name}"
    root.mkdir(mode=0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def in_builder(dockerd: Dockerd, builder: str, lifecycle_dir: Path, command: list[str],
               volumes: dict[str, str] | None = None, **options: Any) -> str:
    """Run ``command`` in the no-Python builder with /cnb/lifecycle from the archive."""
    binds = {str(lifecycle_dir / "lifecycle"): {"bind": "/cnb/lifecycle", "mode": "ro"},
             **{host: {"bind": inside, "mode": "rw"} for host, inside in (volumes or {}).items()}}
    container = dockerd.client.containers.run(builder, command, volumes=binds, detach=True,
                                              **{"network_mode": "host", **options})
    try:
        status = container.wait(timeout=300)
        logs = container.logs().decode()
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, logs
    return str(logs)


def test_the_archive_is_a_lifecycle(lifecycle_dir: Path) -> None:
    descriptor = tomllib.loads((lifecycle_dir / "lifecycle.toml").read_text())
    assert descriptor["apis"]["platform"]["supported"] == list(SUPPORTED_PLATFORM_APIS)
    assert descriptor["lifecycle"]["version"]
    for phase in ("exporter", "rebaser", "launcher"):
        assert os.access(lifecycle_dir / "lifecycle" / phase, os.X_OK)


def test_binaries_run_without_python(dockerd: Dockerd, builder: str,
                                     lifecycle_dir: Path) -> None:
    assert "no python" in in_builder(dockerd, builder, lifecycle_dir,
                                     ["sh", "-c", "command -v python3 || echo no python"])
    assert in_builder(dockerd, builder, lifecycle_dir,
                      ["/cnb/lifecycle/exporter", "-version"]).strip()
    assert "Usage: rebaser" in in_builder(dockerd, builder, lifecycle_dir,
                                          ["/cnb/lifecycle/rebaser", "-h"])


def pack_env(**more: str) -> dict[str, str]:
    return {"CNB_USER_ID": str(BUILD_USER), "CNB_GROUP_ID": str(BUILD_USER), **more}


def pack_volumes(root: Path) -> dict[str, str]:
    build = build_of_user(root)
    for cache in ("cache", "launch-cache"):
        (root / cache).mkdir()
    return {str(build.layers_dir): "/layers", str(build.app_dir): "/workspace",
            str(root / "cache"): "/cache", str(root / "launch-cache"): "/launch-cache"}


def write_stack(root: Path, run_image: str) -> None:
    stack = root / "build" / "layers" / "stack.toml"
    stack.write_text(f'[run-image]\nimage = "{run_image}"\n')
    os.lchown(stack, BUILD_USER, BUILD_USER)


def test_pack_daemon_command_line_in_the_builder(dockerd: Dockerd, builder: str,
                                                 lifecycle_dir: Path, reachable: Path,
                                                 unique: str) -> None:
    run, app = f"{unique}/run:v1", f"{unique}/app:latest"
    dockerd.load_layout(make_run_image_layout(reachable / "run-layout", "v1"), run)
    volumes = pack_volumes(reachable)
    write_stack(reachable, run)
    socket = dockerd.host.removeprefix("unix://")
    command = ["/cnb/lifecycle/exporter", "-daemon", "-launch-cache", "/launch-cache",
               "-run-image", run, "-cache-dir", "/cache", "-layers", "/layers", "-stack",
               "/layers/stack.toml", "-app", "/workspace", "-log-level", "debug",
               "-process-type", "web", app]
    for attempt in range(2):
        logs = in_builder(dockerd, builder, lifecycle_dir, command,
                          {**volumes, socket: "/var/run/docker.sock"}, user="root",
                          working_dir="/layers", environment=pack_env())
        verb = "Adding" if attempt == 0 else "Reusing"
        assert f"{verb} cache layer 'examples_cache:deps'" in logs
    assert "hello from the hello layer" in dockerd.run(app)
    assert json.loads((reachable / "cache" / "committed" / CACHE_LABEL).read_text())
    assert list((reachable / "launch-cache" / "committed").glob("sha256:*.tar"))


def test_pack_publish_command_line_in_the_builder(dockerd: Dockerd, builder: str,
                                                  lifecycle_dir: Path, reachable: Path,
                                                  registries: Registries, unique: str) -> None:
    run = f"{registries.one.host}/{unique}/run:v1"
    app = f"{registries.one.host}/{unique}/app:latest"
    publish_run_image(reachable / "run-layout", [run])
    volumes = pack_volumes(reachable)
    write_stack(reachable, run)
    command = ["/cnb/lifecycle/exporter", "-run-image", run, "-cache-dir", "/cache", "-layers",
               "/layers", "-stack", "/layers/stack.toml", "-app", "/workspace",
               "-process-type", "web", app]
    logs = in_builder(dockerd, builder, lifecycle_dir, command, volumes, user="root",
                      working_dir="/layers", environment=pack_env(CNB_REGISTRY_AUTH="{}"))
    assert "Adding cache layer 'examples_cache:deps'" in logs
    assert skopeo_inspect(app, config=True)["config"]["Entrypoint"] == ["/cnb/process/web"]


PACK_REQUIRED = ("detector", "restorer", "analyzer", "builder", "exporter", "launcher")


def test_overlay_on_another_lifecycle_passes_packs_validation(archive: Path,
                                                              lifecycle_dir: Path,
                                                              tmp_path: Path) -> None:
    """pack wants every phase in a builder's lifecycle; ours go over the others'."""
    base = tmp_path / "lifecycle-v0.20.0+linux.x86-64.tgz"
    with tarfile.open(base, "w:gz") as tar:
        descriptor = ('[apis]\n[apis.buildpack]\n  deprecated = []\n  supported = ["0.7", '
                      '"0.10", "0.11"]\n[apis.platform]\n  deprecated = []\n  supported = '
                      '["0.12", "0.13", "0.16"]\n\n[lifecycle]\n  version = "0.20.0"\n')
        for name, data in (("lifecycle.toml", descriptor.encode()),
                           *((f"lifecycle/{phase}", f"go {phase}".encode())
                             for phase in (*PACK_REQUIRED, "rebaser", "creator"))):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    merged = overlay(archive, base)

    with tarfile.open(merged) as tar:
        names = {match.group(1) for member in tar.getmembers()
                 if (match := re.match(r"^[^/]+/([^/]+)$", posixpath.normpath(member.name)))}
        assert set(PACK_REQUIRED) <= names  # pack's validateBinaries
        read = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    ours = (lifecycle_dir / "lifecycle" / "exporter").read_bytes()
    assert read["lifecycle/exporter"] == ours and read["lifecycle/rebaser"] == ours
    assert read["lifecycle/launcher"] == b"go launcher"  # theirs is kept
    assert read["lifecycle/creator"] == b"go creator"
    descriptor = tomllib.loads(read["lifecycle.toml"].decode())
    assert descriptor["apis"]["platform"]["supported"] == ["0.12", "0.13"]
    assert descriptor["apis"]["buildpack"]["supported"] == ["0.7", "0.10"]
    assert descriptor["lifecycle"]["version"].startswith("0.20.0+cnb-lifecycle.")
