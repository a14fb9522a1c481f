"""The README's demo (export + Scenario 1 and 2 rebases into an OCI layout) keeps working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import CLEAN_ENV

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


def test_demo(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(DEMO)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env=CLEAN_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    chosen = [line for line in result.stdout.splitlines() if line.startswith("run image chosen")]
    assert chosen == [
        "run image chosen: localhost:5001/cnb/run:bionic (first readable candidate on the "
        "target registry localhost:5001)"] * 2 + [
        "run image chosen: localhost:5001/custom/image:latest (given with -run-image)"]
    assert (tmp_path / "demo-out" / "oci" / "localhost:5001" / "apps" / "web" / "latest" /
            "index.json").is_file()
