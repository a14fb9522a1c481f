"""The check that no test changes the host's default paths (tests/harness/hostpaths.py), on a
small project whose "default path" is a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.harness.hostpaths
from tests.harness.hostpaths import describe_change, state_of


def test_changes_are_described_by_what_was_added_removed_or_changed(tmp_path: Path) -> None:
    layers = tmp_path / "layers"
    missing = state_of(layers)
    layers.mkdir()
    (layers / "group.toml").write_text("a")
    empty = state_of(layers)
    assert describe_change(layers, missing, empty) == f"{layers} was created"
    (layers / "report.toml").write_text("b")
    (layers / "group.toml").unlink()
    assert describe_change(layers, empty, state_of(layers)).startswith(
        f"{layers}: added report.toml; removed group.toml")
    assert describe_change(layers, empty, None) == f"{layers} was removed"


def test_a_test_writing_a_default_path_fails_the_run_naming_it(pytester: pytest.Pytester,
                                                              tmp_path: Path) -> None:
    layers = tmp_path / "layers"
    pytester.makepyfile(cnb_host_paths=Path(tests.harness.hostpaths.__file__).read_text())
    pytester.makeconftest(f"from pathlib import Path\nimport cnb_host_paths\n"
                          f"cnb_host_paths.DEFAULT_PATHS = (Path({str(layers)!r}),)\n"
                          f"pytest_plugins = ['cnb_host_paths']\n")
    pytester.makepyfile(test_phases=f"from pathlib import Path\n"
                                    f"def test_clean():\n    pass\n"
                                    f"def test_writes_a_report():\n"
                                    f"    Path({str(layers)!r}).mkdir()\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"ERROR: a host path changed while "
                                 f"test_phases.py::test_writes_a_report ran: {layers} was "
                                 f"created (tests must pass -report*"])
    assert "test_clean:" not in result.stdout.str()
