"""The fan-out's answer, streamed: `[` at once, each row as the workers commit it, `]` when
the run ends. One coroutine per request polls the database (each poll a short hop to a
thread that returns its connection at once), so a long fan-out holds no worker thread; a
client that goes away only stops the polling, never the run."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

from apps.inference.registry import fresh_db
from apps.runs.models import Run

from . import selectors
from .rows import canonical, shaped_like

POLL_FIRST = 0.1  # seconds between polls right after rows came...
POLL_MAX = 1.0  # ...growing to this while none come
ROWS_PER_POLL = 500
# Whitespace between array items is valid JSON and keeps idle proxies from closing a
# connection that waits for a slow model.
KEEPALIVE_SECONDS = 15.0

_fetch = sync_to_async(fresh_db(selectors.fan_out_rows), thread_sensitive=False)
_finished = sync_to_async(fresh_db(selectors.run_finished), thread_sensitive=False)


def _row(by_text: dict[str, dict[str, Any]], payload: Any, original: Any) -> dict[str, Any]:
    # The example exactly as the client sent it (key order included), found by content.
    example = by_text.get(canonical(original), original) if original is not None else {}
    return {"original": example, "generated": shaped_like(example, payload)}


async def fan_out_rows_stream(
    *, project_id: int, run_id: int, examples: list[dict[str, Any]]
) -> AsyncIterator[bytes]:
    by_text = {canonical(example): example for example in reversed(examples)}
    yield b"["
    separator, last_id, delay, quiet_since = b"\n", 0, POLL_FIRST, time.monotonic()
    while True:
        # Finished before the read: a read that then finds nothing has seen every row.
        done = await _finished(project_id=project_id, run_id=run_id)
        rows = await _fetch(
            project_id=project_id, run_id=run_id, after_id=last_id, limit=ROWS_PER_POLL
        )
        if rows:
            parts = []
            for sample_id, payload, original in rows:
                row = json.dumps(_row(by_text, payload, original), ensure_ascii=False)
                parts.append(separator + row.encode())
                separator, last_id = b",\n", sample_id
            yield b"".join(parts)
            delay, quiet_since = POLL_FIRST, time.monotonic()
            if len(rows) == ROWS_PER_POLL:
                continue
        elif done:
            break
        if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            yield b"\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(delay)
        delay = min(POLL_MAX, delay * 2)
    yield b"\n]\n"


def fan_out_response(run: Run, examples: list[dict[str, Any]]) -> StreamingHttpResponse:
    stream = fan_out_rows_stream(project_id=run.project_id, run_id=run.pk, examples=examples)
    response = StreamingHttpResponse(stream, content_type="application/json")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not hold the rows back
    # Where the rows are kept, whatever happens to this connection.
    response["X-Seedbed-Run"] = str(run.pk)
    response["X-Seedbed-Dataset"] = run.dataset.name
    response["X-Seedbed-Dataset-Version"] = str(run.dataset_version)
    return response
