"""``-launch-cache`` with ``-daemon``: reused layers come from the cache, never from docker save."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lifecycle.samplebuild import SampleBuild
from tests.harness.dockerd import Dockerd
from tests.harness.images import make_run_image_layout
from tests.integration.conftest import Result, export_args, run_phase, write_stack

pytestmark = pytest.mark.daemon


def export(dockerd: Dockerd, build: SampleBuild, stack: Path, app: str, *flags: str) -> Result:
    result = run_phase("exporter", "-daemon", *flags, *export_args(build, stack, app),
                       env={"DOCKER_HOST": dockerd.host})
    assert result.code == 0, result.output
    return result


def test_reused_layers_on_a_new_base_come_from_the_launch_cache(
        dockerd: Dockerd, build: SampleBuild, tmp_path: Path, unique: str) -> None:
    run, app = f"{unique}/run:v1", f"{unique}/app:latest"
    cache = tmp_path / "launch-cache"
    dockerd.load_layout(make_run_image_layout(tmp_path / "v1", "v1"), run)
    stack = write_stack(tmp_path / "stack.toml", run, [])
    first = export(dockerd, build, stack, app, "-launch-cache", str(cache))
    committed = sorted(path.name for path in (cache / "committed").glob("sha256:*.tar"))
    assert len(committed) >= 5  # every layer the exporter added: buildpack, app, lifecycle
    assert "docker save" not in first.output

    # A new run image under the same name: every app-side layer is reused, but on the new
    # base the daemon has none of them; they must come from the cache, not a docker save.
    dockerd.load_layout(make_run_image_layout(tmp_path / "v2", "v2"), run)
    second = export(dockerd, build, stack, app, "-launch-cache", str(cache))
    assert "Adding layer" not in second.stdout
    assert "Reusing layer 'slice-2'" in second.stdout
    assert "docker save" not in second.output
    assert sorted(path.name for path in (cache / "committed").glob("sha256:*.tar")) == committed
    assert "run image version: v2" in dockerd.run(app)
    assert sorted(os.listdir(cache)) == ["committed"]


def test_without_a_launch_cache_the_same_export_reads_the_previous_image(
        dockerd: Dockerd, build: SampleBuild, tmp_path: Path, unique: str) -> None:
    run, app = f"{unique}/run:v1", f"{unique}/app:latest"
    dockerd.load_layout(make_run_image_layout(tmp_path / "v1", "v1"), run)
    stack = write_stack(tmp_path / "stack.toml", run, [])
    export(dockerd, build, stack, app)
    dockerd.load_layout(make_run_image_layout(tmp_path / "v2", "v2"), run)
    second = export(dockerd, build, stack, app)
    assert "with docker save" in second.output


def test_launch_cache_without_daemon_is_ignored_with_a_warning(build: SampleBuild,
                                                               tmp_path: Path) -> None:
    make_run_image_layout(tmp_path / "oci" / "example.com/cnb/run/v1", "v1")
    stack = write_stack(tmp_path / "stack.toml", "example.com/cnb/run:v1", [])
    result = run_phase("exporter", "-layout", "-layout-dir", str(tmp_path / "oci"),
                       "-launch-cache", str(tmp_path / "lc"),
                       *export_args(build, stack, "example.com/apps/x:latest"))
    assert result.code == 0, result.output
    assert "Ignoring -launch-cache, only intended for use with -daemon" in result.stderr
    assert not (tmp_path / "lc").exists()
