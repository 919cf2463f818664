"""A concurrency cap that holds across processes without a Redis call per request.

Slots live in a Redis ZSET as members "<holder>:<n>" scored by lease expiry, so a
crashed process cannot leak them: its leases simply run out. Each process (one pool per
event loop and provider) leases slots in batches and keeps them while it has work:
releasing a slot hands it straight to a local waiter, so in steady state a request costs
no Redis round trip at all (a per-request acquire/release would add two round trips and
measurably slow a 64-way run). A heartbeat renews the leases every `lease/3` seconds.

Fairness: a process that cannot get the slots it wants registers itself as waiting; the
holders learn it at their next heartbeat and give back everything above their fair share
(`limit // holders`). Idle slots go back to Redis after `LINGER` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import deque

from redis.asyncio import Redis
from redis.exceptions import RedisError

from . import scripts
from .errors import LLMError

logger = logging.getLogger(__name__)

LINGER = 0.2  # seconds an unused slot stays with this process
POLL_MIN = 0.005  # first wait when the cap is full everywhere, doubled up to POLL_MAX
POLL_MAX = 0.1


class LimiterUnavailable(LLMError):
    """Redis, which holds the cross-process limits, could not be reached."""

    default_retryable = True


class SlotPool:
    def __init__(self, redis: Redis, keys: list[str], *, lease_seconds: float) -> None:
        self._redis = redis
        self._keys = keys  # [slots zset, waiters zset]
        self._lease_ms = max(100, int(lease_seconds * 1000))
        self._heartbeat_every = max(0.03, min(1.0, lease_seconds / 3))
        self._holder = uuid.uuid4().hex[:16]
        self._counter = 0
        self._limit = 1
        self._held: set[str] = set()
        # (member, monotonic time it became free); acquire pops the most recent (LIFO),
        # so the oldest idle slots at the front are the ones given back.
        self._free: deque[tuple[str, float]] = deque()
        self._waiters: deque[asyncio.Future[str]] = deque()
        self._others_waiting = 0
        self._to_release: list[str] = []
        self._refill_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._trim_handle: asyncio.TimerHandle | None = None
        self._closed = False

    # ---- public API -------------------------------------------------------------------

    async def acquire(self, limit: int) -> str:
        """A slot member; hold it for one request, then `release` it."""
        self._limit = limit
        if self._free and not self._waiters and len(self._held) <= self._share():
            return self._free.pop()[0]
        if self._closed:
            raise RuntimeError("slot pool is closed")
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._serve_waiters()
        self._ensure_refill()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result())
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self, member: str) -> None:
        if member not in self._held:
            return  # its lease expired and Redis dropped it: nothing left to give back
        if len(self._held) > self._share():
            self._give_back(member)
            return
        if self._hand_over(member):
            return
        self._free.append((member, time.monotonic()))
        self._schedule_trim()

    @property
    def held(self) -> int:
        return len(self._held)

    async def aclose(self) -> None:
        self._closed = True
        for task in (self._refill_task, self._heartbeat_task):
            if task is not None:
                task.cancel()
        if self._trim_handle is not None:
            self._trim_handle.cancel()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
        self._waiters.clear()
        members = list(self._held)
        self._held.clear()
        self._free.clear()
        if members:
            with contextlib.suppress(RedisError, OSError):
                await scripts.slots_release(self._redis, self._keys, [self._holder, 0, *members])

    # ---- internals --------------------------------------------------------------------

    def _share(self) -> int:
        # Our fair share of the cap when other processes are waiting for slots.
        if self._others_waiting <= 0:
            return self._limit
        return max(1, self._limit // (self._others_waiting + 1))

    def _hand_over(self, member: str) -> bool:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(member)
                return True
        return False

    def _serve_waiters(self) -> None:
        while self._free and self._waiters and len(self._held) <= self._share():
            member, _ = self._free.pop()
            if not self._hand_over(member):
                self._free.append((member, time.monotonic()))
                break

    def _give_back(self, member: str) -> None:
        self._held.discard(member)
        self._to_release.append(member)
        if len(self._to_release) == 1:
            # Batch the slots freed in this loop iteration into one Redis call.
            asyncio.get_running_loop().call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        if self._to_release and not self._closed:
            task = asyncio.get_running_loop().create_task(self._flush())
            task.add_done_callback(_log_failure)

    async def _flush(self) -> None:
        members, self._to_release = self._to_release, []
        if members:
            waiting = 1 if self._waiters else 0
            await scripts.slots_release(self._redis, self._keys, [self._holder, waiting, *members])

    def _schedule_trim(self) -> None:
        if self._trim_handle is None and not self._closed:
            loop = asyncio.get_running_loop()
            self._trim_handle = loop.call_later(LINGER, self._trim)

    def _trim(self) -> None:
        self._trim_handle = None
        cutoff = time.monotonic() - LINGER
        while self._free and self._free[0][1] <= cutoff:
            self._give_back(self._free.popleft()[0])
        if self._free:
            self._schedule_trim()

    def _ensure_refill(self) -> None:
        if self._refill_task is None or self._refill_task.done():
            self._refill_task = asyncio.get_running_loop().create_task(self._refill())

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat_task is None or self._heartbeat_task.done():
            self._heartbeat_task = asyncio.get_running_loop().create_task(self._heartbeat())

    def _pending(self) -> int:
        # Served waiters leave from the left and cancelled ones remove themselves, so
        # after dropping finished ones at the front the length is the count (O(1)).
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        return len(self._waiters)

    async def _refill(self) -> None:
        delay = POLL_MIN
        try:
            while not self._closed:
                self._serve_waiters()  # local free slots first, Redis only for the rest
                pending = self._pending()
                if not pending:
                    break
                want = min(pending, self._share() - len(self._held))
                granted: list[str] = []
                if want > 0:
                    first = self._counter
                    self._counter += want
                    granted, others = await scripts.slots_acquire(
                        self._redis,
                        self._keys,
                        [self._limit, self._lease_ms, self._holder, want, first],
                    )
                    self._others_waiting = int(others)
                    for member in granted:
                        self._held.add(member)
                        if not self._hand_over(member):
                            self._free.append((member, time.monotonic()))
                            self._schedule_trim()
                    if self._held:
                        self._ensure_heartbeat()
                if granted:
                    delay = POLL_MIN
                    continue
                # Full everywhere: local releases are handed over directly meanwhile.
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(POLL_MAX, delay * 2)
        except (RedisError, OSError) as exc:
            error = LimiterUnavailable(
                "The rate-limit store (Redis) is unreachable, so the provider's "
                "concurrency limit cannot be enforced."
            )
            error.__cause__ = exc
            self._fail_waiters(error)
        except Exception as exc:  # never leave callers waiting on a dead refill task
            logger.exception("LLM concurrency slot refill failed")
            self._fail_waiters(exc)

    def _fail_waiters(self, error: BaseException) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(error)
        self._waiters.clear()

    async def _heartbeat(self) -> None:
        while self._held and not self._closed:
            await asyncio.sleep(self._heartbeat_every)
            members = list(self._held)
            if not members:
                break
            waiting = 1 if self._pending() else 0
            try:
                alive, others = await scripts.slots_renew(
                    self._redis, self._keys, [self._lease_ms, self._holder, waiting, *members]
                )
            except (RedisError, OSError):
                logger.warning("could not renew LLM concurrency leases", exc_info=True)
                continue
            self._others_waiting = int(others)
            # Members given back while the renewal was on its way are not lost.
            lost = (set(members) - set(alive)) & self._held
            if lost:
                logger.warning("%d LLM concurrency lease(s) expired before renewal", len(lost))
                self._held -= lost
                self._free = deque(item for item in self._free if item[0] not in lost)
            # Give back idle slots above our fair share now; busy ones follow on release.
            while self._free and len(self._held) > self._share():
                self._give_back(self._free.popleft()[0])


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("releasing LLM concurrency slots failed", exc_info=task.exception())
