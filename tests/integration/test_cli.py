"""The commands as processes: entry points, help, version, exit codes, log formats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle import __version__
from lifecycle.samplebuild import SampleBuild
from tests.integration.conftest import CLEAN_ENV, export_args, run_phase, write_stack

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
    assert events[-1]["event"] == "phase.failed" and events[-1]["status"] == "failed"
    assert events[-1]["message"].startswith("failed to access image to rebase")


def test_python_dash_m_runs_every_command() -> None:
    for phase in ("exporter", "rebaser", "rebase-many", "inspect-image"):
        result = subprocess.run([sys.executable, "-m", "lifecycle", phase, "-version"],
                                capture_output=True, text=True, timeout=60, env=CLEAN_ENV)
        assert (result.returncode, result.stdout) == (0, f"{__version__}\n"), phase
    unknown = subprocess.run([sys.executable, "-m", "lifecycle", "exporterr"],
                             capture_output=True, text=True, timeout=60, env=CLEAN_ENV)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("unknown phase: exporterr\nUsage: python -m lifecycle")


def test_a_mistyped_flag_is_named_with_the_close_one() -> None:
    result = run_phase("exporter", "-layer", "/tmp/x", "example.com/app")
    assert result.code == 2
    lines = result.stderr.splitlines()
    assert lines[:2] == ["flag provided but not defined: -layer", "did you mean -layers?"]
    assert lines[-1] == "flag provided but not defined: -layer (did you mean -layers?)"
    far = run_phase("exporter", "-bogus", "example.com/app")
    assert "did you mean" not in far.stderr


@pytest.mark.parametrize("phase", ["exporter", "rebaser", "inspect"])
@pytest.mark.parametrize("scheme", ["http://", "https://", "docker://"])
def test_an_image_name_with_a_scheme_is_refused_with_the_fix(phase: str, scheme: str) -> None:
    result = run_phase(phase, f"{scheme}example.com/myorg/app:v2")
    assert result.code == 3
    assert result.stderr.startswith("ERROR: failed to parse image argument: "
                                    f"'{scheme}example.com/myorg/app:v2' has a URL scheme")
    assert "drop the scheme: write 'example.com/myorg/app:v2'" in result.stderr
    assert ("use -insecure-registry for plain HTTP" in result.stderr) == (scheme != "docker://")


def on_a_terminal(*args: str, env: dict[str, str] | None = None) -> str:
    """Run a command with stdout and stderr on a pseudo-terminal; returns what it printed."""
    primary, secondary = os.openpty()
    command = Path(sys.executable).with_name(args[0])
    with subprocess.Popen([str(command), *args[1:]], stdout=secondary, stderr=secondary,
                          env={**CLEAN_ENV, **(env or {})}) as process:
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            output += chunk
        process.wait(timeout=60)
    os.close(primary)
    return output.decode()


def test_colour_on_a_terminal_unless_no_color(tmp_path: Path) -> None:
    args = ("rebaser", "-layout", "-layout-dir", str(tmp_path), "example.com/app")
    assert "\x1b[31mERROR:\x1b[0m failed to access image" in on_a_terminal(*args)
    for plain in (on_a_terminal(*args, env={"NO_COLOR": "1"}),
                  on_a_terminal(args[0], "-no-color", *args[1:])):
        assert "\x1b[" not in plain and "ERROR: failed to access image" in plain
    piped = run_phase(*args)
    assert "\x1b[" not in piped.output


def test_unreachable_daemon_and_registry_are_named_in_words(build: SampleBuild,
                                                             tmp_path: Path) -> None:
    socket = f"unix://{tmp_path}/no-docker.sock"
    stack = write_stack(tmp_path / "stack.toml", "127.0.0.1:9/run:v1", [])
    report = ["-report", str(tmp_path / "report.toml")]
    exported = run_phase("exporter", "-daemon", *export_args(build, stack, *report),
                         "127.0.0.1:9/app:v1", env={"DOCKER_HOST": socket})
    assert exported.code == 62
    assert exported.stderr.splitlines()[-1] == (
        f"ERROR: failed to export: cannot connect to the Docker daemon at {socket}: "
        "no such file")
    rebased = run_phase("rebaser", "-daemon", *report, "127.0.0.1:9/app:v1",
                        env={"DOCKER_HOST": socket})
    assert rebased.code == 72 and f"at {socket}: no such file" in rebased.stderr

    refused = run_phase("rebaser", *report, "127.0.0.1:9/app:v1")
    assert refused.code == 72
    assert refused.stderr.strip() == (
        "ERROR: failed to access image to rebase '127.0.0.1:9/app:v1': cannot reach registry "
        "127.0.0.1:9: connection refused")
    no_run_image = run_phase("exporter", *export_args(build, stack, *report),
                             "127.0.0.1:9/app:v1")
    assert no_run_image.code == 3
    assert "127.0.0.1:9/run:v1: cannot reach registry 127.0.0.1:9: connection refused" \
        in no_run_image.stderr
    for result in (exported, rebased, refused, no_run_image):
        assert "Error" not in result.output and "(" not in result.stderr.splitlines()[-1]
    assert not (tmp_path / "report.toml").exists()


def test_warnings_that_explain_rather_than_precede_an_error(build: SampleBuild,
                                                            tmp_path: Path) -> None:
    report = ["-report", str(tmp_path / "report.toml")]
    stack = write_stack(tmp_path / "stack.toml", "127.0.0.1:9/run:v1", [])
    for phase, args in (("exporter", export_args(build, stack, *report)), ("rebaser", report),
                        ("inspect", [])):
        ignored = run_phase(phase, "-layout-dir", str(tmp_path / "oci"), *args,
                            "127.0.0.1:9/app:v1")
        assert ignored.stderr.startswith(
            "Warning: Ignoring -layout-dir: it is used only with -layout; images are read from "
            "and written to the registry\n"), ignored.stderr
        assert "connection refused" in ignored.stderr
        assert "Will not cache data" not in ignored.stderr   # no readable run image: exit 3
    (tmp_path / "list.txt").write_text("127.0.0.1:9/app:v1\n")
    many = run_phase("rebasemany", str(tmp_path / "list.txt"),
                     env={"CNB_LAYOUT_DIR": str(tmp_path / "oci")})
    assert many.stderr.startswith("Warning: Ignoring CNB_LAYOUT_DIR: it is used only with "
                                  "-layout"), many.stderr
