"""OpenAI-compatible `POST /v1/responses` (minimal): `input` as a string or messages,
`instructions`, one text output; streamed as response.created, response.in_progress,
the output item and content part events, response.output_text.delta…, and
response.completed."""

from __future__ import annotations

import time
from typing import Any

from django.http.response import HttpResponseBase

from apps.core.llm import Usage
from apps.inference.models import Protocol

from . import messages as m
from .calls import Call, dumps, gateway_view
from .errors import GatewayError, bad_request
from .grammar import check_schema
from .streams import open_stream, sse, stream_response


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


class Shape:
    """The response object and its message item, as they grow."""

    def __init__(self, ident: str, model: str, body: dict[str, Any]) -> None:
        self.ident = f"resp_{ident}"
        self.item_id = f"msg_{ident}"
        self.model = model
        self.body = body
        self.created = int(time.time())

    def item(self, text: str | None, status: str) -> dict[str, Any]:
        content = [] if text is None else [{"type": "output_text", "text": text, "annotations": []}]
        return {
            "type": "message",
            "id": self.item_id,
            "status": status,
            "role": "assistant",
            "content": content,
        }

    def response(
        self, status: str, text: str | None = None, usage: Usage | None = None
    ) -> dict[str, Any]:
        body = self.body
        return {
            "id": self.ident,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": self.model,
            "output": [] if text is None else [self.item(text, "completed")],
            "parallel_tool_calls": False,
            "previous_response_id": None,
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": _usage(usage) if usage is not None else None,
            "metadata": body.get("metadata") or {},
        }


class ResponseEvents:
    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.sequence = 0
        self.parts: list[str] = []

    def _event(self, kind: str, **fields: Any) -> bytes:
        body = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return sse(dumps(body), kind)

    def _where(self) -> dict[str, Any]:
        return {"item_id": self.shape.item_id, "output_index": 0, "content_index": 0}

    def start(self) -> bytes:
        shape = self.shape
        part = {"type": "output_text", "text": "", "annotations": []}
        return (
            self._event("response.created", response=shape.response("in_progress"))
            + self._event("response.in_progress", response=shape.response("in_progress"))
            + self._event(
                "response.output_item.added", output_index=0, item=shape.item(None, "in_progress")
            )
            + self._event("response.content_part.added", **self._where(), part=part)
        )

    def delta(self, text: str) -> bytes:
        self.parts.append(text)
        return self._event("response.output_text.delta", **self._where(), delta=text, logprobs=[])

    def end(self, finish: str | None, usage: Usage) -> bytes:
        text = "".join(self.parts)
        shape = self.shape
        part = {"type": "output_text", "text": text, "annotations": []}
        return (
            self._event("response.output_text.done", **self._where(), text=text, logprobs=[])
            + self._event("response.content_part.done", **self._where(), part=part)
            + self._event(
                "response.output_item.done", output_index=0, item=shape.item(text, "completed")
            )
            + self._event("response.completed", response=shape.response("completed", text, usage))
        )

    def error(self, error: GatewayError) -> bytes:
        failed = self.shape.response("failed")
        failed["error"] = {"code": error.code or "server_error", "message": error.message}
        return self._event("response.failed", response=failed)


def _options(body: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "temperature": m.number(body, "temperature", 0, 2),
        "top_p": m.number(body, "top_p", 0, 1),
        "max_tokens": m.integer(body, "max_output_tokens"),
    }
    if body.get("tools"):
        raise bad_request("tools are not supported by this gateway.", "tools")
    # Each call stands alone: the gateway keeps no conversation to continue.
    m.refuse_unsupported(body, ("previous_response_id", "conversation", "background"))
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise bad_request("text.format.schema must be an object.", "text.format.schema")
        options["json_schema"] = fmt["schema"]
    return options


@gateway_view(Protocol.OPENAI, "responses")
async def responses(call: Call) -> HttpResponseBase:
    body = await call.begin()
    chat = m.responses_messages(body.get("input"), body.get("instructions"))
    call.input_text = m.last_user_text(chat)
    options = _options(body)
    stream = m.flag(body, "stream")
    resolved = await call.resolve(m.check_model(body.get("model")))
    check_schema(resolved, options, "text.format.schema")
    options["model"] = resolved.upstream_model
    if stream:
        first, chunks = await open_stream(resolved.client, chat, **options)
        shape = Shape(await call.public_id(""), call.model_id, body)
        return await stream_response(call, first, chunks, ResponseEvents(shape))
    result = await resolved.client.chat(chat, **options)
    shape = Shape(await call.public_id(""), call.model_id, body)
    return await call.respond(
        shape.response("completed", result.content, result.usage),
        output_text=result.content,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
    )
