"""Broken and hostile inputs: each is one clear line, a documented exit code, no traceback, and
nothing written (no image, no report). The phases run in-process here, to keep ~200 cases fast;
the same entry points run as subprocesses in the other integration tests."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import stat
import tarfile
import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lifecycle import exporter, rebaser, rebasemany
from lifecycle.backends.layout import LayoutStore
from lifecycle.image import mutate
from lifecycle.platform.files import LIFECYCLE_LABEL
from lifecycle.reference import parse_reference
from lifecycle.samplebuild import SampleBuild, write_sample_build
from tests.harness.images import make_run_image_layout

RUN = "example.com/cnb/run:v1"
APP = "example.com/apps/hostile:latest"


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    def error_line(self) -> str:
        assert "Traceback" not in self.out + self.err
        errors = [line for line in self.err.splitlines() if line.startswith("ERROR")]
        assert len(errors) == 1, self.err
        return errors[0]


@pytest.fixture(scope="module")
def run_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile-layout")
    make_run_image_layout(root / "example.com/cnb/run/v1", "v1")
    return root


@pytest.fixture
def world(tmp_path: Path, run_layout: Path, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> World:
    for name in list(os.environ):
        if name.startswith(("CNB_", "DOCKER_")):
            monkeypatch.delenv(name)
    shutil.copytree(run_layout, tmp_path / "oci")
    build = write_sample_build(tmp_path / "build")
    stack = tmp_path / "stack.toml"
    stack.write_text(f'[run-image]\nimage = "{RUN}"\n')
    return World(tmp_path, build, stack, capsys, monkeypatch)


@dataclass
class World:
    root: Path
    build: SampleBuild
    stack: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    @property
    def report(self) -> Path:
        return self.root / "report.toml"

    def export_args(self, *extra: str, image: str = APP) -> list[str]:
        return ["-layout", "-layout-dir", str(self.root / "oci"), "-stack", str(self.stack),
                "-layers", str(self.build.layers_dir), "-app", str(self.build.app_dir),
                "-report", str(self.report), *extra, image]

    def run(self, main: Callable[[list[str]], int], argv: list[str],
            env: dict[str, str] | None = None) -> Outcome:
        for name, value in (env or {}).items():
            self.monkeypatch.setenv(name, value)
        self.capsys.readouterr()
        code = main(argv)
        captured = self.capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    def export(self, *extra: str, env: dict[str, str] | None = None,
               image: str = APP) -> Outcome:
        return self.run(exporter.main, self.export_args(*extra, image=image), env)

    def nothing_written(self, image: str = APP) -> None:
        assert not self.report.exists()
        assert not (self.root / "oci" / "example.com/apps/hostile").exists()


# -- TOML files -------------------------------------------------------------------------------

TOML_FILES = {
    "stack": "stack.toml",
    "group": "build/layers/group.toml",
    "layer": "build/layers/examples_hello/hello.toml",
    "metadata": "build/layers/config/metadata.toml",
    "project": "build/layers/project-metadata.toml",
    "analyzed": "build/layers/analyzed.toml",
    "store": "build/layers/examples_hello/store.toml",
}
ANY_FILE = {
    "syntax error": "[[broken\n",
    "not UTF-8": b"key = \"\xff\xfe\"\n",
    "duplicate key": "a = 1\na = 2\n",
    "unterminated string": 'a = "no end\n',
    "huge and broken": "x = 1\n" * 2_000_000 + "[[",
    "NUL byte": "a = 1\n\0\n",
}
WRONG_SHAPES = {
    "stack": ['[run-image]\nimage = 1\n', '[run-image]\nmirrors = [1, 2]\n', 'run-image = "x"\n',
              '[run-image]\nimage = "example.com/cnb/run:v1"\nmirrors = {a = 1}\n'],
    "group": ['[[group]]\nid = 1\nversion = "1"\n', 'group = "x"\n',
              '[[group]]\nversion = "1"\n', '[[group]]\nid = "a"\nversion = 2\n',
              'group = [1, 2]\n', '[[buildpacks]]\nid = ["a"]\nversion = "1"\n'],
    "layer": ['[types]\nlaunch = "yes"\n', 'launch = "true"\n', 'types = 3\n',
              'metadata = 5\n', '[types]\ncache = 1\n'],
    "metadata": ['[[processes]]\ntype = 1\ncommand = ["x"]\n', 'processes = "x"\n',
                 '[[processes]]\ntype = "web"\ncommand = 5\n', '[[slices]]\npaths = [1]\n',
                 'buildpack-default-process-type = 1\n', 'slices = 3\n',
                 '[[processes]]\ntype = "web"\ncommand = ["x"]\ndirect = "yes"\n',
                 '[[labels]]\nkey = 1\nvalue = "v"\n'],
    "project": ['source = "x"\n', '[source]\ntype = 1\n'],
    "analyzed": ['[image]\nreference = 1\n', 'image = "x"\n', 'metadata = 3\n'],
    "store": ['metadata = 1\n'],
}
TOML_CASES = [pytest.param(kind, content, id=f"{kind}: {name}")
              for kind in TOML_FILES for name, content in ANY_FILE.items()]
TOML_CASES += [pytest.param(kind, content, id=f"{kind}: {content.strip()[:40]!r}")
               for kind, contents in WRONG_SHAPES.items() for content in contents]
TOML_CASES += [pytest.param(kind, None, id=f"{kind}: a directory") for kind in TOML_FILES]


@pytest.mark.parametrize(("kind", "content"), TOML_CASES)
def test_a_broken_toml_file_is_one_line_naming_it(world: World, kind: str,
                                                  content: str | bytes | None) -> None:
    path = world.root / TOML_FILES[kind]
    if content is None:
        path.unlink(missing_ok=True)
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    outcome = world.export()
    line = outcome.error_line()
    assert outcome.code == 3, line
    assert str(path) in line
    world.nothing_written()
