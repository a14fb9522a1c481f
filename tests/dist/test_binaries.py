"""The release artifact (``make dist``) in a builder with no Python at all, as pack puts it
there: its exporter and rebaser are self-contained, and pack 0.12's exact exporter command
lines work there."""

from __future__ import annotations

import json
import os
import tarfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

from lifecycle import __version__
from lifecycle.buildcache import CACHE_LABEL
from lifecycle.platform.inputs import SUPPORTED_PLATFORM_APIS
from tests.dist.conftest import run_to_completion
from tests.dist.pack_descriptor import (
    PACK_0_12_BINARIES,
    platform_pack_builds_with,
    read_as_pack_0_12,
    read_as_pack_current,
)
from tests.harness.dockerd import Dockerd
from tests.harness.images import make_run_image_layout, publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import BUILD_USER, build_of_user

pytestmark = pytest.mark.dist


def in_builder(dockerd: Dockerd, builder: str, lifecycle_dir: Path, command: list[str],
               volumes: dict[str, str] | None = None, at: str = "/cnb/lifecycle",
               **options: Any) -> str:
    """Run ``command`` in the no-Python builder with the archive's lifecycle/ mounted ``at``."""
    binds = {str(lifecycle_dir / "lifecycle"): {"bind": at, "mode": "ro"},
             **{host: {"bind": inside, "mode": "rw"} for host, inside in (volumes or {}).items()}}
    return run_to_completion(dockerd.client, builder, command, binds, **options)


def test_the_archive_is_a_lifecycle(lifecycle_dir: Path) -> None:
    text = (lifecycle_dir / "lifecycle.toml").read_text()
    descriptor = tomllib.loads(text)
    assert descriptor["apis"]["platform"]["supported"] == list(SUPPORTED_PLATFORM_APIS)
    assert descriptor["lifecycle"]["version"]
    # pack 0.12 and pack 0.40 read it (they also want the Go phases: see test_descriptor.py)
    every_phase = [f"lifecycle/{phase}" for phase in (*PACK_0_12_BINARIES, "creator")]
    assert read_as_pack_0_12(text, every_phase).platform == (0, 3)
    assert platform_pack_builds_with(read_as_pack_current(text, every_phase)) == (0, 15)
    for phase in ("exporter", "rebaser", "launcher"):
        assert os.access(lifecycle_dir / "lifecycle" / phase, os.X_OK)


def test_pack_keeps_every_entry_of_the_archive(archive: Path) -> None:
    """pack keeps only ``lifecycle/<name>`` (and reads lifecycle.toml): the one-folder build
    lies flat beside the phases, which are regular executable files, not links."""
    with tarfile.open(archive) as tar:
        members = {member.name: member for member in tar.getmembers()}
    assert [name for name in members if name.count("/") > 1] == []
    assert {name for name in members if "/" not in name} == {"lifecycle.toml", "lifecycle"}
    for phase in ("exporter", "rebaser", "launcher"):
        member = members[f"lifecycle/{phase}"]
        assert member.isfile() and member.mode == 0o755, phase
    assert "lifecycle/cacert.pem" in members  # a package's data file, found by the hook
    assert "lifecycle/launcher.sh" in members  # the exporter's own, outside a builder
    assert any(name.startswith("lifecycle/isal.") for name in members)  # its C extensions


def test_binaries_run_without_python(dockerd: Dockerd, builder: str,
                                     lifecycle_dir: Path) -> None:
    assert "no python" in in_builder(dockerd, builder, lifecycle_dir,
                                     ["sh", "-c", "command -v python3 || echo no python"])
    for phase in ("exporter", "rebaser"):
        assert in_builder(dockerd, builder, lifecycle_dir,
                          [f"/cnb/lifecycle/{phase}", "-version"]).strip() == __version__
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


def test_outside_a_lifecycle_the_exporter_puts_in_its_own_launcher(
        dockerd: Dockerd, builder: str, lifecycle_dir: Path, reachable: Path,
        unique: str) -> None:
    """No /cnb/lifecycle/launcher where the binaries run: the frozen exporter finds the
    launcher it carries in its own folder, and the app runs on it."""
    run, app = f"{unique}/run:v1", f"{unique}/app:latest"
    dockerd.load_layout(make_run_image_layout(reachable / "run-layout", "v1"), run)
    volumes = pack_volumes(reachable)
    write_stack(reachable, run)
    socket = dockerd.host.removeprefix("unix://")
    logs = in_builder(dockerd, builder, lifecycle_dir,
                      ["/opt/lifecycle/exporter", "-daemon", "-run-image", run, "-layers",
                       "/layers", "-stack", "/layers/stack.toml", "-app", "/workspace",
                       "-log-level", "debug", "-process-type", "web", app],
                      {**volumes, socket: "/var/run/docker.sock"}, at="/opt/lifecycle",
                      user="root", working_dir="/layers", environment=pack_env())
    assert "using the bundled launcher" in logs
    assert "hello from the hello layer" in dockerd.run(app)


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
    config = skopeo_inspect(app, config=True)["config"]  # platform API 0.3: pack 0.12 sets none
    assert config["Entrypoint"] == ["/cnb/lifecycle/launcher"]
    assert "CNB_PROCESS_TYPE=web" in config["Env"]
    build = json.loads(config["Labels"]["io.buildpacks.build.metadata"])
    assert build["launcher"] == {"version": __version__, "source": {"git": {  # launcher.toml's
        "repository": "cnb-lifecycle", "commit": ""}}}
