"""Running the real ``exporter`` and ``rebaser`` commands in the integration tests."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

import lifecycle
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


COMMANDS = {"exporter": "exporter", "rebaser": "rebaser", "rebasemany": "rebase-many",
            "inspect": "inspect-image", "layout-add": "layout-add"}
MODULES = {"exporter": "lifecycle.exporter", "rebaser": "lifecycle.rebaser",
           "rebasemany": "lifecycle.rebasemany", "inspect": "lifecycle.inspect",
           "layout-add": "lifecycle.layoutadd"}


def run_phase(phase: str, *args: str, env: Mapping[str, str] | None = None,
              cwd: Path | None = None, user: int | None = None) -> Result:
    """The phase as pack runs it: the installed command, a separate process with Go-style
    flags; as ``user`` (and the group of that number) if given, as kpack runs it."""
    command = [str(Path(sys.executable).with_name(COMMANDS[phase]))]
    extra_env: dict[str, str] = {}
    if user is not None:
        # The test interpreter may live where another user cannot reach it (root's home):
        # the same code then runs on the system's Python 3.11, with the same packages.
        command = ["/usr/bin/python3.11", "-m", MODULES[phase]]
        extra_env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(lifecycle.__file__).parent.parent), *site.getsitepackages()])
    completed = subprocess.run([*command, *args],
                               capture_output=True, text=True, timeout=300, cwd=cwd,
                               env={**CLEAN_ENV, **extra_env, **(env or {})}, user=user,
                               group=user)
    assert "Traceback" not in completed.stderr, completed.stderr
    return Result(completed.returncode, completed.stdout, completed.stderr)


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


BUILD_USER = 4321
"""The user a build ran as, for the tests that start a phase as root, as pack does."""
BUILD_USER_ENV = {"CNB_USER_ID": str(BUILD_USER), "CNB_GROUP_ID": str(BUILD_USER)}


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A directory the build's user can reach (pytest's own tmp dirs are root's, 0700)."""
    root = Path(tempfile.mkdtemp(prefix="cnb-user-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def build_of_user(root: Path) -> SampleBuild:
    """The sample build, every file of it owned by :data:`BUILD_USER`."""
    build = write_sample_build(root / "build")
    for path in (root / "build", *(root / "build").rglob("*")):
        os.lchown(path, BUILD_USER, BUILD_USER)
    return build
