"""The commands as processes: entry points, help, version, exit codes, log formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle import __version__
from tests.integration.conftest import CLEAN_ENV, run_phase

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("phase", ["exporter", "rebaser"])
def test_help_version_and_flag_errors(phase: str) -> None:
    help_result = run_phase(phase, "-h")
    assert help_result.code == 0 and "-run-image" in help_result.stderr
    assert run_phase(phase, "--version").stdout == f"{__version__}\n"
    unknown = run_phase(phase, "-bogus", "x/y")
    assert unknown.code == 2
    assert unknown.stderr.startswith("flag provided but not defined: -bogus")
    assert run_phase(phase).code == 3
    assert run_phase(phase, "x/y", env={"CNB_PLATFORM_API": "9.9"}).code == 11
    bad_bool = run_phase(phase, "x/y", env={"CNB_USE_DAEMON": "yes"})
    assert bad_bool.code == 3 and "CNB_USE_DAEMON" in bad_bool.stderr


@pytest.mark.parametrize("phase", ["exporter", "rebaser"])
def test_cmd_launchers(phase: str) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "cmd" / phase), "-version"],
                            capture_output=True, text=True, timeout=60, env=CLEAN_ENV)
    assert result.returncode == 0 and result.stdout == f"{__version__}\n"


def test_json_logs(tmp_path: Path) -> None:
    result = run_phase("rebaser", "-log-format", "json", "-layout", "-layout-dir",
                       str(tmp_path), "example.com/app")
    assert result.code == 72
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[-1]["level"] == "error"
    assert events[-1]["event"].startswith("failed to access image to rebase")
