"""Progress of layer transfers, for people watching a terminal.

Backends report every chunk of layer data they send with :func:`count_sent`; that costs a
lock and an addition, and nothing is shown unless a phase opened :func:`show_transfers`
for a terminal. Then, once a transfer has taken longer than :data:`QUIET_SECONDS`, one line
on stderr is rewritten in place with the bytes sent and the rate; it is finished with a
newline when the transfers end. In JSON log mode, or when stderr is not a terminal, nothing
is ever printed: machines get the figures from the log and report instead.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lifecycle import interrupts
from lifecycle.checking import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO

QUIET_SECONDS = 2.0
REFRESH_SECONDS = 0.5
MIB = 1 << 20


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent = 0


_counter = _Counter()


def count_sent(size: int) -> None:
    """``size`` more bytes of layer data were sent (any backend, any thread). It is also
    where a transfer notices that the run is being stopped (Ctrl-C, SIGTERM)."""
    interrupts.check()
    with _counter.lock:
        _counter.sent += size


def sent_total() -> int:
    """Bytes of layer data sent so far by this process."""
    with _counter.lock:
        return _counter.sent


def progress_line(sent: int, seconds: float) -> str:
    rate = sent / seconds / MIB if seconds > 0 else 0.0
    return f"Sending layers: {sent / MIB:.1f} MiB at {rate:.1f} MiB/s"


@contextmanager
def show_transfers(console: bool, stream: TextIO | None = None,
                   clock: Callable[[], float] = time.monotonic,
                   refresh: float = REFRESH_SECONDS) -> Iterator[None]:
    """Show transfer progress on ``stream`` (stderr) while the block runs, if it is a
    terminal and ``console`` logging is on."""
    out = stream or sys.stderr
    if not console or not out.isatty():
        yield
        return
    start, sent_before = clock(), sent_total()
    stop = threading.Event()
    shown = False

    def show() -> None:
        nonlocal shown
        elapsed = clock() - start
        sent = sent_total() - sent_before
        if elapsed >= QUIET_SECONDS and sent:
            out.write("\r" + progress_line(sent, elapsed) + "\x1b[K")
            out.flush()
            shown = True

    def tick() -> None:
        while not stop.wait(refresh):
            show()

    ticker = threading.Thread(target=tick, name="progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()
        if shown:
            show()
            out.write("\n")
            out.flush()
