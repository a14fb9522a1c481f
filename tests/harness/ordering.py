"""pytest plugin: the quick tests first, the ones with the longest set-up last.

pytest runs directories in name order, which put the acceptance story and the release
archive first. On a cold machine they then waited, at the start, for the debootstraps, the
wheels and PyInstaller, while the background warm-up (``warmup``) had only just begun. Run
last, their set-up overlaps with the integration tests instead, and a broken unit test
shows in seconds. The order within a directory is kept.
"""

from __future__ import annotations

from pathlib import Path

import pytest

RUN_ORDER = ("unit", "integration", "dist", "acceptance")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = config.rootpath / "tests"
    items.sort(key=lambda item: _rank(item.path, tests))


def _rank(path: Path, tests: Path) -> int:
    """Where a test file's top folder under ``tests/`` comes in :data:`RUN_ORDER`; others
    (the harness's own tests, say) after the integration tests."""
    top = path.relative_to(tests).parts[0] if path.is_relative_to(tests) else ""
    return RUN_ORDER.index(top) if top in RUN_ORDER else RUN_ORDER.index("integration")
