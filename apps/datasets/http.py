"""Streaming an export over HTTP without holding it in memory, under WSGI and ASGI."""

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header

from . import export
from .models import Dataset


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Django's ASGI handler would turn a sync iterator into a list (the whole file in
    # memory). Pulling one chunk at a time in the thread that opened the server-side
    # cursor keeps memory flat and the cursor on its own connection.
    step = sync_to_async(lambda: next(chunks, None), thread_sensitive=True)
    while (chunk := await step()) is not None:
        yield chunk


def export_response(
    request: HttpRequest, dataset: Dataset, version: int, fmt: str, *, skip_rejected: bool = False
) -> StreamingHttpResponse:
    chunks = export.stream_chunks(dataset, version, fmt, skip_rejected=skip_rejected)
    raw = getattr(request, "_request", request)  # under a DRF Request, Django's own
    content = _async_chunks(chunks) if isinstance(raw, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, content_type=export.CONTENT_TYPES[fmt])
    name = export.file_name(dataset, version, fmt, skip_rejected=skip_rejected)
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    response["X-Accel-Buffering"] = "no"  # let a proxy pass chunks on as they come
    return response
