"""Scriptable fake LLM provider: an aiohttp server on loopback in a background thread.

A test scripts how the next requests behave (latency, failures, Retry-After, stalls,
malformed bodies), reads the request log (time, path, headers, JSON) and the highest
number of requests in flight at once. The same servers run as separate processes
(`python -m tests.fakes.openai_server`) for benchmarks and Celery workers; there the
`/_fake/*` endpoints expose the same controls over HTTP.

What the model answers, in either wire format (each fake writes it in its own):

* the next requests, in order: `fake.enqueue(Behaviour(content=..., thinking=...,
  tool_calls=[...]))`;
* every request, by looking at it: `fake.responder = fn`, where `fn(request_json)`
  returns the text, or a `Reply(text, thinking=..., tool_calls=[...])`. The request is
  the JSON the client sent, so a responder can answer by its system prompt, its `tools`
  or its last message (a tool result), e.g. a two-turn tool conversation:

      def respond(data):
          if data.get("tools") and not tool_results(data):
              return Reply(tool_calls=[{"name": "calculator", "arguments": {"expr": "2+2"}}])
          return Reply("The answer is 4.", thinking="2+2 is 4.")

A tool call is `{"name": ..., "arguments": <dict, or the raw JSON text>}` (an `id` is
made up when missing): the OpenAI fake answers `message.tool_calls` with finish_reason
"tool_calls", the Anthropic fake `tool_use` blocks with stop_reason "tool_use".
Thinking comes back as `message.reasoning_content` (OpenAI fake: whenever scripted, or a
made-up one when the request sets `reasoning_effort`) or as a signed `thinking` block
(Anthropic fake: only when the request enables `thinking`, as the real API does, with a
made-up text when none is scripted). Streams carry both too. `fake.requests[n]["json"]`
is the body the client sent. The fakes refuse (400) what the real APIs refuse: for
Anthropic a thinking budget under 1024 or not below max_tokens, temperature/top_p with
thinking, tool results that do not answer the tool_use blocks of the assistant message
just before them (all in ONE user message), a tool_use turn without its thinking block
when thinking is on; for OpenAI a `role: tool` message that answers no tool call.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from .schema_gen import generate

Responder = Callable[[dict[str, Any]], "str | Reply"]
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
Routes = dict[tuple[str, str], Handler]
MAX_BODY = 32 * 1024 * 1024  # bytes a request body may have

_SCHEMA_IN_PROMPT = re.compile(r"JSON Schema:\s*(\{.*\})\s*$", re.S)


@dataclass
class Behaviour:
    """How one request is answered."""

    latency: float = 0.0  # seconds before the answer (before the first byte of a stream)
    status: int | None = None  # answer with this HTTP error status instead
    retry_after: float | str | None = None  # Retry-After header for an error answer
    stall: bool = False  # accept the request, never answer (until reset/stop/disconnect)
    stall_after_chunks: int | None = None  # streaming: stall after this many deltas
    malformed: bool = False  # 200 with a body that is not JSON (or broken SSE)
    content: str | None = None  # answer text instead of the responder's
    error_message: str | None = None  # message inside an error answer
    chunk_delay: float = 0.0  # streaming: seconds between deltas
    headers: dict[str, str] = field(default_factory=dict)  # added to a normal answer
    thinking: str | None = None  # reasoning to answer with (see the module docstring)
    tool_calls: list[dict[str, Any]] | None = None  # tool calls to answer with


@dataclass
class Reply:
    """A scripted model answer: what a responder may return instead of plain text."""

    text: str = ""
    thinking: str = ""
    # [{"name": "lookup", "arguments": {"q": "x"} or '{"q": "x"}', "id": optional}]
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def tool_results(data: dict[str, Any]) -> list[Any]:
    """The tool results in a request, in either wire format (for responders)."""
    found: list[Any] = []
    for message in data.get("messages") or []:
        if message.get("role") == "tool":
            found.append(message.get("content"))
        elif isinstance(message.get("content"), list):
            found += [
                block.get("content")
                for block in message["content"]
                if isinstance(block, dict) and block.get("type") == "tool_result"
            ]
    return found


@dataclass
class Script:
    """Defaults for requests that have no queued behaviour."""

    latency: float = 0.0
    error_rate: float = 0.0
    fail_status: int = 500
    fail_times: int = 0
    retry_after: float | str | None = None
    stall: bool = False
    malformed: bool = False
    chunk_delay: float = 0.0
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class FakeServer:
    """Base class: subclasses add the provider's routes in `add_routes`."""

    url_suffix = ""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, log_requests: bool = True
    ) -> None:
        self.host = host
        self.port = port
        self.log_requests = log_requests
        self.responder: Responder | None = None
        self.require_key: str | None = None  # when set, other keys get HTTP 401
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.served = 0
        self._lock = threading.Lock()
        self._script = Script()
        self._queue: deque[Behaviour] = deque()
        self._rng = random.Random(0)
        self._generation = 0  # bumped by reset()/stop() to end stalled requests
        self._tool_ids = 0  # made-up tool call ids are unique per server
        # Request body -> serialised answer; keeps the benchmark server lean.
        self.answer_cache: dict[bytes, bytes] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.ServerRunner | None = None
        self._routes: Routes = {}
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # ---- scripting --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.url_suffix}"

    def script(self, **settings: Any) -> FakeServer:
        """Set defaults for the following requests, e.g. `script(fail_times=2)`."""
        with self._lock:
            for name, value in settings.items():
                if not hasattr(self._script, name):
                    raise TypeError(f"unknown script setting {name!r}")
                setattr(self._script, name, value)
            if "seed" in settings:
                self._rng = random.Random(settings["seed"])
        return self

    def enqueue(self, *behaviours: Behaviour | dict[str, Any]) -> FakeServer:
        """Behaviours for the next requests, in order, before the script's defaults."""
        with self._lock:
            for item in behaviours:
                self._queue.append(item if isinstance(item, Behaviour) else Behaviour(**item))
        return self

    def reset(self) -> None:
        with self._lock:
            self._script = Script()
            self._queue.clear()
            self._rng = random.Random(0)
            self._generation += 1
            self.responder = None
            self.require_key = None
            self.requests = []
            self.answer_cache = {}
            self.max_in_flight = self.in_flight
            self.served = 0

    def plain_latency(self) -> float | None:
        """The script's latency when every request gets a normal, deterministic answer and
        nothing is logged, so answers may be served from `answer_cache`; else None."""
        s = self._script
        if (
            self.log_requests
            or self._queue
            or self.responder is not None
            or self.require_key is not None
            or s.error_rate
            or s.fail_times
            or s.stall
            or s.malformed
        ):
            return None
        return s.latency

    def next_behaviour(self) -> Behaviour:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            s = self._script
            behaviour = Behaviour(
                latency=s.latency, stall=s.stall, malformed=s.malformed, chunk_delay=s.chunk_delay
            )
            failing = s.fail_times > 0
            if failing:
                s.fail_times -= 1
            elif s.error_rate and self._rng.random() < s.error_rate:
                failing = True
            if failing:
                behaviour.status = s.fail_status
                behaviour.retry_after = s.retry_after
            return behaviour

    # ---- answering --------------------------------------------------------------------

    def reply_for(
        self, data: dict[str, Any], behaviour: Behaviour, schema: dict[str, Any] | None
    ) -> Reply:
        """The answer to a request: the behaviour's content, else the responder's, else
        the default text; thinking and tool calls from the behaviour or the responder."""
        if behaviour.content is not None:
            reply = Reply(behaviour.content)
        elif self.responder is not None:
            answer = self.responder(data)
            reply = answer if isinstance(answer, Reply) else Reply(answer)
        else:
            reply = Reply(self.answer_text(data, schema))
        if behaviour.thinking is not None:
            reply.thinking = behaviour.thinking
        if behaviour.tool_calls is not None:
            reply.tool_calls = behaviour.tool_calls
        return reply

    def wire_tool_calls(self, reply: Reply, prefix: str) -> list[tuple[str, str, Any]]:
        """(id, name, arguments as given) for each scripted tool call."""
        calls = []
        for call in reply.tool_calls:
            with self._lock:
                self._tool_ids += 1
                number = self._tool_ids
            calls.append(
                (
                    str(call.get("id") or f"{prefix}{number}"),
                    call["name"],
                    call.get("arguments", {}),
                )
            )
        return calls

    @staticmethod
    def made_up_thinking(data: dict[str, Any]) -> str:
        return f"Fake thinking about {len(data.get('messages') or [])} messages."

    def answer_text(self, data: dict[str, Any], schema: dict[str, Any] | None) -> str:
        """The responder's text, else JSON for `schema`, else an echo; deterministic."""
        if self.responder is not None:
            answer = self.responder(data)
            return answer.text if isinstance(answer, Reply) else answer
        digest = hashlib.sha256(
            json.dumps(data.get("messages"), sort_keys=True).encode()
            + str((self._script.seed, data.get("seed"))).encode()
        ).digest()
        rng = random.Random(digest)
        if schema is None:
            schema = self.schema_from_prompt(data)
        if schema is not None:
            return json.dumps(generate(schema, rng))
        last = next(
            (
                m.get("content")
                for m in reversed(data.get("messages") or [])
                if m.get("role") == "user"
            ),
            "",
        )
        words = " ".join(str(last).split()[:12])[:60]
        return f"Fake answer {digest.hex()[:8]} to: {words}"

    @staticmethod
    def limit_tokens(content: str, data: dict[str, Any]) -> tuple[str, int, bool]:
        """Cut `content` at the request's max_tokens (4 characters a token), as a real
        server stops generating: returns (content, completion tokens, truncated)."""
        tokens = max(1, len(content) // 4)
        limit = data.get("max_tokens")
        if isinstance(limit, int) and 0 < limit < tokens:
            return content[: limit * 4], limit, True
        return content, tokens, False

    @staticmethod
    def schema_from_prompt(data: dict[str, Any]) -> dict[str, Any] | None:
        """The schema a client described in its system prompt (no constrained decoding)."""
        texts = [data.get("system")] + [
            m.get("content") for m in data.get("messages") or [] if m.get("role") == "system"
        ]
        for text in texts:
            if isinstance(text, str) and (match := _SCHEMA_IN_PROMPT.search(text)):
                with contextlib.suppress(ValueError):
                    schema = json.loads(match.group(1))
                    return schema if isinstance(schema, dict) else None
        return None

    @staticmethod
    def count_tokens(data: dict[str, Any]) -> int:
        chars = len(str(data.get("system") or ""))
        for message in data.get("messages") or []:
            chars += len(str(message.get("content") or ""))
        return max(1, chars // 4)

    @staticmethod
    def split_text(text: str, size: int = 8) -> list[str]:
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]

    async def stall(self, seconds: float = 120.0) -> None:
        generation = self._generation
        deadline = time.monotonic() + seconds
        while self._generation == generation and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def begin(self, request: web.BaseRequest) -> tuple[dict[str, Any], dict[str, Any]]:
        """Read the JSON body and log the request; returns (json, log entry)."""
        body = await request.read()
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            data = {"_invalid_json": body[:200].decode("utf-8", "replace")}
        entry: dict[str, Any] = {"t": time.monotonic(), "wall": time.time()}
        if self.log_requests:
            entry.update(
                method=request.method,
                path=request.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                json=data,
                status=None,
            )
            self.requests.append(entry)
        return data, entry

    def error_response(
        self, behaviour: Behaviour, entry: dict[str, Any], body: dict[str, Any]
    ) -> web.Response:
        status = behaviour.status or 500
        headers = {}
        if behaviour.retry_after is not None:
            headers["Retry-After"] = str(behaviour.retry_after)
        entry["status"] = status
        return web.json_response(body, status=status, headers=headers)

    def malformed_response(self, entry: dict[str, Any]) -> web.Response:
        entry["status"] = 200
        return web.Response(body=b'{"id": "broken", "choices": [', content_type="application/json")

    # ---- server lifecycle -------------------------------------------------------------

    def routes(self) -> Routes:
        """The provider's endpoints: {(method, path): handler}."""
        raise NotImplementedError

    def _all_routes(self) -> Routes:
        provider = {key: self._tracked(handler) for key, handler in self.routes().items()}
        return provider | {
            ("GET", "/_fake/requests"): self._admin_requests,
            ("GET", "/_fake/stats"): self._admin_stats,
            ("POST", "/_fake/reset"): self._admin_reset,
            ("POST", "/_fake/script"): self._admin_script,
        }

    def _tracked(self, handler: Handler) -> Handler:
        async def wrapper(request: web.BaseRequest) -> web.StreamResponse:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return await handler(request)
            finally:
                self.in_flight -= 1
                self.served += 1

        return wrapper

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        # aiohttp's low-level server with a dict lookup: an Application's router and
        # middleware chain cost a benchmark's fake more CPU per request than the client.
        handler = self._routes.get((request.method, request.path))
        if handler is not None:
            return await handler(request)
        if any(path == request.path for _, path in self._routes):
            return web.json_response({"error": {"message": "Method not allowed."}}, status=405)
        return web.json_response({"error": {"message": "Not found."}}, status=404)

    def _make_request(
        self,
        message: Any,
        payload: Any,
        protocol: Any,
        writer: Any,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        return web.BaseRequest(
            message, payload, protocol, writer, task, task.get_loop(), client_max_size=MAX_BODY
        )

    async def _admin_requests(self, request: web.BaseRequest) -> web.Response:
        return web.json_response(self.requests)

    async def _admin_stats(self, request: web.BaseRequest) -> web.Response:
        return web.json_response(
            {
                "served": self.served,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
            }
        )

    async def _admin_reset(self, request: web.BaseRequest) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _admin_script(self, request: web.BaseRequest) -> web.Response:
        data = await request.json()
        queue = data.pop("queue", [])
        self.script(**data)
        self.enqueue(*queue)
        return web.json_response({"ok": True, "script": asdict(self._script)})

    async def start_async(self) -> None:
        self._routes = self._all_routes()
        server = web.Server(
            self._dispatch,
            request_factory=self._make_request,
            handler_cancellation=True,
            access_log=None,
        )
        self._runner = web.ServerRunner(server, shutdown_timeout=0.5)
        await self._runner.setup()
        # Bind the socket ourselves so that port 0 gives us the real port directly.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, backlog=1024).start()

    async def stop_async(self) -> None:
        self._generation += 1
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> FakeServer:
        """Serve from a background thread with its own event loop."""
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise RuntimeError("fake server failed to start") from self._startup_error
        return self

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.start_async())
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.stop_async())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._generation += 1
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None
            self._loop = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def usage_tokens(self) -> int:
        """Total tokens this fake reported in its answers (logged requests only)."""
        return sum(entry.get("usage_total", 0) for entry in self.requests)
