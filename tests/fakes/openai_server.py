"""Fake OpenAI-compatible server: /v1/models and /v1/chat/completions (plain and SSE).

Understands both structured-output dialects: OpenAI/vLLM `{"type": "json_schema",
"json_schema": {"schema": ...}}` and llama.cpp's `{"type": "json_object", "schema": ...}`.

Run standalone: `python -m tests.fakes.openai_server --port 0 --latency-ms 20`; it prints
`READY <port>` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import time
from typing import Any

from aiohttp import web

from .base import Behaviour, FakeServer, Reply, Routes

MODELS = ["fake-gpt", "fake-gpt-mini"]


def response_schema(data: dict[str, Any]) -> dict[str, Any] | None:
    fmt = data.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else None
    if fmt.get("type") == "json_object" and isinstance(fmt.get("schema"), dict):
        return fmt["schema"]  # type: ignore[no-any-return]
    return None


class FakeOpenAI(FakeServer):
    url_suffix = "/v1"

    def routes(self) -> Routes:
        return {("GET", "/v1/models"): self.models, ("POST", "/v1/chat/completions"): self.chat}

    def _auth_error(self, request: web.BaseRequest) -> web.Response | None:
        if self.require_key is None:
            return None
        if request.headers.get("Authorization") == f"Bearer {self.require_key}":
            return None
        return web.json_response(
            {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error"}},
            status=401,
        )

    async def models(self, request: web.BaseRequest) -> web.Response:
        _, entry = await self.begin(request)
        if (denied := self._auth_error(request)) is not None:
            entry["status"] = 401
            return denied
        behaviour = self.next_behaviour()
        if (early := await self._misbehave(behaviour, entry)) is not None:
            return early
        entry["status"] = 200
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": m, "object": "model", "owned_by": "fake"} for m in MODELS],
            }
        )

    async def _misbehave(self, behaviour: Behaviour, entry: dict[str, Any]) -> web.Response | None:
        if behaviour.latency:
            await asyncio.sleep(behaviour.latency)
        if behaviour.stall:
            await self.stall()
            entry["status"] = 599
            return web.Response(status=503)
        if behaviour.status is not None:
            message = behaviour.error_message or f"Scripted failure (HTTP {behaviour.status})."
            return self.error_response(
                behaviour, entry, {"error": {"message": message, "type": "fake_error"}}
            )
        if behaviour.malformed:
            return self.malformed_response(entry)
        return None

    async def chat(self, request: web.BaseRequest) -> web.StreamResponse:
        latency = self.plain_latency()
        if latency is not None:
            cached = self.answer_cache.get(await request.read())
            if cached is not None:
                if latency:
                    await asyncio.sleep(latency)
                return web.Response(body=cached, content_type="application/json")
        data, entry = await self.begin(request)
        if (denied := self._auth_error(request)) is not None:
            entry["status"] = 401
            return denied
        if (refusal := _refusal(data)) is not None:
            entry["status"] = 400
            return web.json_response(
                {"error": {"message": refusal, "type": "invalid_request_error"}}, status=400
            )
        behaviour = self.next_behaviour()
        if (early := await self._misbehave(behaviour, entry)) is not None:
            return early
        reply = self.reply_for(data, behaviour, response_schema(data))
        content, completion_tokens, truncated = self.limit_tokens(reply.text, data)
        thinking = reply.thinking or (
            self.made_up_thinking(data) if data.get("reasoning_effort") else ""
        )
        tool_calls = [
            {
                "id": call_id,
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                },
            }
            for call_id, name, arguments in self.wire_tool_calls(reply, "call_fake_")
        ]
        finish = "tool_calls" if tool_calls else "length" if truncated else "stop"
        reasoning_tokens = max(1, len(thinking) // 4) if thinking else 0
        completion_tokens += reasoning_tokens + 8 * len(tool_calls)
        prompt_tokens = self.count_tokens(data)
        entry["status"] = 200
        entry["usage_total"] = prompt_tokens + completion_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
        model = data.get("model") or MODELS[0]
        answer = Reply(content, thinking, tool_calls)
        if data.get("stream"):
            return await self._stream(request, data, answer, usage, model, finish, behaviour)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if thinking:
            message["reasoning_content"] = thinking
        if tool_calls:
            message["tool_calls"] = tool_calls
            message["content"] = content or None
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": usage,
        }
        payload = json.dumps(body).encode()
        if latency is not None and len(self.answer_cache) < 1024:
            self.answer_cache[await request.read()] = payload
        return web.Response(
            body=payload, content_type="application/json", headers=behaviour.headers
        )

    async def _stream(
        self,
        request: web.BaseRequest,
        data: dict[str, Any],
        answer: Reply,
        usage: dict[str, Any],
        model: str,
        finish: str,
        behaviour: Behaviour,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                **behaviour.headers,
            }
        )
        await response.prepare(request)
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            obj = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            return f"data: {json.dumps(obj)}\n\n".encode()

        await response.write(chunk({"role": "assistant", "content": ""}, None))
        if answer.thinking:
            for piece in self.split_text(answer.thinking):
                await response.write(chunk({"reasoning_content": piece}, None))
        for number, piece in enumerate(self.split_text(answer.text)):
            if behaviour.stall_after_chunks is not None and number >= behaviour.stall_after_chunks:
                await self.stall()
                return response
            if behaviour.malformed:
                await response.write(b"data: {not json\n\n")
                return response
            if behaviour.chunk_delay:
                await asyncio.sleep(behaviour.chunk_delay)
            await response.write(chunk({"content": piece}, None))
        for index, call in enumerate(answer.tool_calls):
            await response.write(chunk({"tool_calls": [{"index": index, **call}]}, None))
        await response.write(chunk({}, finish))
        if (data.get("stream_options") or {}).get("include_usage"):
            obj = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            await response.write(f"data: {json.dumps(obj)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _refusal(data: dict[str, Any]) -> str | None:
    """What the real API answers with a 400 for tools: a malformed tool, or a tool result
    that answers no tool call of the assistant message before it."""
    for tool in data.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            tool.get("type") != "function"
            or not isinstance(function, dict)
            or not function.get("name")
        ):
            return "tools: each tool must be {'type': 'function', 'function': {'name': ...}}."
    open_calls: set[str] = set()
    for message in data.get("messages") or []:
        role = message.get("role")
        if role == "tool":
            if message.get("tool_call_id") not in open_calls:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'."
                )
            continue
        open_calls = (
            {call.get("id") for call in message.get("tool_calls") or []}
            if role == "assistant"
            else set()
        )
    return None


def main(argv: list[str] | None = None, server_class: type[FakeServer] = FakeOpenAI) -> None:
    parser = argparse.ArgumentParser(description=f"Run {server_class.__name__} standalone.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--no-log", action="store_true", help="skip the request log (faster)")
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument(
        "--responder", help="module:attribute of a responder callable, e.g. for generation runs"
    )
    parser.add_argument(
        "--responder-factory",
        help="module:attribute called once with --responder-kwargs to make the responder, "
        "e.g. tests.runs.pipeline_model:PipelineModel",
    )
    parser.add_argument(
        "--responder-kwargs", default="{}", help="JSON object of keyword arguments for the factory"
    )
    args = parser.parse_args(argv)

    server = server_class(host=args.host, port=args.port, log_requests=not args.no_log)
    server.script(latency=args.latency_ms / 1000, error_rate=args.error_rate)
    if args.responder:
        module, _, attribute = args.responder.partition(":")
        server.responder = getattr(importlib.import_module(module), attribute)
    if args.responder_factory:
        module, _, attribute = args.responder_factory.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
        server.responder = factory(**json.loads(args.responder_kwargs))

    async def serve() -> None:
        await server.start_async()
        print(f"READY {server.port}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop_async()

    runner: Any = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve())


if __name__ == "__main__":
    main()
