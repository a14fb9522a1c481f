"""The retry policy's waits: back-off, Retry-After within the cap, and the deadline."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from lifecycle.backends.retry import RetryPolicy
from lifecycle.platform.exits import LifecycleError


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def test_back_off_grows_exponentially_with_jitter_up_to_the_cap(waits: list[float]) -> None:
    policy = RetryPolicy(base_delay=1, max_delay=5)
    for attempt in (1, 2, 3, 4):
        policy.pause(attempt)
    bounds = [(0.5, 1), (1, 2), (2, 4), (2.5, 5)]
    assert all(low <= wait <= high for wait, (low, high) in zip(waits, bounds, strict=True))


@pytest.mark.parametrize(("retry_after", "low", "high"), [
    ("3", 3, 3),            # seconds, longer than the back-off: honoured
    ("60", 10, 10),         # longer than max_delay: capped
    ("soon", 0.005, 0.01),  # not a value HTTP allows: the back-off
])
def test_retry_after_is_honoured_within_the_cap(waits: list[float], retry_after: str,
                                                low: float, high: float) -> None:
    RetryPolicy(base_delay=0.01, max_delay=10).pause(1, retry_after)
    assert low <= waits[0] <= high


def test_retry_after_as_an_http_date(waits: list[float]) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=4), usegmt=True)
    RetryPolicy(base_delay=0.01, max_delay=10).pause(1, when)
    assert 2 <= waits[0] <= 4


def test_no_wait_goes_past_the_deadline(waits: list[float]) -> None:
    policy = RetryPolicy(base_delay=8, max_delay=8, deadline_seconds=1,
                         started=time.monotonic())
    policy.pause(1, "8")
    assert waits[0] <= 1
    assert policy.may_retry(1)  # the deadline has not passed: only the wait was cut


def test_no_attempt_starts_after_the_deadline() -> None:
    policy = RetryPolicy(deadline_seconds=5, started=time.monotonic() - 6)
    assert not policy.may_retry(1)
    assert RetryPolicy(attempts=3).may_retry(2) and not RetryPolicy(attempts=3).may_retry(3)


def test_settings_from_the_environment() -> None:
    policy = RetryPolicy.from_environment({"CNB_REGISTRY_ATTEMPTS": "2",
                                           "CNB_REGISTRY_MAX_DELAY": "0.5",
                                           "CNB_REGISTRY_DEADLINE": "30"})
    assert (policy.attempts, policy.max_delay, policy.deadline_seconds) == (2, 0.5, 30)
    for bad in ("0", "-1", "nan", "soon"):
        with pytest.raises(LifecycleError, match="CNB_REGISTRY_MAX_DELAY"):
            RetryPolicy.from_environment({"CNB_REGISTRY_MAX_DELAY": bad})
