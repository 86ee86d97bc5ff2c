"""When to retry a request and how long to wait first.

Every call the SDK makes is safe to repeat: circuits are stored by content hash,
evaluation is pure, and submitting the same gradient again returns the same job. So,
as the openai and stripe clients do, connection errors, 429 and 503 are retried with
exponential backoff and jitter, a server's ``Retry-After`` wins over the computed delay
(up to a bound), and the number of retries is bounded.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3  # retries after the first attempt
    initial_delay: float = 0.25  # seconds before the first retry
    max_delay: float = 8.0  # cap of the computed backoff
    max_retry_after: float = 60.0  # a longer Retry-After is not honoured: give up instead
    jitter: float = 0.25  # the delay is scaled by a uniform factor in [1 - jitter, 1]

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt`` (0-based), or None to give up."""
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return max(retry_after, 0.0)
        backoff = min(self.initial_delay * 2.0**attempt, self.max_delay)
        return backoff * (1.0 - self.jitter * random.random())


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


@dataclass
class PollSchedule:
    """Delays between polls of a job: start quick, grow geometrically, stay bounded.

    A ``Retry-After`` header on the job's answer is a lower bound of the next delay, and
    no delay runs past the caller's deadline.
    """

    initial: float = 0.05
    factor: float = 1.5
    maximum: float = 2.0
    _next: float = 0.0

    def __post_init__(self):
        self._next = self.initial

    def next_delay(self, retry_after: float | None, remaining: float | None) -> float:
        delay = self._next if retry_after is None else max(self._next, retry_after)
        self._next = min(self._next * self.factor, self.maximum)
        if remaining is not None:
            delay = min(delay, max(remaining, 0.0))
        return delay
