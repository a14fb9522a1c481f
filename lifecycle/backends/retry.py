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

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lifecycle.platform.exits import invalid_args

RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

ENVIRONMENT = {
    "CNB_REGISTRY_ATTEMPTS": "attempts",
    "CNB_REGISTRY_RETRY_DELAY": "base_delay",
    "CNB_REGISTRY_MAX_DELAY": "max_delay",
    "CNB_REGISTRY_TIMEOUT": "read_timeout",
    "CNB_REGISTRY_DEADLINE": "deadline_seconds",
}


@dataclass(frozen=True)
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
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None  # not a value the RFC allows: the usual back-off
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
