"""The retry policy's waits: back-off, Retry-After within the cap, and the deadline; the
HTTP dates a Retry-After may give."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifecycle.backends.retry import RetryPolicy, http_date
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
    ("²", 0.005, 0.01),     # a digit to str.isdigit, not to HTTP
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


IN_2026 = calendar.timegm((2026, 12, 2, 1, 0, 0))
EXAMPLE = calendar.timegm((1994, 11, 6, 8, 49, 37))   # RFC 9110's example date


@pytest.mark.parametrize("text", [
    "Sun, 06 Nov 1994 08:49:37 GMT",    # IMF-fixdate, what servers send
    "Sunday, 06-Nov-94 08:49:37 GMT",   # obsolete RFC 850 form
    "Sun Nov  6 08:49:37 1994",         # obsolete asctime form
])
def test_the_three_forms_of_an_http_date(text: str) -> None:
    assert http_date(text, IN_2026) == EXAMPLE


@pytest.mark.parametrize(("two_digits", "year"), [("76", 2076), ("77", 1977), ("26", 2026),
                                                  ("00", 2000), ("99", 1999)])
def test_a_two_digit_year_more_than_50_years_ahead_is_in_the_past(two_digits: str,
                                                                   year: int) -> None:
    text = f"Friday, 01-Jan-{two_digits} 00:00:00 GMT"
    assert http_date(text, IN_2026) == calendar.timegm((year, 1, 1, 0, 0, 0))


@given(st.integers(min_value=0, max_value=calendar.timegm((9999, 12, 31, 23, 59, 59))))
def test_http_dates_read_as_the_standard_library_writes_them(seconds: int) -> None:
    assert http_date(formatdate(seconds, usegmt=True), IN_2026) == seconds
    assert http_date(time.asctime(time.gmtime(seconds)), IN_2026) == seconds


@pytest.mark.parametrize("text", [
    "soon", "", "Sun, 06 Nov 94 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
    "Sun, 06 Nov 1994 08:49:37 +0000", "Sun, 32 Nov 1994 08:49:37 GMT",
    "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
    "Sun, 06 Nov 1994 08:49 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
    "Sunday, 06-Nov-1994 08:49:37 GMT", "Sunday, 06-Nov 08:49:37 GMT",
    "Sun Nov  6 08:49:37 94", "Sun, 06 Nov 1994 -8:49:37 GMT",
    "Sun, 0² Nov 1994 08:49:37 GMT",
])
def test_what_is_not_an_http_date(text: str) -> None:
    assert http_date(text, IN_2026) is None
