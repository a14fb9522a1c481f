"""The README's demo (export, inspect-image, Scenario 1 and 2 rebases into an OCI layout)
keeps working and says what happened."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.harness.services import ensure_commands
from tests.integration.conftest import CLEAN_ENV

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"
ON_TARGET = "first readable candidate on the target registry localhost:5001"


def test_demo(tmp_path: Path) -> None:
    ensure_commands(["skopeo"], ["skopeo"])
    result = subprocess.run([sys.executable, str(DEMO)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env=CLEAN_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    headings = [line for line in lines if line.startswith("=== ")]
    assert headings == [
        "=== Export: the run image on the app's registry (localhost:5001) is chosen ===",
        "=== Scenario 1: run image v2 is published; rebase with no flag ===",
        "=== Scenario 2: rebase onto a custom image with -run-image ==="]
    chosen = [line.partition(": run image chosen: ")[2] for line in lines
              if ": run image chosen: " in line]
    assert chosen == [f"localhost:5001/cnb/run:bionic ({ON_TARGET})"] * 2 + [
        "localhost:5001/custom/image:latest (given with -run-image)"]
    rebased = [line.split(" (")[0] + " to " + line.split(" to ")[1].split(" (")[0]
               for line in lines if line.startswith("rebased from ")]
    assert rebased == ["rebased from v1 to v2", "rebased from v2 to v3-custom"]
    assert "published on every mirror" not in result.stdout
    assert "published run image v2 (sha256:" in result.stdout
    assert "as registry.example.com/cnb/run:bionic, localhost:5001/cnb/run:bionic\n" \
        in result.stdout

    inspect_at = lines.index("$ inspect-image -layout -layout-dir demo-out/oci "
                             "localhost:5001/apps/web:latest")
    assert lines[inspect_at + 1] == "Image: localhost:5001/apps/web:latest"
    assert "  would choose: localhost:5001/cnb/run:bionic" in lines[inspect_at:]

    out = tmp_path / "demo-out"
    reports = {name: tomllib.loads((out / name).read_text()) for name in (
        "exporter-report.toml", "rebase-scenario-1-report.toml",
        "rebase-scenario-2-report.toml")}
    assert [report["run-image"]["image"] for report in reports.values()] == [
        "localhost:5001/cnb/run:bionic", "localhost:5001/cnb/run:bionic",
        "localhost:5001/custom/image:latest"]
    assert len({report["image"]["digest"] for report in reports.values()}) == 3
    assert (out / "oci" / "localhost:5001" / "apps" / "web" / "latest" / "index.json").is_file()
    skopeo = subprocess.run(["skopeo", "inspect", "oci:demo-out/app-layout"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert skopeo.returncode == 0, skopeo.stderr
    assert reports["rebase-scenario-2-report.toml"]["image"]["digest"] in skopeo.stdout
