"""History rows: exactly one `Inference` per call, written without slowing the call down.

Sync callers (label-existing, tasks) use `inference_record`, a plain insert. The gateway
uses the event loop's `Recorder`: a row's id is taken from the table's sequence when the
call starts (ids of calls that start together come from one `nextval` query, run while
the upstream answers, so the caller gets the id in its response at no cost in latency),
and the finished row joins a queue that is written with one `bulk_create` every
FLUSH_DELAY seconds on a writer thread. Rows carry their ids, so a retried write after a
lost connection cannot duplicate them (`ignore_conflicts`). The queue is flushed when the
loop shuts down (the ASGI lifespan shutdown, or the loop's own shutdown), and what is
left at interpreter exit is written synchronously.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.core.llm.transport import loop_state

from .models import Inference

logger = logging.getLogger(__name__)

T = TypeVar("T")

FLUSH_DELAY = 0.025  # seconds rows wait so that a busy gateway writes them in batches
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


def _with_connection(fn: Callable[[], T]) -> T:
    """Run on a writer thread's long-lived connection, reconnecting once if it went bad."""
    try:
        return fn()
    except (InterfaceError, OperationalError):
        connection.close()
        return fn()


def _allocate(count: int) -> list[int]:
    table = Inference._meta.db_table

    def query() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]

    return _with_connection(query)


def _insert_one(row: dict[str, Any]) -> None:
    try:
        Inference.objects.bulk_create([Inference(**row)], ignore_conflicts=True)
    except IntegrityError:
        # The key, user or provider was deleted meanwhile: keep the row without them.
        loose = {**row, "api_key_id": None, "user_id": None, "provider_id": None}
        try:
            Inference.objects.bulk_create([Inference(**loose)], ignore_conflicts=True)
        except IntegrityError:
            logger.warning("history row %s dropped: its project is gone", row.get("id"))


def _write_safely(rows: list[dict[str, Any]]) -> None:
    """The careful path: skips rows already written (a retry after a lost connection)
    and rows whose references are gone, one by one if need be."""
    try:
        Inference.objects.bulk_create([Inference(**r) for r in rows], ignore_conflicts=True)
    except IntegrityError:
        for row in rows:
            _insert_one(row)


_FIELDS = [f for f in Inference._meta.concrete_fields]
_COPY = "COPY {table} ({columns}) FROM STDIN".format(
    table=connection.ops.quote_name(Inference._meta.db_table),
    columns=", ".join(connection.ops.quote_name(f.column) for f in _FIELDS),
)


def _copy_rows(rows: list[dict[str, Any]]) -> None:
    """COPY: about a tenth of bulk_create's CPU per row, which matters because the
    writer thread shares the GIL with the event loop serving calls."""
    now = timezone.now()
    defaults = {f.attname: f.get_default() for f in _FIELDS}
    defaults["created_at"] = now
    json_fields = {f.attname for f in _FIELDS if f.get_internal_type() == "JSONField"}
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(_COPY) as copy,  # type: ignore[attr-defined]
    ):
        for row in rows:
            values = {**defaults, **row}
            copy.write_row(
                [
                    Jsonb(values[f.attname])
                    if f.attname in json_fields and values[f.attname] is not None
                    else values[f.attname]
                    for f in _FIELDS
                ]
            )


def _write(rows: list[dict[str, Any]], *, retry: bool = False) -> None:
    def insert() -> None:
        if retry or any("id" not in row for row in rows):
            _write_safely(rows)
            return
        try:
            _copy_rows(rows)
        except IntegrityError:
            _write_safely(rows)

    _with_connection(insert)


class Recorder:
    """One per event loop (see `recorder()`): hands out ids, queues and writes rows."""

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self._id_waiters: list[asyncio.Future[int]] = []
        self._allocator: asyncio.Task[None] | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._closed = False
        # One thread each, so that an id never waits behind a large insert; each keeps
        # its own database connection for the life of the process.
        self._id_thread = ThreadPoolExecutor(1, thread_name_prefix="inference-ids")
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="inference-writer")
        _live.add(self)

    # -- ids --

    def reserve_id(self) -> asyncio.Future[int]:
        """A future for the next row's id; ids of calls starting together share a query."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[int] = loop.create_future()
        self._id_waiters.append(waiter)
        if self._allocator is None:
            self._allocator = loop.create_task(self._allocate())
        return waiter

    async def _allocate(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._id_waiters:
                waiters, self._id_waiters = self._id_waiters, []
                try:
                    ids = await loop.run_in_executor(self._id_thread, _allocate, len(waiters))
                except DatabaseError as exc:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                for waiter, new_id in zip(waiters, ids, strict=True):
                    if not waiter.done():
                        waiter.set_result(new_id)
        finally:
            self._allocator = None

    # -- rows --

    def submit(self, row: dict[str, Any]) -> None:
        """Queue a finished row (its `id` from `reserve_id`); written within FLUSH_DELAY."""
        if len(self._rows) >= MAX_PENDING:
            dropped = self._rows.pop(0)
            logger.error("history queue full: row %s dropped", dropped.get("id"))
        self._rows.append(row)
        if self._flush_task is None and not self._closed:
            self._flush_task = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        try:
            await asyncio.sleep(FLUSH_DELAY)
        except asyncio.CancelledError:
            pass  # shutting down: write what is queued, then stop
        finally:
            self._flush_task = None
            await self.flush()

    async def flush(self) -> None:
        """Write every queued row, retrying while the database is unreachable."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while self._rows:
            rows, self._rows = self._rows, []
            try:
                write = functools.partial(_write, rows, retry=attempt > 0)
                await loop.run_in_executor(self._write_thread, write)
                attempt = 0
            except DatabaseError:
                self._rows[:0] = rows
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                logger.warning("writing %d history rows failed; retrying", len(rows), exc_info=True)
                attempt += 1
                if self._closed and attempt > len(RETRY_DELAYS):
                    raise
                await asyncio.sleep(delay)

    def pending(self) -> int:
        return len(self._rows)

    async def aclose(self) -> None:
        """Flush and stop (the loop is shutting down); later rows are written at exit."""
        self._closed = True
        task = self._flush_task
        if task is not None and not task.done():
            task.cancel()
        await self.flush()
        self._id_thread.shutdown(wait=False)
        self._write_thread.shutdown(wait=True)
        _live.discard(self)

    def flush_sync(self) -> None:
        """Write what is left from a thread with no running loop (interpreter exit)."""
        rows, self._rows = self._rows, []
        if rows:
            _write(rows, retry=True)


_live: set[Recorder] = set()
_live_lock = threading.Lock()


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
