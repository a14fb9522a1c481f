"""Running the real ``exporter`` and ``rebaser`` commands in the integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from lifecycle.samplebuild import SampleBuild, write_sample_build

CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not k.startswith(("CNB_", "SOURCE_DATE_EPOCH", "DOCKER_"))}


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_phase(phase: str, *args: str, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> Result:
    """The phase as pack runs it: a separate process with Go-style flags."""
    completed = subprocess.run([sys.executable, "-m", f"lifecycle.{phase}", *args],
                               capture_output=True, text=True, timeout=300, cwd=cwd,
                               env={**CLEAN_ENV, **(env or {})})
    assert "Traceback" not in completed.stderr, completed.stderr
    return Result(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def unique() -> str:
    """A repository-name prefix no other test uses (the registries live for the session)."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def build(tmp_path: Path) -> SampleBuild:
    return write_sample_build(tmp_path / "build")


def export_args(build: SampleBuild, stack: Path, *extra: str) -> list[str]:
    return ["-mirrors", str(stack), "-layers", str(build.layers_dir), "-app", str(build.app_dir),
            "-group", str(build.group_path), *extra]


def write_stack(path: Path, image: str, mirrors: list[str]) -> Path:
    quoted = ", ".join(f'"{m}"' for m in mirrors)
    path.write_text(f'[run-image]\nimage = "{image}"\nmirrors = [{quoted}]\n')
    return path
