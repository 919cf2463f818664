"""History rows: exactly one `Inference` per call, written without slowing the call down.

Sync callers (label-existing, tasks) use `inference_record`, a plain insert. The gateway
uses the event loop's `Recorder`: a call takes its row's id from the table's sequence
when it starts (from a small pool fetched ahead, so usually without waiting; the caller
gets it in the response), and the finished row joins a queue written with one COPY every
INFERENCE_HISTORY_FLUSH_SECONDS (a setting) on a writer thread (gateway/writer.py). Rows
carry their ids, so a retried write cannot duplicate them. Only an unreachable database
is retried; a row PostgreSQL refuses is logged and dropped without holding up the others.
The queue is flushed at the ASGI lifespan shutdown (retrying for at most ~9 s) and when
the loop shuts down; what is left at interpreter exit is written synchronously, once.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError

from apps.core.llm.transport import loop_state

from .gateway.writer import Refused, allocate_ids, close_connection, write_rows
from .models import Inference

logger = logging.getLogger(__name__)

ID_TTL = 0.05  # seconds a fetched id may wait for its call
ID_BLOCK_MAX = 64
MAX_PENDING = 100_000  # rows kept in memory while the database is unreachable
RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


def inference_record(
    *,
    project: Any,
    model_id: str,
    protocol: str,
    task: str,
    request: Any,
    provider: Any = None,
    upstream_model: str = "",
    api_key: Any = None,
    user: Any = None,
    input_text: str = "",
    output: Any = None,
    output_text: str = "",
    streamed: bool = False,
    status: str = "ok",
    error: str = "",
    http_status: int = 200,
    latency_ms: float = 0.0,
    input_tokens: int = 0,
    output_tokens: int = 0,
    training_job_id: str = "",
) -> Inference:
    """Write one history row now (sync code: label-existing, tasks, tests)."""
    return Inference.objects.create(
        project=project,
        api_key=api_key,
        user=user,
        model_id=model_id[:320],
        provider=provider,
        upstream_model=upstream_model[:200],
        protocol=protocol,
        task=task[:30],
        request=request,
        input_text=input_text,
        output=output,
        output_text=output_text,
        streamed=streamed,
        status=status,
        error=error,
        http_status=http_status,
        latency_ms=latency_ms,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        training_job_id=training_job_id[:200],
    )


# ---- the gateway's batched writer -------------------------------------------------------

_live: set[Recorder] = set()
_live_lock = threading.Lock()


class Recorder:
    """One per event loop (see `recorder()`): hands out ids, queues and writes rows."""

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self._flush_task: asyncio.Task[None] | None = None
        self._flush_delay = settings.INFERENCE_HISTORY_FLUSH_SECONDS
        self._closed = False
        self.dropped = 0  # rows PostgreSQL refused (logged one by one)
        # Ids: a small pool fetched ahead (sized to the recent request rate) and thrown
        # away after ID_TTL, so that ids stay in the order calls started, across
        # processes, to within ID_TTL.
        self._ids: deque[int] = deque()
        self._ids_at = 0.0
        self._id_waiters: list[asyncio.Future[int]] = []
        self._allocator: asyncio.Task[None] | None = None
        self._taken = 0
        self._rate = 0.0  # ids per second, smoothed
        self._rate_at = time.monotonic()
        # One thread each, so that an id never waits behind a large insert; each keeps
        # its own database connection for the life of the process.
        self._id_thread = ThreadPoolExecutor(1, thread_name_prefix="inference-ids")
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="inference-writer")
        with _live_lock:
            _live.add(self)

    # -- ids --

    def reserve_id(self) -> asyncio.Future[int]:
        """A future for the next row's id (usually already resolved)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[int] = loop.create_future()
        self._taken += 1
        if self._ids and time.monotonic() - self._ids_at < ID_TTL:
            waiter.set_result(self._ids.popleft())
            if len(self._ids) * 4 < self._block() and self._allocator is None:
                self._allocator = loop.create_task(self._allocate())
            return waiter
        self._ids.clear()
        self._id_waiters.append(waiter)
        if self._allocator is None:
            self._allocator = loop.create_task(self._allocate())
        return waiter

    def _block(self) -> int:
        return max(1, min(ID_BLOCK_MAX, round(self._rate * ID_TTL)))

    async def _allocate(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                now = time.monotonic()
                elapsed = max(now - self._rate_at, 1e-3)
                self._rate = 0.5 * self._rate + 0.5 * (self._taken / elapsed)
                self._taken, self._rate_at = 0, now
                waiters, self._id_waiters = self._id_waiters, []
                count = len(waiters) + self._block()
                try:
                    ids = await loop.run_in_executor(self._id_thread, allocate_ids, count)
                except Exception as exc:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    return
                fresh = deque(ids)
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(fresh.popleft())
                self._ids, self._ids_at = fresh, time.monotonic()
                if not self._id_waiters:
                    return
        finally:
            self._allocator = None

    # -- rows --

    def submit(self, row: dict[str, Any]) -> None:
        """Queue a finished row (with its `id` from `reserve_id`); written within
        INFERENCE_HISTORY_FLUSH_SECONDS."""
        if len(self._rows) >= MAX_PENDING:
            dropped = self._rows.pop(0)
            logger.error("history queue full: row %s dropped", dropped.get("id"))
        self._rows.append(row)
        if self._flush_task is None and not self._closed:
            self._flush_task = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        try:
            await asyncio.sleep(self._flush_delay)
        except asyncio.CancelledError:
            pass  # shutting down: write what is queued, then stop
        finally:
            self._flush_task = None
            await self.flush()

    async def flush(self) -> None:
        """Write every queued row. While the database is unreachable, rows wait and are
        retried with backoff (a bounded number of times once the recorder is closing);
        a row PostgreSQL refuses is logged, counted and dropped, never retried."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while self._rows:
            rows, self._rows = self._rows, []
            try:
                write = functools.partial(write_rows, rows, retry=attempt > 0)
                refused = await loop.run_in_executor(self._write_thread, write)
            except (OperationalError, InterfaceError):
                self._rows[:0] = rows
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                logger.warning("writing %d history rows failed; retrying", len(rows), exc_info=True)
                attempt += 1
                if self._closed and attempt > len(RETRY_DELAYS):
                    raise
                await asyncio.sleep(delay)
                continue
            except Exception as exc:  # a bug, not the data or the database: don't loop
                logger.exception("writing %d history rows failed", len(rows))
                refused = [(row, exc) for row in rows]
            attempt = 0
            self._drop(refused)

    def _drop(self, refused: Refused) -> None:
        for row, exc in refused:
            self.dropped += 1
            logger.error(
                "history row %s dropped, PostgreSQL refused it (%s: %s): project %s, "
                "model %r, protocol %s, HTTP status %s; %d rows dropped by this process",
                row.get("id"),
                type(exc).__name__,
                str(exc).splitlines()[0][:300] if str(exc) else "",
                row.get("project_id"),
                row.get("model_id"),
                row.get("protocol"),
                row.get("http_status"),
                self.dropped,
            )

    def pending(self) -> int:
        return len(self._rows)

    async def aclose(self) -> None:
        """Flush and stop (the loop is shutting down); later rows are written at exit."""
        self._closed = True
        task = self._flush_task
        if task is not None and not task.done():
            task.cancel()
        await self.flush()
        loop = asyncio.get_running_loop()
        for thread in (self._id_thread, self._write_thread):
            # Their connections would otherwise stay open until garbage collection.
            await loop.run_in_executor(thread, close_connection)
            thread.shutdown(wait=True)
        with _live_lock:
            _live.discard(self)

    def flush_sync(self) -> None:
        """Write what is left from a thread with no running loop (interpreter exit)."""
        rows, self._rows = self._rows, []
        if rows:
            self._drop(write_rows(rows, retry=True))


def recorder() -> Recorder:
    """The running loop's recorder (created on first use, closed with the loop)."""
    return loop_state().resource("inference:recorder", Recorder)


async def flush_all() -> None:
    """Write every queued row of this loop now (ASGI lifespan shutdown, tests)."""
    found = loop_state().get("inference:recorder")
    if found is not None:
        await found.flush()


@atexit.register
def _flush_at_exit() -> None:
    with _live_lock:
        for live in list(_live):
            try:
                live.flush_sync()
            except Exception:
                logger.exception("history rows could not be written at exit")
