"""Ctrl-C and SIGTERM: stop soon, take back what this run made, leave every name as it was.

Python delivers a signal to the main thread only, as an exception, so everything the main
thread was doing unwinds through its ``finally`` blocks (work directories, temp files, layout
blobs not yet referenced, the daemon's temporary load name). Worker threads (layer writers,
uploads) cannot be interrupted that way; they call :func:`check` on every chunk they handle
and fail at the next one, which the main thread's clean-up then waits for.

The first signal starts the stop; more of them while it is under way are ignored, so that a
second Ctrl-C cannot cut the clean-up short.
"""

from __future__ import annotations

import errno
import signal
import threading
from types import FrameType

_stopping = threading.Event()


class Terminated(BaseException):
    """SIGTERM, raised in the main thread as KeyboardInterrupt is for SIGINT."""


def install() -> None:
    """Turn SIGINT and SIGTERM into exceptions in the main thread (call it from there)."""
    _stopping.clear()
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def _on_signal(signum: int, _: FrameType | None) -> None:
    if _stopping.is_set():
        return
    _stopping.set()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated


def check() -> None:
    """Raise ``OSError(EINTR)`` once a stop was asked for (worker threads, per chunk)."""
    if _stopping.is_set():
        raise InterruptedError(errno.EINTR, "interrupted")
