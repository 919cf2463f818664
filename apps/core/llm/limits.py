"""Per-provider limits that hold across processes: requests/minute, tokens/minute and a
concurrency cap, all kept in Redis (`settings.REDIS_URL`) and changed by atomic Lua.

* Requests per minute: an exact sliding window (a ZSET of start times): at most N starts
  in any 60 s window. One Redis call per request start, only when a limit is set.
* Tokens per minute: the same window over token counts. A call reserves an estimate
  (prompt characters / 4 + max_tokens) before it starts and settles to the real usage
  after, so the budget is never overdrawn by calls in flight.
* Concurrency: `SlotPool` (see slots.py), leased in batches, no Redis call per request.

A `ProviderLimiter` is a light, loop-agnostic facade: the Redis client and the slot pool
belong to the running event loop (see transport.LoopState).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import uuid
from dataclasses import dataclass

from django.conf import settings
from redis.asyncio import Redis
from redis.exceptions import RedisError

from . import scripts
from .config import ProviderConfig
from .slots import LimiterUnavailable, SlotPool
from .transport import loop_state

logger = logging.getLogger(__name__)

WINDOW_MS = 60_000
KEY_PREFIX = "seedbed:limits"
# Re-check a token wait at least this often: settling calls in flight may free budget early.
TPM_MAX_SLEEP = 1.0


def estimate_tokens(messages: list[dict], max_tokens: int | None, default_max_tokens: int) -> int:
    """Prompt characters / 4 plus the completion budget: a deliberately high estimate."""
    chars = 0
    for message in messages:
        content = message.get("content", "")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):  # content parts
            chars += sum(
                len(str(part.get("text", ""))) for part in content if isinstance(part, dict)
            )
    return chars // 4 + (max_tokens if max_tokens is not None else default_max_tokens)


@dataclass
class TokenReservation:
    member: str
    tokens: int


def _redis_for(url: str) -> Redis:
    return Redis.from_url(
        url, decode_responses=True, socket_timeout=5.0, socket_connect_timeout=5.0
    )


def _unavailable(exc: BaseException) -> LimiterUnavailable:
    error = LimiterUnavailable(
        "The rate-limit store (Redis) is unreachable, so the provider's limits cannot be "
        "enforced; the call was not made."
    )
    error.__cause__ = exc
    return error


class ProviderLimiter:
    def __init__(
        self,
        key: str,
        *,
        requests_per_minute: int | None = None,
        tokens_per_minute: int | None = None,
        max_concurrency: int = 16,
        redis_url: str | None = None,
        lease_seconds: float = 10.0,
    ) -> None:
        self.key = key
        self.requests_per_minute = requests_per_minute or None
        self.tokens_per_minute = tokens_per_minute or None
        self.max_concurrency = max(1, max_concurrency)
        self.lease_seconds = lease_seconds
        # Read once: settings lookups are measurable on the per-request path.
        self.redis_url: str = redis_url or settings.REDIS_URL
        # "{...}" is a Redis Cluster hash tag: a provider's keys share one slot.
        base = f"{KEY_PREFIX}:{{{key}}}"
        self._rpm_keys = [f"{base}:rpm"]
        self._tpm_keys = [f"{base}:tpm:z", f"{base}:tpm:h", f"{base}:tpm:sum"]
        self._slot_keys = [f"{base}:conc", f"{base}:conc:waiters"]
        self._pool_name = f"slots:{self.redis_url}:{key}"
        self._member_prefix = uuid.uuid4().hex[:12]
        self._members = itertools.count()

    @classmethod
    def for_config(cls, config: ProviderConfig, **kwargs: object) -> ProviderLimiter:
        return cls(
            config.key,
            requests_per_minute=config.requests_per_minute,
            tokens_per_minute=config.tokens_per_minute,
            max_concurrency=config.max_concurrency,
            **kwargs,  # type: ignore[arg-type]
        )

    def redis(self) -> Redis:
        """The running loop's Redis client for this limiter's URL."""
        url = self.redis_url
        return loop_state().resource(f"redis:{url}", lambda: _redis_for(url))

    def _pool(self) -> SlotPool:
        state = loop_state()
        pool: SlotPool | None = state.get(self._pool_name)
        if pool is None:
            redis = self.redis()  # created first, so it is closed after the pool
            pool = state.resource(
                self._pool_name,
                lambda: SlotPool(redis, self._slot_keys, lease_seconds=self.lease_seconds),
            )
        return pool

    def _member(self) -> str:
        return f"{self._member_prefix}:{next(self._members)}"

    # ---- concurrency ------------------------------------------------------------------

    async def acquire_slot(self) -> tuple[SlotPool, str]:
        """Wait for a concurrency slot; pass the result to `release_slot`."""
        pool = self._pool()
        return pool, await pool.acquire(self.max_concurrency)

    @staticmethod
    def release_slot(slot: tuple[SlotPool, str]) -> None:
        slot[0].release(slot[1])

    # ---- requests per minute ----------------------------------------------------------

    async def wait_request(self) -> None:
        """Record one request start, waiting until the window has room for it."""
        limit = self.requests_per_minute
        if limit is None:
            return
        redis = self.redis()
        member = self._member()
        while True:
            try:
                wait_ms = int(
                    await scripts.rpm_acquire(redis, self._rpm_keys, [limit, WINDOW_MS, member])
                )
            except (RedisError, OSError) as exc:
                raise _unavailable(exc) from exc
            if wait_ms <= 0:
                return
            # Jitter so that waiting processes do not all retry in the same millisecond.
            await asyncio.sleep(wait_ms / 1000 + random.uniform(0, 0.02))

    # ---- tokens per minute ------------------------------------------------------------

    async def reserve_tokens(self, tokens: int) -> TokenReservation | None:
        limit = self.tokens_per_minute
        if limit is None:
            return None
        redis = self.redis()
        reservation = TokenReservation(self._member(), max(0, int(tokens)))
        while True:
            try:
                wait_ms = int(
                    await scripts.tpm_reserve(
                        redis,
                        self._tpm_keys,
                        [limit, WINDOW_MS, reservation.member, reservation.tokens],
                    )
                )
            except (RedisError, OSError) as exc:
                raise _unavailable(exc) from exc
            if wait_ms <= 0:
                reservation.tokens = min(reservation.tokens, limit)
                return reservation
            await asyncio.sleep(min(TPM_MAX_SLEEP, wait_ms / 1000) + random.uniform(0, 0.02))

    async def settle_tokens(self, reservation: TokenReservation | None, actual: int) -> None:
        """Replace a reservation's estimate with the tokens really used (0 on failure)."""
        if reservation is None or actual == reservation.tokens:
            return
        try:
            await scripts.tpm_settle(
                self.redis(), self._tpm_keys, [reservation.member, max(0, int(actual))]
            )
        except (RedisError, OSError):
            # The call itself succeeded; losing its result over bookkeeping would be worse
            # than an estimate that stays in the window for a minute.
            logger.warning("could not settle token usage for %s", self.key, exc_info=True)
            return
        reservation.tokens = actual
