"""Anthropic-compatible `POST /v1/messages`, plain and streamed, over any provider."""

from __future__ import annotations

from typing import Any

from django.http.response import HttpResponseBase

from apps.core.llm import Usage
from apps.inference.models import Protocol

from . import messages as m
from .calls import Call, dumps, gateway_view
from .errors import GatewayError, bad_request
from .streams import open_stream, sse, stream_response

STOP = {"stop": "end_turn", "length": "max_tokens", "content_filter": "end_turn"}


def stop_reason(value: str | None) -> str:
    return STOP.get(value or "end_turn", value or "end_turn")


def _usage(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}


class MessageEvents:
    """message_start, content_block_start, ping, content_block_delta…, content_block_stop,
    message_delta (stop reason and usage), message_stop: the Messages API's sequence."""

    def __init__(self, ident: str, model: str) -> None:
        self.ident = ident
        self.model = model

    def start(self) -> bytes:
        message: dict[str, Any] = {
            "id": self.ident,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self.model,
            "stop_reason": None,
            "stop_sequence": None,
            # OpenAI-style upstreams report usage only at the end: see message_delta.
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        return (
            sse(dumps({"type": "message_start", "message": message}), "message_start")
            + sse(dumps(block), "content_block_start")
            + sse(b'{"type":"ping"}', "ping")
        )

    def delta(self, text: str) -> bytes:
        body = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": text},
        }
        return sse(dumps(body), "content_block_delta")

    def end(self, finish: str | None, usage: Usage) -> bytes:
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(finish), "stop_sequence": None},
            "usage": _usage(usage),
        }
        return (
            sse(b'{"type":"content_block_stop","index":0}', "content_block_stop")
            + sse(dumps(delta), "message_delta")
            + sse(b'{"type":"message_stop"}', "message_stop")
        )

    def error(self, error: GatewayError) -> bytes:
        kind = "overloaded_error" if error.status in (429, 503) else "api_error"
        body = {"type": "error", "error": {"type": kind, "message": error.message}}
        return sse(dumps(body), "error")


def _options(body: dict[str, Any]) -> dict[str, Any]:
    max_tokens = m.integer(body, "max_tokens")
    if max_tokens is None:
        raise bad_request("max_tokens is required (1 to 1,000,000).", "max_tokens")
    if body.get("tools"):
        raise bad_request("tools are not supported by this gateway.", "tools")
    return {
        "max_tokens": max_tokens,
        "temperature": m.number(body, "temperature", 0, 1),
        "top_p": m.number(body, "top_p", 0, 1),
        "stop": m.stops(body.get("stop_sequences"), "stop_sequences"),
    }


@gateway_view(Protocol.ANTHROPIC, "messages")
async def messages(call: Call) -> HttpResponseBase:
    body = await call.begin()
    chat = m.anthropic_messages(body.get("system"), body.get("messages"))
    call.input_text = m.last_user_text(chat)
    options = _options(body)
    stream = m.flag(body, "stream")
    resolved = await call.resolve(m.check_model(body.get("model")))
    options["model"] = resolved.upstream_model
    if stream:
        first, chunks = await open_stream(resolved.client, chat, **options)
        fmt = MessageEvents(await call.public_id("msg_"), call.model_id)
        return await stream_response(call, first, chunks, fmt)
    result = await resolved.client.chat(chat, **options)
    answer = {
        "id": await call.public_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": call.model_id,
        "content": [{"type": "text", "text": result.content}],
        "stop_reason": stop_reason(result.finish_reason),
        "stop_sequence": None,
        "usage": _usage(result.usage),
    }
    return await call.respond(
        answer,
        output_text=result.content,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
    )
