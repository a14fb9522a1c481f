"""pytest plugin: no test may change the host's default platform paths.

The phases default to ``/layers``, ``/workspace``, ``/cnb`` and the like, as they must in a
builder; on the machine running the tests those paths belong to the host. Their state is
taken when the session starts and compared after every test, so a change names the test
that was running when it happened (on a shared machine, another process may have made it);
the run then fails at the end, listing every change.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

DEFAULT_PATHS = (Path("/layers"), Path("/workspace"), Path("/cache"), Path("/launch-cache"),
                 Path("/cnb"), Path("/buildpacks"), Path("/platform"))
MAX_ENTRIES = 10_000  # a host with a big /cnb is still compared, on its first entries

Entry = tuple[int, int, int]          # mode, size, modification time
State = dict[str, Entry] | None       # relative path -> entry; None: the path is missing


def state_of(path: Path) -> State:
    try:
        top = path.lstat()
    except FileNotFoundError:
        return None
    entries = {".": _entry(top)}
    if stat.S_ISDIR(top.st_mode):
        for directory, names, files in os.walk(path):
            for name in (*names, *files):
                if len(entries) >= MAX_ENTRIES:
                    return entries
                full = Path(directory, name)
                try:
                    entries[str(full.relative_to(path))] = _entry(full.lstat())
                except FileNotFoundError:
                    continue
    return entries


def _entry(status: os.stat_result) -> Entry:
    return status.st_mode, status.st_size, status.st_mtime_ns


def describe_change(path: Path, before: State, after: State) -> str:
    if before is None:
        return f"{path} was created"
    if after is None:
        return f"{path} was removed"
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(name for name in set(before) & set(after) if before[name] != after[name])
    parts = [f"{what} {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
             for what, names in (("added", added), ("removed", removed), ("changed", changed))
             if names]
    return f"{path}: {'; '.join(parts)}"


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(HostPathCheck(), "cnb-host-paths")


class HostPathCheck:
    def __init__(self) -> None:
        self.states = {path: state_of(path) for path in DEFAULT_PATHS}
        self.changes: list[str] = []

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.compare(f"while {item.nodeid} ran")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.compare("as the session ended")  # session fixtures' own teardown
        if self.changes:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for change in self.changes:
            terminalreporter.write_line(f"ERROR: a host path changed {change} (tests must "
                                        f"pass -report, -layers and the like explicitly)",
                                        red=True)

    def compare(self, when: str) -> None:
        for path, before in self.states.items():
            after = state_of(path)
            if after != before:
                self.changes.append(f"{when}: {describe_change(path, before, after)}")
                self.states[path] = after
