"""run_each: every call in threads, results in order, a failure stops what has not begun."""

from __future__ import annotations

import functools
import signal
import threading
import time

import pytest

from lifecycle.workers import run_each

pytestmark = pytest.mark.usefixtures("sigint_raises")


def test_results_come_in_the_order_of_the_calls() -> None:
    def slow_then_fast(number: int) -> int:
        time.sleep(0.02 * (5 - number))  # the last call ends first
        return number * 10

    calls = [lambda number=number: slow_then_fast(number) for number in range(5)]
    assert run_each(calls, 5, "test") == [0, 10, 20, 30, 40]


def test_at_most_workers_calls_run_at_once_in_named_threads() -> None:
    running, most, names = 0, 0, set()
    lock = threading.Lock()

    def call() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            names.add(threading.current_thread().name)
        time.sleep(0.01)
        with lock:
            running -= 1

    run_each([call] * 12, 3, "worker")
    assert most <= 3
    assert names <= {"worker_0", "worker_1", "worker_2"}


def test_one_worker_or_one_call_runs_in_the_callers_thread() -> None:
    caller = threading.current_thread().name
    assert run_each([lambda: threading.current_thread().name] * 3, 1, "x") == [caller] * 3
    assert run_each([lambda: threading.current_thread().name], 8, "x") == [caller]
    assert run_each([], 8, "x") == []


def test_a_failure_stops_calls_not_begun_and_the_first_in_order_is_raised() -> None:
    began: list[int] = []
    lock = threading.Lock()

    def call(number: int) -> int:
        with lock:
            began.append(number)
        if number in (1, 2):
            time.sleep(0.05 if number == 1 else 0.0)  # 2 fails first, 1 fails later
            raise ValueError(f"call {number} failed")
        time.sleep(0.01)
        return number

    calls = [lambda number=number: call(number) for number in range(20)]
    with pytest.raises(ValueError, match="call 1 failed"):
        run_each(calls, 3, "test")
    assert len(began) < 20


@pytest.mark.parametrize("receiver", ["main thread", "worker thread"])
def test_an_interrupt_of_the_caller_waits_for_the_running_calls(receiver: str) -> None:
    """A SIGINT sent to the process reaches whichever of its threads the kernel picks; one
    that reaches a worker must still stop the caller while the running calls go on."""
    ended: list[int] = []
    workers: list[int] = []
    both_begun = threading.Barrier(3)
    assert threading.current_thread() is threading.main_thread()

    def call(number: int) -> None:
        if number < 2:
            workers.append(threading.get_ident())
            both_begun.wait()
        time.sleep(0.5)
        ended.append(number)

    def interrupt() -> None:
        both_begun.wait()  # the two workers are in their calls
        target = threading.main_thread().ident if receiver == "main thread" else workers[0]
        assert target is not None
        signal.pthread_kill(target, signal.SIGINT)

    interrupter = threading.Thread(target=interrupt)
    interrupter.start()
    with pytest.raises(KeyboardInterrupt):
        run_each([functools.partial(call, number) for number in range(6)], 2, "test")
    interrupter.join()
    assert sorted(ended) == [0, 1]  # the two running calls ended; none began after
