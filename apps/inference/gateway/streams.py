"""Streaming: relay the provider's deltas in the caller's SSE dialect, one coroutine per
stream and no thread. The upstream stream is opened (and its first chunk awaited) before
the response starts, so a failure up to then is a proper HTTP error; after that a
failure becomes the protocol's error event. The assembled text goes into the history.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Protocol

from django.http import StreamingHttpResponse

from apps.core.llm import ChatChunk, LLMClient, LLMError, Usage

from .calls import CLIENT_GONE, Call
from .errors import GatewayError, from_llm


class Formatter(Protocol):
    """One protocol's SSE events; each method returns the bytes to send."""

    def start(self) -> bytes: ...
    def delta(self, text: str) -> bytes: ...
    def end(self, finish: str | None, usage: Usage) -> bytes: ...
    def error(self, error: GatewayError) -> bytes: ...


def sse(data: bytes, event: str | None = None) -> bytes:
    return (b"event: " + event.encode() + b"\ndata: " if event else b"data: ") + data + b"\n\n"


async def open_stream(
    client: LLMClient, messages: list[dict[str, str]], **options: Any
) -> tuple[ChatChunk, AsyncIterator[ChatChunk]]:
    """The upstream stream and its first chunk (LLMError if it fails before that)."""
    chunks = client.stream_chat(messages, **options)
    try:
        first = await anext(chunks)  # type: ignore[call-overload]
    except BaseException:
        await chunks.aclose()  # type: ignore[attr-defined]
        raise
    return first, chunks


async def _relay(
    call: Call,
    first: ChatChunk,
    chunks: AsyncIterator[ChatChunk],
    fmt: Formatter,
    parts: list[str],
) -> AsyncIterator[bytes]:
    finish: str | None = None
    usage = Usage()
    try:
        yield fmt.start()
        chunk: ChatChunk | None = first
        while chunk is not None:
            if chunk.delta:
                parts.append(chunk.delta)
                yield fmt.delta(chunk.delta)
            finish = chunk.finish_reason or finish
            usage = chunk.usage or usage
            chunk = await anext(chunks, None)  # type: ignore[call-overload]
        yield fmt.end(finish, usage)
        call.finish(
            output_text="".join(parts),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
        )
    except LLMError as exc:
        error = from_llm(exc)
        call.finish(
            status="error",
            http_status=error.status,
            error=error.message,
            output_text="".join(parts),
        )
        yield fmt.error(error)
    except (asyncio.CancelledError, GeneratorExit):
        call.finish(status="error", http_status=499, error=CLIENT_GONE, output_text="".join(parts))
        raise
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
        call.finish(status="error", http_status=500, error="The stream ended unexpectedly.")


async def stream_response(
    call: Call, first: ChatChunk, chunks: AsyncIterator[ChatChunk], fmt: Formatter
) -> StreamingHttpResponse:
    call.streamed = True
    parts: list[str] = []  # the text so far, for the history whatever happens
    response = StreamingHttpResponse(
        _relay(call, first, chunks, fmt, parts), content_type="text/event-stream; charset=utf-8"
    )

    async def abandon() -> None:
        # Called by the gateway handler once the response is over: records the call if
        # the relay could not (it never started, or was dropped unfinished when the
        # client left); a no-op after a relay that finished.
        call.finish(status="error", http_status=499, error=CLIENT_GONE, output_text="".join(parts))
        await chunks.aclose()  # type: ignore[attr-defined]

    response.gateway_abandon = abandon  # type: ignore[attr-defined]
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies must not hold the events back
    await call.stamp(response)
    return response
