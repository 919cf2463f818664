"""Fake Anthropic Messages API: POST /v1/messages (plain and SSE), GET /v1/models.

It validates what the real API requires (`anthropic-version`, `max_tokens`, no "system"
role inside `messages`) so client bugs show up as 400s here rather than in production.
Run standalone: `python -m tests.fakes.anthropic_server --port 0`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from .base import Behaviour, FakeServer, Routes
from .openai_server import main as _main

MODELS = ["claude-fake-1", "claude-fake-2"]


def _event(name: str, obj: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode()


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response(
        {"type": "error", "error": {"type": kind, "message": message}}, status=status
    )


class FakeAnthropic(FakeServer):
    def routes(self) -> Routes:
        return {("GET", "/v1/models"): self.models, ("POST", "/v1/messages"): self.messages}

    def _invalid(
        self, request: web.BaseRequest, data: dict[str, Any] | None
    ) -> web.Response | None:
        if self.require_key is not None and request.headers.get("x-api-key") != self.require_key:
            return _error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version header is required")
        if data is None:
            return None
        if not isinstance(data.get("max_tokens"), int):
            return _error(400, "invalid_request_error", "max_tokens: Field required")
        if not data.get("model"):
            return _error(400, "invalid_request_error", "model: Field required")
        for message in data.get("messages") or []:
            if message.get("role") not in ("user", "assistant"):
                return _error(
                    400, "invalid_request_error", "messages: roles must be user or assistant"
                )
        return None

    async def _misbehave(self, behaviour: Behaviour, entry: dict[str, Any]) -> web.Response | None:
        if behaviour.latency:
            await asyncio.sleep(behaviour.latency)
        if behaviour.stall:
            await self.stall()
            entry["status"] = 599
            return web.Response(status=503)
        if behaviour.status is not None:
            kind = "rate_limit_error" if behaviour.status == 429 else "api_error"
            message = behaviour.error_message or "Scripted failure."
            body = {"type": "error", "error": {"type": kind, "message": message}}
            return self.error_response(behaviour, entry, body)
        if behaviour.malformed:
            return self.malformed_response(entry)
        return None

    async def models(self, request: web.BaseRequest) -> web.Response:
        _, entry = await self.begin(request)
        if (invalid := self._invalid(request, None)) is not None:
            entry["status"] = invalid.status
            return invalid
        if (early := await self._misbehave(self.next_behaviour(), entry)) is not None:
            return early
        entry["status"] = 200
        items = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
            for m in MODELS
        ]
        return web.json_response(
            {"data": items, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]}
        )

    async def messages(self, request: web.BaseRequest) -> web.StreamResponse:
        data, entry = await self.begin(request)
        if (invalid := self._invalid(request, data)) is not None:
            entry["status"] = invalid.status
            return invalid
        behaviour = self.next_behaviour()
        if (early := await self._misbehave(behaviour, entry)) is not None:
            return early
        content = behaviour.content
        if content is None:
            content = self.answer_text(data, None)
        content, output_tokens, truncated = self.limit_tokens(content, data)
        stop_reason = "max_tokens" if truncated else "end_turn"
        input_tokens = self.count_tokens(data)
        entry["status"] = 200
        entry["usage_total"] = input_tokens + output_tokens
        if data.get("stream"):
            usage = (input_tokens, output_tokens)
            return await self._stream(request, data, content, usage, stop_reason, behaviour)
        body = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": data["model"],
            "content": [{"type": "text", "text": content}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
        return web.json_response(body)

    async def _stream(
        self,
        request: web.BaseRequest,
        data: dict[str, Any],
        content: str,
        usage: tuple[int, int],
        stop_reason: str,
        behaviour: Behaviour,
    ) -> web.StreamResponse:
        input_tokens, output_tokens = usage
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        message = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": data["model"],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }
        await response.write(_event("message_start", {"type": "message_start", "message": message}))
        await response.write(
            _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
        )
        await response.write(_event("ping", {"type": "ping"}))
        for number, piece in enumerate(self.split_text(content)):
            if behaviour.stall_after_chunks is not None and number >= behaviour.stall_after_chunks:
                await self.stall()
                return response
            if behaviour.malformed:
                await response.write(b"event: content_block_delta\ndata: {not json\n\n")
                return response
            if behaviour.chunk_delay:
                await asyncio.sleep(behaviour.chunk_delay)
            delta = {"type": "text_delta", "text": piece}
            await response.write(
                _event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": delta},
                )
            )
        await response.write(
            _event("content_block_stop", {"type": "content_block_stop", "index": 0})
        )
        await response.write(
            _event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": output_tokens},
                },
            )
        )
        await response.write(_event("message_stop", {"type": "message_stop"}))
        await response.write_eof()
        return response


if __name__ == "__main__":
    _main(server_class=FakeAnthropic)
