"""`GET …/{job_id}/data` and `…/{job_id}/messages`: streams that stay open until the job
ends, written as async views so that a stream holds no worker thread (Seedbed is served
by uvicorn; see apps/inference/gateway/asgi.py). Each poll is one short database read
on a pool thread; between polls the stream only sleeps.

`/data` writes one JSON value per line for each item as it is accepted (`text/plain`,
what withpi's clients ask for with `Accept: text/plain`); a client that asks for JSON
only gets the same items as one JSON array, still written as they come. `/messages`
writes one line per run event and ends with the job's final state: `DONE`, `ERROR: …`
or `CANCELLED`.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from apps.inference.gateway.auth import authenticate
from apps.inference.gateway.errors import GatewayError

from . import selectors
from .kinds import INPUTS, PAIRS, STATES, JobKind
from .selectors import StreamPoll

POLL_SECONDS = 0.5
PAGE = 500
TEXT = "text/plain; charset=utf-8"


async def _db(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """`fn(**kwargs)` on a pool thread with a connection of its own, closed after (those
    threads see no request signals: a kept connection would never be recycled)."""

    def call() -> Any:
        try:
            return fn(**kwargs)
        finally:
            connection.close()

    return await sync_to_async(call, thread_sensitive=False)()


async def _polled(poll: Callable[..., StreamPoll], **kwargs: Any) -> AsyncIterator[StreamPoll]:
    """Every page of new rows until the job has ended, then its final poll."""
    after = -1
    while True:
        found: StreamPoll = await _db(poll, after=after, limit=PAGE, **kwargs)
        if found.rows:
            after = found.rows[-1][0]
        yield found
        if len(found.rows) == PAGE:
            continue  # more already waiting
        if found.finished:
            return
        await asyncio.sleep(POLL_SECONDS)


async def _ndjson(run_id: int, kind: JobKind) -> AsyncIterator[str]:
    async for found in _polled(selectors.data_poll, run_id=run_id, kind=kind):
        for _, item in found.rows:
            yield json.dumps(item, ensure_ascii=False) + "\n"


async def _json_array(run_id: int, kind: JobKind) -> AsyncIterator[str]:
    separator = "[\n"
    async for line in _ndjson(run_id, kind):
        yield separator + line
        separator = ","
    yield "[]\n" if separator == "[\n" else "]\n"


def final_line(found: StreamPoll, kind: JobKind) -> str:
    state = STATES[found.status]
    if state == "ERROR":
        return f"ERROR: {found.error or 'the job failed.'}\n"
    return f"{state}: {found.accepted} {kind.noun} generated.\n"


async def _messages(run_id: int, kind: JobKind) -> AsyncIterator[str]:
    async for found in _polled(selectors.messages_poll, run_id=run_id):
        for _, line in found.rows:
            yield " ".join(line.splitlines()) + "\n"
        if found.finished and len(found.rows) < PAGE:
            yield final_line(found, kind)


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "json" in accept and "text/plain" not in accept


async def _job(request: HttpRequest, kind: JobKind, job_id: str) -> HttpResponse | int:
    """The run id of the caller's job, or the error to answer."""
    try:
        key = await authenticate(request)
    except GatewayError as exc:
        return JsonResponse({"detail": exc.message}, status=exc.status)
    run = await _db(selectors.job_find, project_id=key.project_id, kind=kind, job_id=job_id)
    if run is None:
        return JsonResponse({"detail": f"No job {job_id!r}."}, status=404)
    return int(run.pk)


def _streaming(lines: AsyncIterator[str], content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy passes lines on as they come
    return response


def _data_view(kind: JobKind) -> Callable[..., Any]:
    async def view(request: HttpRequest, job_id: str) -> HttpResponseBase:
        found = await _job(request, kind, job_id)
        if isinstance(found, HttpResponse):
            return found
        if _wants_json(request):
            return _streaming(_json_array(found, kind), "application/json")
        return _streaming(_ndjson(found, kind), TEXT)

    return view


def _messages_view(kind: JobKind) -> Callable[..., Any]:
    async def view(request: HttpRequest, job_id: str) -> HttpResponseBase:
        found = await _job(request, kind, job_id)
        if isinstance(found, HttpResponse):
            return found
        return _streaming(_messages(found, kind), TEXT)

    return view


inputs_data = _data_view(INPUTS)
inputs_messages = _messages_view(INPUTS)
pairs_data = _data_view(PAIRS)
pairs_messages = _messages_view(PAIRS)
