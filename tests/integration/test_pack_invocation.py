"""pack 0.12's exact exporter command lines, replayed as root with the build's user set."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifecycle.buildcache import CACHE_LABEL
from lifecycle.samplebuild import SampleBuild, write_sample_build
from tests.harness.dockerd import Dockerd
from tests.harness.images import make_run_image_layout, publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import Result, run_phase

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="pack runs the exporter as root")

USER = 2345
PACK_ENV = {"CNB_USER_ID": str(USER), "CNB_GROUP_ID": str(USER)}


@pytest.fixture
def volumes() -> Iterator[Path]:
    """Where pack's volumes would be: /layers, /workspace, /cache, /launch-cache."""
    root = Path(tempfile.mkdtemp(prefix="cnb-pack-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def pack_build(root: Path, run_image: str) -> SampleBuild:
    """The build as pack leaves it: group.toml and stack.toml in /layers, owned by the user."""
    build = write_sample_build(root / "build")
    (build.layers_dir / "stack.toml").write_text(f'[run-image]\nimage = "{run_image}"\n')
    for path in (root / "build", *(root / "build").rglob("*")):
        os.lchown(path, USER, USER)
    return build


def pack_exporter(build: SampleBuild, run: str, cache: Path, app: str, env: dict[str, str],
                  *leading: str) -> Result:
    """The exporter exactly as pack 0.12 runs it: ``leading`` (``-daemon -launch-cache X``
    or nothing), then its fixed flags in its order, the image name last, from /layers."""
    return run_phase("exporter", *leading, "-run-image", run, "-cache-dir", str(cache),
                     "-layers", str(build.layers_dir), "-stack",
                     str(build.layers_dir / "stack.toml"), "-app", str(build.app_dir),
                     "-log-level", "debug", "-process-type", "web", app,
                     env={**PACK_ENV, **env}, cwd=build.layers_dir)


@pytest.mark.daemon
def test_pack_daemon_command_line(dockerd: Dockerd, volumes: Path, unique: str) -> None:
    run = f"{unique}/run:v1"
    dockerd.load_layout(make_run_image_layout(volumes / "run", "v1"), run)
    build = pack_build(volumes, run)
    cache, launch_cache, app = volumes / "cache", volumes / "launch-cache", f"{unique}/app"

    env = {"DOCKER_HOST": dockerd.host}
    daemon = ("-daemon", "-launch-cache", str(launch_cache))
    first = pack_exporter(build, run, cache, app, env, *daemon)
    assert first.code == 0, first.output
    assert "Adding cache layer 'examples_cache:deps'" in first.stdout
    assert "hello from the hello layer" in dockerd.run(app)
    assert json.loads((cache / "committed" / CACHE_LABEL).read_text())["buildpacks"]
    assert list((launch_cache / "committed").glob("sha256:*.tar"))
    report = build.layers_dir / "report.toml"
    assert (report.stat().st_uid, report.stat().st_gid) == (USER, USER)
    assert "image-id" in report.read_text()

    second = pack_exporter(build, run, cache, app, env, *daemon)
    assert second.code == 0, second.output
    assert "Reusing cache layer 'examples_cache:deps'" in second.stdout
    assert "Adding layer" not in second.stdout


@pytest.mark.registry
def test_pack_publish_command_line(registries: Registries, volumes: Path, unique: str) -> None:
    run = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(volumes, [run])
    build = pack_build(volumes, run)
    cache, app = volumes / "cache", f"{registries.one.host}/{unique}/app:latest"
    for attempt in range(2):
        result = pack_exporter(build, run, cache, app, {"CNB_REGISTRY_AUTH": "{}"})
        assert result.code == 0, result.output
        verb = "Adding" if attempt == 0 else "Reusing"
        assert f"{verb} cache layer 'examples_cache:deps'" in result.stdout
    config = skopeo_inspect(app, config=True)["config"]
    assert config["Entrypoint"] == ["/cnb/process/web"]
