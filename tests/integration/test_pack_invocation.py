"""pack 0.12's exact exporter command lines, replayed as root with the build's user set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lifecycle.buildcache import CACHE_LABEL
from lifecycle.platform.api import PlatformAPI
from lifecycle.samplebuild import SampleBuild
from tests.harness.dockerd import Dockerd
from tests.harness.images import make_run_image_layout, publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import (
    BUILD_USER,
    BUILD_USER_ENV,
    Result,
    build_of_user,
    run_phase,
)
from tests.integration.test_platform_apis import check_image

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="pack runs the exporter as root")

def pack_build(root: Path, run_image: str) -> SampleBuild:
    """The build as pack leaves it: group.toml and stack.toml in /layers, owned by the user."""
    build = build_of_user(root)
    (build.layers_dir / "stack.toml").write_text(f'[run-image]\nimage = "{run_image}"\n')
    os.lchown(build.layers_dir / "stack.toml", BUILD_USER, BUILD_USER)
    return build


def pack_exporter(build: SampleBuild, run: str, cache: Path, app: str, env: dict[str, str],
                  *leading: str) -> Result:
    """The exporter exactly as pack 0.12 runs it: ``leading`` (``-daemon -launch-cache X``
    or nothing), then its fixed flags in its order, the image name last, from /layers."""
    return run_phase("exporter", *leading, "-run-image", run, "-cache-dir", str(cache),
                     "-layers", str(build.layers_dir), "-stack",
                     str(build.layers_dir / "stack.toml"), "-app", str(build.app_dir),
                     "-log-level", "debug", "-process-type", "web", app,
                     env={**BUILD_USER_ENV, **env}, cwd=build.layers_dir)


@pytest.mark.daemon
def test_pack_daemon_command_line(dockerd: Dockerd, reachable_dir: Path, unique: str) -> None:
    run = f"{unique}/run:v1"
    dockerd.load_layout(make_run_image_layout(reachable_dir / "run", "v1"), run)
    build = pack_build(reachable_dir, run)
    cache, launch_cache = reachable_dir / "cache", reachable_dir / "launch-cache"
    app = f"{unique}/app"

    env = {"DOCKER_HOST": dockerd.host}
    daemon = ("-daemon", "-launch-cache", str(launch_cache))
    first = pack_exporter(build, run, cache, app, env, *daemon)
    assert first.code == 0, first.output
    assert "Adding cache layer 'examples_cache:deps'" in first.stdout
    assert "hello from the hello layer" in dockerd.run(app)
    assert json.loads((cache / "committed" / CACHE_LABEL).read_text())["buildpacks"]
    assert list((launch_cache / "committed").glob("sha256:*.tar"))
    report = build.layers_dir / "report.toml"
    assert (report.stat().st_uid, report.stat().st_gid) == (BUILD_USER, BUILD_USER)
    assert "image-id" in report.read_text()

    second = pack_exporter(build, run, cache, app, env, *daemon)
    assert second.code == 0, second.output
    assert "Reusing cache layer 'examples_cache:deps'" in second.stdout
    assert "Adding layer" not in second.stdout


@pytest.mark.registry
def test_pack_publish_command_line(registries: Registries, reachable_dir: Path,
                                   unique: str) -> None:
    run = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(reachable_dir, [run])
    build = pack_build(reachable_dir, run)
    cache, app = reachable_dir / "cache", f"{registries.one.host}/{unique}/app:latest"
    for attempt in range(2):
        result = pack_exporter(build, run, cache, app, {"CNB_REGISTRY_AUTH": "{}"})
        assert result.code == 0, result.output
        verb = "Adding" if attempt == 0 else "Reusing"
        assert f"{verb} cache layer 'examples_cache:deps'" in result.stdout
    # Platform API 0.3 (pack 0.12 sets none), field by field: the launcher as the entry point
    # told the process in CNB_PROCESS_TYPE, "command" a string, "bom" null, no history texts.
    label = check_image(PlatformAPI(0, 3), skopeo_inspect(app, config=True), build.app_dir)
    assert label["stack"] == {"runImage": {"image": run}}
    assert "image" not in label["runImage"]
