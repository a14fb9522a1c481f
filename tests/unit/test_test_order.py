"""The suite runs its quick tests first and the ones with the longest set-up last."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.harness.ordering


def test_unit_integration_dist_acceptance_and_the_order_within_each_kept(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(cnb_test_order=Path(tests.harness.ordering.__file__).read_text())
    pytester.makeconftest('pytest_plugins = ["cnb_test_order"]\n')
    pytester.makefile(".cfg", setup="[tool:pytest]\nnorecursedirs = .*\n")  # as ours: dist too
    for folder, names in (("acceptance", "story"), ("dist", "archive"),
                          ("integration", "export rebase"), ("unit", "flags")):
        (pytester.path / "tests" / folder).mkdir(parents=True)
        for name in names.split():
            (pytester.path / "tests" / folder / f"test_{name}.py").write_text(
                "def test_one(): pass\ndef test_two(): pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q", "tests")
    order = [line.split("::")[0] for line in result.outlines if "::" in line]
    assert list(dict.fromkeys(order)) == [
        "tests/unit/test_flags.py", "tests/integration/test_export.py",
        "tests/integration/test_rebase.py", "tests/dist/test_archive.py",
        "tests/acceptance/test_story.py"]
    assert [line.split("::")[1] for line in result.outlines if "::" in line][:2] == \
        ["test_one", "test_two"]
