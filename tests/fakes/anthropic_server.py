"""Fake Anthropic Messages API: POST /v1/messages (plain and SSE), GET /v1/models.

It validates what the real API requires (`anthropic-version`, `max_tokens`, no "system"
role inside `messages`, the thinking budget's bounds, tool results answering the tool_use
blocks just before them) so client bugs show up as 400s here rather than in production.
Tool calls and thinking are scripted as base.py's docstring says.
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
        refusal = _thinking_refusal(data) or _tools_refusal(data)
        if refusal is not None:
            return _error(400, "invalid_request_error", refusal)
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
        reply = self.reply_for(data, behaviour, None)
        content, output_tokens, truncated = self.limit_tokens(reply.text, data)
        blocks: list[dict[str, Any]] = []
        if _thinking_on(data):
            thinking = reply.thinking or self.made_up_thinking(data)
            blocks.append({"type": "thinking", "thinking": thinking, "signature": SIGNATURE})
            output_tokens += max(1, len(thinking) // 4)  # thinking is billed as output
        if content or not reply.tool_calls:
            blocks.append({"type": "text", "text": content})
        for call_id, name, arguments in self.wire_tool_calls(reply, "toolu_fake_"):
            if isinstance(arguments, str):
                arguments = json.loads(arguments)  # the API only ever sends an object
            blocks.append({"type": "tool_use", "id": call_id, "name": name, "input": arguments})
            output_tokens += 8
        stop_reason = "tool_use" if reply.tool_calls else "max_tokens" if truncated else "end_turn"
        input_tokens = self.count_tokens(data)
        entry["status"] = 200
        entry["usage_total"] = input_tokens + output_tokens
        if data.get("stream"):
            usage = (input_tokens, output_tokens)
            return await self._stream(request, data, blocks, usage, stop_reason, behaviour)
        body = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": data["model"],
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
        return web.json_response(body)

    async def _stream(
        self,
        request: web.BaseRequest,
        data: dict[str, Any],
        blocks: list[dict[str, Any]],
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
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                if not await self._stream_text(response, index, block["text"], behaviour):
                    return response
                continue
            await response.write(_event("content_block_start", _block_start(index, block)))
            if index == 0:
                await response.write(_event("ping", {"type": "ping"}))
            for delta in _block_deltas(block):
                await response.write(
                    _event(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
                )
            await response.write(
                _event("content_block_stop", {"type": "content_block_stop", "index": index})
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

    async def _stream_text(
        self, response: web.StreamResponse, index: int, text: str, behaviour: Behaviour
    ) -> bool:
        """One text block as deltas; False when the behaviour cut the stream short."""
        start = {"type": "text", "text": ""}
        await response.write(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        if index == 0:  # where the real API sends its first ping
            await response.write(_event("ping", {"type": "ping"}))
        for number, piece in enumerate(self.split_text(text)):
            if behaviour.stall_after_chunks is not None and number >= behaviour.stall_after_chunks:
                await self.stall()
                return False
            if behaviour.malformed:
                await response.write(b"event: content_block_delta\ndata: {not json\n\n")
                return False
            if behaviour.chunk_delay:
                await asyncio.sleep(behaviour.chunk_delay)
            delta = {"type": "text_delta", "text": piece}
            await response.write(
                _event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        await response.write(
            _event("content_block_stop", {"type": "content_block_stop", "index": index})
        )
        return True


SIGNATURE = "fake-signature"


def _block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] == "thinking":
        start: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
    return {"type": "content_block_start", "index": index, "content_block": start}


def _block_deltas(block: dict[str, Any]) -> list[dict[str, Any]]:
    if block["type"] == "thinking":
        pieces = FakeServer.split_text(block["thinking"])
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in pieces]
        return [*deltas, {"type": "signature_delta", "signature": block["signature"]}]
    return [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]


def _thinking_on(data: dict[str, Any]) -> bool:
    thinking = data.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") == "enabled"


def _thinking_refusal(data: dict[str, Any]) -> str | None:
    if not _thinking_on(data):
        return None
    budget = data["thinking"].get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if data["max_tokens"] <= budget:
        return "`max_tokens` must be greater than `thinking.budget_tokens`."
    for name in ("temperature", "top_p", "top_k"):
        if name in data:
            return f"`{name}` may not be set when thinking is enabled."
    return None


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _tools_refusal(data: dict[str, Any]) -> str | None:
    for tool in data.get("tools") or []:
        if not isinstance(tool, dict) or not tool.get("name") or "input_schema" not in tool:
            return "tools: each tool needs a name and an input_schema."
    messages = data.get("messages") or []
    for number, message in enumerate(messages):
        blocks = _blocks(message)
        uses = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
        results = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
        previous = _blocks(messages[number - 1]) if number else []
        asked = {b.get("id") for b in previous if b.get("type") == "tool_use"}
        if results and (message.get("role") != "user" or not results <= asked):
            return (
                f"messages.{number}: unexpected `tool_use_id` found in `tool_result` blocks. "
                "Each `tool_result` block must have a corresponding `tool_use` block in the "
                "previous message."
            )
        if uses:
            following = _blocks(messages[number + 1]) if number + 1 < len(messages) else []
            answered = {b.get("tool_use_id") for b in following if b.get("type") == "tool_result"}
            if number + 1 < len(messages) and not uses <= answered:
                return (
                    f"messages.{number}: `tool_use` ids were found without `tool_result` "
                    "blocks immediately after."
                )
            first = blocks[0].get("type")
            if (
                _thinking_on(data)
                and number == _last_assistant(messages)
                and first not in ("thinking", "redacted_thinking")
            ):
                return (
                    f"messages.{number}.content.0.type: Expected `thinking` or "
                    f"`redacted_thinking`, but found `{first}`. When `thinking` is enabled, "
                    "a final `assistant` message must start with a thinking block."
                )
    return None


def _last_assistant(messages: list[dict[str, Any]]) -> int:
    return max((n for n, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)


if __name__ == "__main__":
    _main(server_class=FakeAnthropic)
