"""A few calls at once, each in a thread: the children of an app index, the blobs of its write.

``concurrent.futures`` would do it, but importing it costs about 15 ms here (it imports
``logging``, with ``traceback``, ``linecache`` and ``tokenize``), which is a tenth of an app
index rebase. This is the part of a thread pool those callers use, on ``threading`` alone:
every call run, at most so many at a time, results in order, and a failure that stops what
has not begun. The exporter's layer builders and upload stager and ``rebase-many``'s jobs,
whose runs last longer, keep ``concurrent.futures``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from lifecycle import interrupts
from lifecycle.checking import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


def run_each(calls: Sequence[Callable[[], T]], workers: int, name: str) -> list[T]:
    """Every call's result, in the order of ``calls``, from at most ``workers`` threads named
    ``<name>_<n>``. Calls begin in order; once one fails, no other begins, and when the
    running ones have ended the first failure in order is raised (a lasting fault must not be
    met once per remaining call). An interrupt of the caller (Ctrl-C, SIGTERM) is raised
    after the running calls have ended too, so nothing is left writing behind it."""
    if workers <= 1 or len(calls) <= 1:
        return [call() for call in calls]
    results: list[T | None] = [None] * len(calls)
    failures: list[BaseException | None] = [None] * len(calls)
    lock = threading.Lock()
    pending = iter(range(len(calls)))
    stopped = False

    def work(ended: threading.Event) -> None:
        nonlocal stopped
        try:
            while True:
                with lock:
                    index = None if stopped else next(pending, None)
                if index is None:
                    return
                try:
                    results[index] = calls[index]()
                except BaseException as err:  # noqa: BLE001 - raised in the caller's thread
                    failures[index] = err
                    with lock:
                        stopped = True
        finally:
            ended.set()

    # Waited for by events, not Thread.join: in Python 3.11 a join that an interrupt cuts
    # short marks the thread as ended while it still runs, so a second join returns at once.
    ends = [threading.Event() for _ in range(min(workers, len(calls)))]
    threads = [threading.Thread(target=work, args=(ended,), name=f"{name}_{number}",
                                daemon=True) for number, ended in enumerate(ends)]
    try:
        for thread in threads:
            thread.start()
        for ended in ends:
            interrupts.wait(ended)
    except BaseException:  # an interrupt, perhaps while the threads were still being started
        with lock:
            stopped = True
        for thread, ended in zip(threads, ends, strict=True):
            if thread.ident is not None:  # started
                interrupts.wait(ended)
        raise
    for failure in failures:
        if failure is not None:
            raise failure
    return cast("list[T]", results)  # every call ran, and none failed
