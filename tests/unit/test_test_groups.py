"""The suite's own guard (tests/harness/groups.py), run on small projects laid out like this
one and configured by this repository's own ``[tool:pytest]`` section."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

import tests.harness.groups

ROOT = Path(__file__).resolve().parents[2]
PASSING = "def test_it():\n    pass\n"
MARKED = "import pytest\npytestmark = pytest.mark.{marker}\n" + PASSING


def project(pytester: pytest.Pytester, *, dist: str | None = MARKED.format(marker="dist"),
            registry: str = MARKED.format(marker="registry")) -> None:
    """tests/unit, tests/integration (registry, daemon), tests/acceptance and tests/dist."""
    section = configparser.RawConfigParser()
    section.read(ROOT / "setup.cfg")
    pytester.makefile(".cfg", setup="[tool:pytest]\n" + "\n".join(
        f"{key} = {value}" for key, value in section.items("tool:pytest")))
    pytester.makepyfile(cnb_test_groups=Path(tests.harness.groups.__file__).read_text())
    pytester.makeconftest('pytest_plugins = ["cnb_test_groups"]\n')
    files = {"tests/unit/test_pure.py": PASSING,
             "tests/integration/test_registry.py": registry,
             "tests/integration/test_daemon.py": MARKED.format(marker="daemon"),
             "tests/acceptance/test_story.py": MARKED.format(marker="acceptance")}
    if dist is not None:
        files["tests/dist/test_archive.py"] = dist
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def test_a_full_run_counts_every_group_and_collects_tests_dist(pytester: pytest.Pytester
                                                               ) -> None:
    project(pytester)
    result = run(pytester)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["test groups (passed/collected): unit=1/1 registry=1/1 "
                                 "daemon=1/1 acceptance=1/1 dist=1/1"])


def test_a_full_run_without_a_group_fails_naming_it(pytester: pytest.Pytester) -> None:
    project(pytester, dist=None)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*dist=0/0", "ERROR: *no test in the group(s) dist;*"])


def test_a_group_whose_tests_all_skip_fails_a_full_run(pytester: pytest.Pytester) -> None:
    project(pytester, registry=MARKED.format(marker="registry").replace(
        "pass", "pytest.skip('no registry here')"))
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*registry=0/1*", "ERROR: *group(s) registry;*"])


def test_a_selection_only_prints_the_counts(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = run(pytester, "-m", "unit")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*unit=1/1 registry=0/0 daemon=0/0 acceptance=0/0 dist=0/0"])
    assert run(pytester, "tests/integration").ret == 0


def test_collecting_only_checks_the_collected_counts(pytester: pytest.Pytester) -> None:
    project(pytester)
    assert run(pytester, "--collect-only", "-q").ret == 0
    project(pytester, dist=None)
    (pytester.path / "tests/dist/test_archive.py").unlink()
    assert run(pytester, "--collect-only", "-q").ret == pytest.ExitCode.TESTS_FAILED
