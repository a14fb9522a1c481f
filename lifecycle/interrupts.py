"""Ctrl-C and SIGTERM: stop soon, take back what this run made, leave every name as it was.

Python delivers a signal to the main thread only, as an exception, so everything the main
thread was doing unwinds through its ``finally`` blocks (work directories, temp files, layout
blobs not yet referenced, the daemon's temporary load name). Worker threads (layer writers,
uploads) cannot be interrupted that way; they call :func:`check` on every chunk they handle
and fail at the next one, which the main thread's clean-up then waits for.

The first signal starts the stop; more of them while it is under way are ignored, so that a
second Ctrl-C cannot cut the clean-up short.

A signal sent to the process reaches whichever of its threads the kernel picks. One that
reaches a worker only flags the main thread, which runs the handler when it next wakes; so
the main thread waits for workers in short waits (:func:`wait`, :func:`result`,
:func:`as_completed`), never in one that lasts until the worker is done.
"""

from __future__ import annotations

import errno
import signal
import threading
from collections.abc import Iterable, Iterator
from types import FrameType

from lifecycle.checking import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Future
    from typing import TypeVar

    T = TypeVar("T")

_stopping = threading.Event()

WAKE_SECONDS = 0.05  # how late the main thread may notice a signal a worker thread received


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


def wait(event: threading.Event) -> None:
    """Wait until ``event`` is set, noticing a signal meanwhile."""
    while not event.wait(WAKE_SECONDS):
        pass


def result(future: Future[T]) -> T:
    """The future's result (or its failure, raised), noticing a signal meanwhile."""
    from concurrent.futures import wait as wait_for  # the caller has futures: it is loaded

    while not wait_for([future], WAKE_SECONDS).done:
        pass
    return future.result()


def as_completed(futures: Iterable[Future[T]]) -> Iterator[Future[T]]:
    """Each future once it is done, in the order they end, noticing a signal meanwhile."""
    from concurrent.futures import FIRST_COMPLETED
    from concurrent.futures import wait as wait_for

    pending = set(futures)
    while pending:
        done, pending = wait_for(pending, WAKE_SECONDS, FIRST_COMPLETED)
        yield from done
