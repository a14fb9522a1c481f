"""How the registry client survives transient faults, and when it stops trying.

* A request whose body can be sent again (no body, or bytes) is retried after a connection
  error, a timeout, a truncated response, HTTP 429, 500, 502, 503 or 504.
* A blob upload that fails part-way is started again from a new upload session, re-reading
  its source from the beginning: an upload session's state after a failure is unknown.
* Waits grow exponentially from ``base_delay`` (with jitter) up to ``max_delay``; a 429's or
  503's ``Retry-After`` (seconds or an HTTP date) is honoured up to ``max_delay``.
* A blob read that breaks part-way goes on from where it stopped with a fresh request.
* Every request has a connect and a read timeout, so a stalled server costs at most
  ``read_timeout``; no retry starts after ``deadline_seconds`` of the phase, so no run
  hangs, whatever the registry does.

Test suites shorten the waits through the environment (see :meth:`RetryPolicy.from_environment`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from lifecycle.platform.exits import invalid_args
from lifecycle.record import field, record

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

ENVIRONMENT = {
    "CNB_REGISTRY_ATTEMPTS": "attempts",
    "CNB_REGISTRY_RETRY_DELAY": "base_delay",
    "CNB_REGISTRY_MAX_DELAY": "max_delay",
    "CNB_REGISTRY_TIMEOUT": "read_timeout",
    "CNB_REGISTRY_DEADLINE": "deadline_seconds",
}


@record
class RetryPolicy:
    """The retry and timeout settings of one phase, and the clock its deadline runs from."""

    attempts: int = 5                 # per request, and per blob upload
    base_delay: float = 0.5           # seconds before the second attempt
    max_delay: float = 10.0
    connect_timeout: float = 10.0
    read_timeout: float = 120.0       # a registry verifying a large blob answers slowly
    deadline_seconds: float = 900.0   # no new attempt after this long
    started: float = field(default_factory=time.monotonic, compare=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> RetryPolicy:
        """Defaults, with ``CNB_REGISTRY_ATTEMPTS``, ``CNB_REGISTRY_RETRY_DELAY``,
        ``CNB_REGISTRY_MAX_DELAY``, ``CNB_REGISTRY_TIMEOUT`` (read timeout) and
        ``CNB_REGISTRY_DEADLINE`` (seconds)."""
        values: dict[str, float | int] = {}
        for variable, name in ENVIRONMENT.items():
            text = environ.get(variable, "")
            if not text:
                continue
            try:
                value = int(text) if name == "attempts" else float(text)
            except ValueError:
                raise invalid_args(f"parse {variable}", f"'{text}' is not a number") from None
            if value <= 0 or value != value:  # also rejects NaN
                raise invalid_args(f"parse {variable}", f"'{text}' must be positive")
            values[name] = value
        return cls(**values)  # type: ignore[arg-type]

    @property
    def timeouts(self) -> tuple[float, float]:
        return self.connect_timeout, self.read_timeout

    def may_retry(self, attempt: int) -> bool:
        """Whether attempt number ``attempt + 1`` may start."""
        return (attempt < self.attempts
                and time.monotonic() - self.started < self.deadline_seconds)

    def pause(self, attempt: int, retry_after: str | None = None) -> None:
        """Wait before attempt ``attempt + 1``."""
        import random  # only a retry needs it (imported ahead: backends.import_ahead)

        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        delay *= random.uniform(0.5, 1.0)  # jitter: clients that failed together spread out
        asked = _seconds(retry_after) if retry_after else None
        if asked is not None:
            delay = max(delay, min(asked, self.max_delay))
        # Waiting past the deadline would only end in giving up.
        time.sleep(max(0.0, min(delay, self.started + self.deadline_seconds - time.monotonic())))


def _seconds(retry_after: str) -> float | None:
    """A ``Retry-After`` value (delay-seconds or an HTTP date) as seconds from now."""
    text = retry_after.strip()
    if _digits(text):
        return float(text)
    now = time.time()
    when = http_date(text, now)
    return None if when is None else max(0.0, when - now)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS_BEFORE_MONTH = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def http_date(text: str, now: float) -> float | None:
    """An HTTP date in any of the three forms RFC 9110 has recipients accept, as seconds since
    the epoch; None for anything else. ``now`` (seconds since the epoch) places a two-digit
    year.

    Parsed here rather than by ``email.utils``, which with the email package, ``calendar``,
    ``datetime`` and ``locale`` costs more start-up than the rest of the registry backend.
    """
    match text.split():
        case [_, day, month, year, clock, "GMT"] if len(year) == 4:
            pass                                   # IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        case [_, date, clock, "GMT"] if date.count("-") == 2:
            day, month, year = date.split("-")     # RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            if len(year) != 2:
                return None
        case [_, month, day, clock, year] if len(year) == 4:
            pass                                   # asctime: Sun Nov  6 08:49:37 1994
        case _:
            return None
    numbers = (day, year, *clock.split(":"))
    if month not in _MONTHS or len(numbers) != 5 or not all(map(_digits, numbers)):
        return None
    day_of_month, full_year, hour, minute, second = map(int, numbers)
    if len(year) == 2:
        full_year = _recent_year(full_year, time.gmtime(now).tm_year)
    if not (1 <= day_of_month <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        return None  # (60: a leap second)
    days = _days_since_epoch(full_year, _MONTHS.index(month) + 1, day_of_month)
    return float(days * 86400 + hour * 3600 + minute * 60 + second)


def _digits(text: str) -> bool:
    """Only ASCII digits, as HTTP's DIGIT (``str.isdigit`` also takes "²", which int() does
    not)."""
    return text.isascii() and text.isdigit()


def _recent_year(two_digits: int, this_year: int) -> int:
    """A two-digit year as RFC 9110 reads it: one more than 50 years ahead is the latest
    year in the past with those digits."""
    year = this_year - this_year % 100 + two_digits
    return year - 100 if year > this_year + 50 else year


def _days_since_epoch(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a date of the Gregorian calendar."""
    def leap_years_through(last: int) -> int:  # from year 1 to ``last``
        return last // 4 - last // 100 + last // 400

    leap_day = 1 if month > 2 and leap_years_through(year) != leap_years_through(year - 1) else 0
    return (365 * (year - 1970) + leap_years_through(year - 1) - leap_years_through(1969)
            + _DAYS_BEFORE_MONTH[month - 1] + leap_day + day - 1)
