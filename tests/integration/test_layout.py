"""Exporter and rebaser into an OCI image layout (no server), checked by skopeo and umoci."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lifecycle.samplebuild import SampleBuild
from tests.harness.images import make_run_image_layout
from tests.harness.services import ensure_commands
from tests.integration.conftest import export_args, run_phase, write_stack

APP = "example.com/apps/web:latest"
CANONICAL = "registry.example.com/cnb/run:v1"
MIRROR = "example.com/cnb/run:v1"


def place(layout_dir: Path, ref_path: str, version: str, **options: str) -> None:
    """Put a run image at the layout path of a reference (``<dir>/<registry>/<repo>/<tag>``)."""
    target = layout_dir / ref_path
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    make_run_image_layout(target, version, **options)


def inspect(path: Path, config: bool = False) -> dict[str, object]:
    command = ["skopeo", "inspect", *(["--config"] if config else []), f"oci:{path}"]
    result = subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)
    value: dict[str, object] = json.loads(result.stdout)
    return value


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    ensure_commands(["skopeo", "umoci"], ["skopeo", "umoci"])


def test_export_and_rebase_in_a_layout(build: SampleBuild, tmp_path: Path) -> None:
    layout = tmp_path / "oci"
    place(layout, "registry.example.com/cnb/run/v1", "v1")
    place(layout, "example.com/cnb/run/v1", "v1")
    stack = write_stack(tmp_path / "stack.toml", CANONICAL, ["other.io/cnb/run:v1", MIRROR])
    exported = run_phase("exporter", "-layout", "-layout-dir", str(layout),
                         *export_args(build, stack, "-report", str(tmp_path / "r.toml"), APP))
    assert exported.code == 0, exported.output
    assert f"Selected run image '{MIRROR}'" in exported.stdout
    assert "other.io/cnb/run:v1 (on other.io): not checked" in exported.stdout
    app_path = layout / "example.com/apps/web/latest"
    config = inspect(app_path, config=True)
    label = json.loads(config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"])  # type: ignore[index]
    assert label["stack"]["runImage"]["image"] == CANONICAL
    # A layout run image is recorded as its directory and manifest digest, as lifecycle does.
    assert label["runImage"]["reference"].startswith(f"{layout}/example.com/cnb/run/v1@sha256:")
    subprocess.run(["umoci", "stat", "--image", f"{app_path}:latest"], check=True,
                   capture_output=True, timeout=60)

    place(layout, "example.com/cnb/run/v1", "v2")
    rebased = run_phase("rebaser", "-layout", "-layout-dir", str(layout), "-report",
                        str(tmp_path / "r2.toml"), APP)
    assert rebased.code == 0, rebased.output
    new_config = inspect(app_path, config=True)
    new_base = inspect(layout / "example.com/cnb/run/v1", config=True)["rootfs"]["diff_ids"]  # type: ignore[index]
    assert new_config["rootfs"]["diff_ids"][:2] == new_base  # type: ignore[index]
    assert new_config["rootfs"]["diff_ids"][2:] == config["rootfs"]["diff_ids"][2:]  # type: ignore[index]


def test_layout_needs_a_directory_and_no_daemon(build: SampleBuild, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack.toml", CANONICAL, [])
    no_dir = run_phase("exporter", "-layout", *export_args(build, stack, APP))
    assert no_dir.code == 3 and "-layout-dir" in no_dir.stderr
    both = run_phase("exporter", "-layout", "-layout-dir", str(tmp_path), "-daemon",
                     *export_args(build, stack, APP))
    assert both.code == 3


def test_missing_run_image_in_layout(build: SampleBuild, tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "stack.toml", CANONICAL, [MIRROR])
    result = run_phase("exporter", "-layout", "-layout-dir", str(tmp_path / "oci"),
                       *export_args(build, stack, APP))
    assert result.code == 3
    assert "no run image is readable" in result.stderr and "not present in the layout" in \
        result.stderr
    assert not (tmp_path / "oci" / "example.com" / "apps").exists()
