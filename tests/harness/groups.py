"""pytest plugin: the test groups the README promises, counted, and a guard on them.

Every collected test is in the groups whose markers it carries (``unit`` is put on everything
under ``tests/unit`` here). At the end the run prints, per group, how many tests passed of how
many were collected, in one line::

    test groups (passed/collected): unit=510/510 registry=300/300 daemon=20/20 ...

A full default run (no ``-m``, ``-k``, paths, ``--deselect`` or ``--ignore``) fails when any
group collected or passed no test: a folder pytest stops collecting, a fixture that skips a
whole group, or a marker lost would otherwise go unnoticed. With ``--collect-only`` only the
collected counts are checked. Any other selection only prints the counts.

With ``CNB_TEST_GROUPS_REPORT`` set, the counts are also written there as JSON, so that
``scripts/test.sh`` can tell the guard ran at all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

GROUPS = ("unit", "registry", "daemon", "acceptance", "dist")
SERVICE_FIXTURES = {"registry": {"registries", "token_registry", "tls_registry"},
                    "daemon": {"dockerd", "containerd_dockerd"}}


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(GroupGuard(config), "cnb-test-groups")


class GroupGuard:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.collected = dict.fromkeys(GROUPS, 0)
        self.passed = dict.fromkeys(GROUPS, 0)
        self.groups_of: dict[str, tuple[str, ...]] = {}
        self.call_passed: set[str] = set()
        self.failed: set[str] = set()
        self.empty: list[str] = []

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Before selection by ``-m``, and before other plugins look: ``unit`` by path, and
        ``registry``/``daemon`` on every test that uses a real registry or Docker Engine,
        whether or not its module says so."""
        unit_dir = self.config.rootpath / "tests" / "unit"
        for item in items:
            if item.path.is_relative_to(unit_dir):
                item.add_marker(pytest.mark.unit)
            fixtures = set(getattr(item, "fixturenames", ()))
            for group, needs in SERVICE_FIXTURES.items():
                if fixtures & needs and not item.get_closest_marker(group):
                    item.add_marker(getattr(pytest.mark, group))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            groups = tuple(group for group in GROUPS if item.get_closest_marker(group))
            self.groups_of[item.nodeid] = groups
            for group in groups:
                self.collected[group] += 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed.add(report.nodeid)
        elif report.when == "call" and report.passed:
            self.call_passed.add(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for nodeid in self.call_passed - self.failed:
            for group in self.groups_of.get(nodeid, ()):
                self.passed[group] += 1
        collect_only = bool(self.config.option.collectonly)
        if self.is_full_default_run():
            self.empty = [group for group in GROUPS if self.collected[group] == 0
                          or (not collect_only and self.passed[group] == 0)]
        if self.empty:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if path := os.environ.get("CNB_TEST_GROUPS_REPORT"):
            Path(path).write_text(json.dumps({"collected": self.collected,
                                              "passed": self.passed, "empty": self.empty}))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.write_line("test groups (passed/collected): " + " ".join(
            f"{group}={self.passed[group]}/{self.collected[group]}" for group in GROUPS))
        if self.empty:
            terminalreporter.write_line(
                f"ERROR: the full run collected or passed no test in the group(s) "
                f"{', '.join(self.empty)}; the README promises each of them", red=True)

    def is_full_default_run(self) -> bool:
        option = self.config.option
        return (self.config.args_source is pytest.Config.ArgsSource.TESTPATHS
                and not option.markexpr and not option.keyword and not option.deselect
                and not option.ignore and not option.ignore_glob
                and not any(getattr(option, name, False)
                            for name in ("lf", "failedfirst", "stepwise")))
