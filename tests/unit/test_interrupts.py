"""The main thread's waits for workers notice a signal that the kernel gave a worker thread."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from lifecycle import interrupts

pytestmark = pytest.mark.usefixtures("sigint_raises")


def _interrupt_from_a_worker(wait: Callable[[Future[None], threading.Event], object]) -> None:
    """Run ``wait`` in the main thread for a worker that sends itself a SIGINT and then works
    on until told to stop: the interrupt must reach the main thread while the worker runs."""
    assert threading.current_thread() is threading.main_thread()
    begin, release = threading.Event(), threading.Event()

    def work() -> None:
        begin.wait()
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        assert release.wait(10), "the main thread did not notice the interrupt"

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(work)
        try:
            with pytest.raises(KeyboardInterrupt):
                begin.set()
                wait(future, release)
            assert not future.done()  # noticed while the worker was still at work
        finally:
            release.set()
        future.result()


def test_result_notices_an_interrupt_a_worker_received() -> None:
    _interrupt_from_a_worker(lambda future, _: interrupts.result(future))


def test_as_completed_notices_an_interrupt_a_worker_received() -> None:
    _interrupt_from_a_worker(lambda future, _: list(interrupts.as_completed([future])))


def test_wait_notices_an_interrupt_a_worker_received() -> None:
    def wait(future: Future[None], _: threading.Event) -> None:
        ended = threading.Event()
        future.add_done_callback(lambda _: ended.set())
        interrupts.wait(ended)

    _interrupt_from_a_worker(wait)


def test_results_and_failures_come_through() -> None:
    with ThreadPoolExecutor(2) as pool:
        assert interrupts.result(pool.submit(lambda: 42)) == 42
        with pytest.raises(TimeoutError, match="the call's own"):
            interrupts.result(pool.submit(_raise, TimeoutError("the call's own timeout")))
        futures = [pool.submit(lambda number=number: number) for number in range(5)]
        assert sorted(done.result() for done in interrupts.as_completed(futures)) == \
            list(range(5))


def _raise(err: Exception) -> None:
    raise err
