"""The one retry layer for outbound LLM calls.

Retried: connection failures, timeouts, 408, 409, 429 and 5xx. Waits use full-jitter
exponential backoff (`uniform(0, min(cap, base * 2**n))`, so many workers hitting the same
failing provider spread out) but never less than the upstream's Retry-After. A Retry-After
longer than `max_retry_after` is not slept through: the error is raised with
`.retry_after` so the caller (a Celery task) can reschedule instead of holding a worker.

A 2xx answer with a malformed body (`ProviderBadResponse`) is retried once only: a
truncated body is usually transient, but a server that always answers garbage should not
be called `max_attempts` times.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

from .config import ProviderConfig
from .errors import LLMError, ProviderBadResponse

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429})
BAD_RESPONSE_MAX_ATTEMPTS = 2


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (seconds or HTTP date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 120.0

    @classmethod
    def for_config(cls, config: ProviderConfig, *, max_attempts: int | None = None) -> RetryPolicy:
        return cls(
            max_attempts=max_attempts or config.max_attempts,
            backoff_base=config.backoff_base,
            backoff_max=config.backoff_max,
            max_retry_after=config.max_retry_after,
        )

    def backoff(self, attempt: int) -> float:
        """Full jitter after the `attempt`-th failure (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(0.0, ceiling)

    def delay_before_retry(self, exc: LLMError, attempt: int, bad_responses: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up now."""
        if not exc.retryable or attempt >= self.max_attempts:
            return None
        if isinstance(exc, ProviderBadResponse) and bad_responses >= BAD_RESPONSE_MAX_ATTEMPTS:
            return None
        delay = self.backoff(attempt)
        if exc.retry_after is not None:
            if exc.retry_after > self.max_retry_after:
                return None
            # A tiny margin: the server's clock ticks in whole seconds.
            delay = max(delay, exc.retry_after + 0.01)
        return delay

    async def run(self, attempt_fn: Callable[[int], Awaitable[T]], *, label: str = "") -> T:
        """Call `attempt_fn(1)`, `attempt_fn(2)`, ... until it returns or we give up."""
        attempt = 0
        bad_responses = 0
        while True:
            attempt += 1
            try:
                return await attempt_fn(attempt)
            except LLMError as exc:
                if isinstance(exc, ProviderBadResponse):
                    bad_responses += 1
                delay = self.delay_before_retry(exc, attempt, bad_responses)
                if delay is None:
                    give_up(exc, attempt)
                    raise
                logger.info(
                    "LLM call to %s failed (attempt %d/%d), retrying in %.2f s: %s",
                    label,
                    attempt,
                    self.max_attempts,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)


def give_up(exc: LLMError, attempts: int) -> LLMError:
    """`exc` annotated with the attempt count, its message saying we retried."""
    exc.attempts = attempts
    if attempts > 1 and exc.retryable:
        exc.user_message = f"{exc.user_message} (gave up after {attempts} attempts)"
        exc.args = (exc.user_message,)
    if exc.retry_after is not None and exc.retry_after > 0 and exc.retryable:
        exc.user_message = f"{exc.user_message} The provider asked to wait {exc.retry_after:.0f} s."
        exc.args = (exc.user_message,)
    return exc
