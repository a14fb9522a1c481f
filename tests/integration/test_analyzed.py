"""analyzed.toml as lifecycle 0.7-era analyzers write it: the previous image and its label."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from lifecycle.samplebuild import SampleBuild
from tests.harness.images import publish_run_image, skopeo_inspect
from tests.harness.registry import Registries
from tests.integration.conftest import export_args, run_phase, write_stack

pytestmark = pytest.mark.registry

TOML_KEYS = {"runImage": "run-image", "topLayer": "top-layer"}


def toml_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {TOML_KEYS.get(k, k): toml_keys(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [toml_keys(item) for item in value]
    return value


def test_analyzed_toml_names_the_image_to_reuse_layers_from(
        registries: Registries, build: SampleBuild, tmp_path: Path, unique: str) -> None:
    run = f"{registries.one.host}/{unique}/run:v1"
    publish_run_image(tmp_path, [run])
    stack = write_stack(tmp_path / "stack.toml", run, [])
    first = f"{registries.one.host}/{unique}/app:1"
    assert run_phase("exporter", *export_args(build, stack, first)).code == 0
    inspected = skopeo_inspect(first)
    label = json.loads(inspected["Labels"]["io.buildpacks.lifecycle.metadata"])
    analyzed = {"image": {"reference": f"{registries.one.host}/{unique}/app@"
                                       f"{inspected['Digest']}"},
                "metadata": toml_keys(label)}
    (build.layers_dir / "analyzed.toml").write_text(tomli_w.dumps(analyzed))

    second = run_phase("exporter", *export_args(build, stack,
                                                f"{registries.one.host}/{unique}/other:2"))
    assert second.code == 0, second.output
    assert "Adding layer" not in second.stdout
    assert "Reusing layer 'slice-2'" in second.stdout
    assert f"Reusing layers from image '{registries.one.host}/{unique}/app@" in second.stdout


def test_a_malformed_analyzed_toml_is_exit_3(build: SampleBuild, tmp_path: Path) -> None:
    (build.layers_dir / "analyzed.toml").write_text("[image\nreference = 1\n")
    stack = write_stack(tmp_path / "stack.toml", "example.com/run:v1", [])
    result = run_phase("exporter", "-layout", "-layout-dir", str(tmp_path / "oci"),
                       *export_args(build, stack, "example.com/app:1"))
    assert result.code == 3, result.output
    assert f"ERROR: failed to read analyzed TOML '{build.layers_dir}/analyzed.toml'" \
        in result.stderr
