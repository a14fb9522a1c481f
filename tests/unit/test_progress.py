"""Transfer progress: quiet for short transfers and for machines, a live line for people."""

from __future__ import annotations

import io
import time

from lifecycle import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def wait_for(condition: object, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_a_long_transfer_shows_bytes_and_rate_on_a_terminal() -> None:
    out, clock = Terminal(), Clock()
    with progress.show_transfers(True, out, clock, refresh=0.01):
        progress.count_sent(50 << 20)
        clock.now = 1.0
        time.sleep(0.05)
        assert out.getvalue() == ""          # under two seconds: quiet
        progress.count_sent(50 << 20)
        clock.now = 2.5
        wait_for(lambda: "Sending layers" in out.getvalue())
    assert out.getvalue().endswith("Sending layers: 100.0 MiB at 40.0 MiB/s\x1b[K\n")
    assert out.getvalue().startswith("\r")


def test_nothing_is_shown_when_no_bytes_moved() -> None:
    out, clock = Terminal(), Clock()
    with progress.show_transfers(True, out, clock, refresh=0.01):
        clock.now = 10
        time.sleep(0.05)
    assert out.getvalue() == ""


def test_json_logs_and_pipes_never_get_progress() -> None:
    for console, out in ((False, Terminal()), (True, io.StringIO())):
        clock = Clock()
        with progress.show_transfers(console, out, clock, refresh=0.01):
            progress.count_sent(1 << 30)
            clock.now = 60
            time.sleep(0.05)
        assert out.getvalue() == ""


def test_progress_line() -> None:
    assert progress.progress_line(3 << 20, 2.0) == "Sending layers: 3.0 MiB at 1.5 MiB/s"
