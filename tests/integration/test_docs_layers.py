"""docs/layers.md's minimal build, run exactly as written (its shell blocks), against the real
registry: layout-add puts the run image into a layout, the exporter builds the app on it, and
inspect-image shows it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.images import publish_run_image
from tests.harness.registry import Registries
from tests.integration.conftest import CLEAN_ENV

DOC = Path(__file__).resolve().parents[2] / "docs" / "layers.md"
DOC_REGISTRY = "localhost:5000"


@pytest.mark.registry
def test_the_minimal_build(registries: Registries, tmp_path: Path) -> None:
    publish_run_image(tmp_path, [f"{registries.two.host}/cnb/run:v1"], "v1")
    write_build, export, add_run_image = re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.S)
    first_add = add_run_image.splitlines()[0].split("#")[0]
    script = "\n".join(["set -eu", write_build, first_add, export])
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        ["bash", "-c", script.replace(DOC_REGISTRY, registries.two.host)], cwd=work,
        capture_output=True, text=True, timeout=120,
        env={**CLEAN_ENV, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Adding layer 'example/hello:hello'" in done.stdout
    assert f"  would choose: {registries.two.host}/cnb/run:v1" in done.stdout
    assert "  web: hello  [via shell]" in done.stdout
    assert (work / "report.toml").is_file()
