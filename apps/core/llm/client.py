"""The LLM client: one chat call = guard, limits, HTTP with retries, typed errors, usage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any

import aiohttp
import httpx
import yarl

from .capabilities import check_capabilities
from .config import ChatChunk, ChatResult, ProviderConfig
from .dialects import Parsed, make_dialect
from .errors import LLMError
from .failures import decode_json, mapped_errors, scrub, status_error, transport_error
from .guard import ensure_allowed
from .limits import ProviderLimiter, TokenReservation, estimate_tokens
from .retry import RetryPolicy, give_up
from .slots import SlotPool
from .sse import iter_sse
from .transport import EagerAiohttpTransport, HTTPReply, http_client, run_sync, shared_http

logger = logging.getLogger(__name__)

Messages = list[dict[str, Any]]
Slot = tuple[SlotPool, str]


@dataclass(slots=True)
class _Call:
    """One chat call's encoded request, shared by its attempts."""

    payload: bytes
    estimate: int  # tokens to reserve (0: no tokens-per-minute limit)
    model: str
    stream: bool
    reservation: TokenReservation | None = None


@dataclass(slots=True)
class _OpenStream:
    first: ChatChunk
    chunks: AsyncGenerator[ChatChunk, None]
    stack: contextlib.AsyncExitStack
    attempts: int

    async def close(self) -> None:
        await self.stack.aclose()


class LLMClient:
    def __init__(
        self,
        config: ProviderConfig,
        *,
        http: httpx.AsyncClient | None = None,
        limiter: ProviderLimiter | None = None,
    ) -> None:
        self.config = config
        self.limiter = limiter or ProviderLimiter.for_config(config)
        self._http_override = http
        self._dialect = make_dialect(config)
        # Built once: constructing Timeout objects per request shows up in profiles.
        self._timeout = httpx.Timeout(
            connect=config.connect_timeout,
            read=config.timeout_seconds,
            write=config.timeout_seconds,
            pool=config.timeout_seconds,
        )
        self._aiohttp_timeout = aiohttp.ClientTimeout(
            sock_connect=config.connect_timeout,
            sock_read=config.timeout_seconds,
            connect=config.timeout_seconds,  # waiting for a pooled connection included
        )
        # Parsed once; aiohttp would otherwise parse the URL string on every request.
        self._yarl_urls = {
            url: yarl.URL(url) for url in (self._dialect.chat_url, self._dialect.models_url)
        }
        self._policy = RetryPolicy.for_config(config)
        self._chat_url = self._dialect.chat_url
        self._headers = self._dialect.headers
        self._guard_until = 0.0
        self._loop_transport: tuple[asyncio.AbstractEventLoop, EagerAiohttpTransport] | None = None

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        # The shared per-loop HTTP client and Redis pool outlive any one LLMClient; they
        # close with their loop. A client passed in by the caller is the caller's to close.
        return None

    # ---- public calls -----------------------------------------------------------------

    async def chat(
        self,
        messages: Messages,
        *,
        model: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "output",
        extra: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        thinking_budget: int | None = None,
    ) -> ChatResult:
        """One answer. `tools` are neutral specs (`{"name", "description", "parameters"}`,
        see tool_wire.py) and `thinking_budget` a number of tokens; asking either of a
        provider that cannot do it raises a CapabilityError before any request."""
        started = time.perf_counter()
        features = bool(tools) or thinking_budget is not None
        if features:
            check_capabilities(self.config, thinking=thinking_budget is not None, tools=bool(tools))
        await self._check_guard()
        body = self._dialect.chat_body(
            messages,
            model=model,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            stop=stop,
            json_schema=json_schema,
            schema_name=schema_name,
            extra=extra,
            stream=False,
        )
        if features:
            self._dialect.add_features(
                body, tools=tools, thinking_budget=thinking_budget, extra=extra
            )
        call = self._call(body, messages, max_tokens, thinking_budget, False)
        try:
            answer: tuple[dict[str, Any], Parsed, int] = await self._policy.run(
                partial(self._attempt, call), label=self.config.key
            )
        except BaseException:
            await self._give_back(call)
            raise
        data, parsed, attempts = answer
        content, resp_model, finish, usage, thinking, tool_calls = parsed
        if call.reservation is not None:
            await self.limiter.settle_tokens(call.reservation, usage.total_tokens)
        # Positional: this runs once per call, and keyword arguments cost.
        return ChatResult(
            content,
            resp_model or call.model,
            finish,
            usage,
            attempts,
            (time.perf_counter() - started) * 1000,
            data,
            thinking,
            tool_calls,
        )

    async def stream_chat(
        self,
        messages: Messages,
        *,
        model: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "output",
        extra: dict[str, Any] | None = None,
        thinking_budget: int | None = None,
    ) -> AsyncIterator[ChatChunk]:
        """Deltas as they arrive (reasoning as chunks with `thinking` and an empty delta);
        the last chunk carries finish_reason and usage.

        A failure before the first chunk is retried like `chat` (the same attempt and
        retry loop); once a chunk has been yielded a failure is raised (typed), since what
        was streamed cannot be taken back.
        """
        if thinking_budget is not None:
            check_capabilities(self.config, thinking=True, tools=False)
        await self._check_guard()
        body = self._dialect.chat_body(
            messages,
            model=model,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            stop=stop,
            json_schema=json_schema,
            schema_name=schema_name,
            extra=extra,
            stream=True,
        )
        if thinking_budget is not None:
            self._dialect.add_features(
                body, tools=None, thinking_budget=thinking_budget, extra=extra
            )
        call = self._call(body, messages, max_tokens, thinking_budget, True)
        try:
            opened: _OpenStream = await self._policy.run(
                partial(self._attempt, call), label=self.config.key
            )
        except BaseException:
            await self._give_back(call)
            raise
        reservation = call.reservation
        try:
            async with mapped_errors(self.config):
                chunk: ChatChunk | None = opened.first
                while chunk is not None:
                    if chunk.usage is not None and reservation is not None:
                        await self.limiter.settle_tokens(reservation, chunk.usage.total_tokens)
                    yield chunk
                    chunk = await anext(opened.chunks, None)
        except LLMError as exc:
            give_up(exc, opened.attempts)
            raise
        finally:
            await opened.close()

    async def list_models(self, *, max_attempts: int | None = None) -> list[str]:
        """Model ids the provider offers (no limiter: a rare, cheap metadata call)."""
        await self._check_guard()
        policy = RetryPolicy.for_config(self.config, max_attempts=max_attempts)
        url = self._dialect.models_url
        headers = self._dialect.headers

        async def attempt(number: int) -> list[str]:
            response = await self._send("GET", url, headers, None)
            return self._dialect.parse_models(decode_json(response))

        return await policy.run(attempt, label=self.config.key)

    # ---- internals: one request path for plain and streamed calls --------------------
    # Both calls check capabilities and the guard, build the body, then run `_attempt`
    # (limiter admission, then the HTTP request) under `self._policy.run`, the one retry
    # loop; a failed call gives its token reservation back.

    def _call(
        self,
        body: dict[str, Any],
        messages: Messages,
        max_tokens: int | None,
        thinking_budget: int | None,
        stream: bool,
    ) -> _Call:
        """The encoded request its attempts share, with the tokens it may reserve."""
        estimate = 0
        if self.limiter.tokens_per_minute is not None:
            estimate = estimate_tokens(messages, max_tokens, self.config.default_max_tokens)
            estimate += thinking_budget or 0
        return _Call(_dumps(body), estimate, body.get("model", ""), stream)

    async def _give_back(self, call: _Call) -> None:
        """A failed call's token reservation, returned (it used none)."""
        if call.reservation is not None:
            await self.limiter.settle_tokens(call.reservation, 0)

    async def _attempt(self, call: _Call, number: int) -> Any:
        """One HTTP request of a call, admitted by the limiter (concurrency slot, the
        call's token reservation once, requests per minute). A plain call returns (JSON,
        parsed answer, attempt number), parsed here so that a malformed answer is retried
        (once); a streamed call returns the opened stream."""
        limiter = self.limiter
        slot = await limiter.acquire_slot()
        try:
            if call.estimate and call.reservation is None:
                call.reservation = await limiter.reserve_tokens(call.estimate)
            await limiter.wait_request()
            if not call.stream:
                response = await self._send("POST", self._chat_url, self._headers, call.payload)
        except BaseException:
            limiter.release_slot(slot)
            raise
        if call.stream:
            return await self._open_stream(call, slot, number)
        limiter.release_slot(slot)
        data = decode_json(response)
        return data, self._dialect.parse_chat(data), number

    async def _open_stream(self, call: _Call, slot: Slot, number: int) -> _OpenStream:
        """The stream opened and its first chunk read (a failure up to here is retried).
        The slot is released when the stream is closed, or at once if opening fails."""
        stack = contextlib.AsyncExitStack()
        stack.callback(self.limiter.release_slot, slot)
        try:
            async with mapped_errors(self.config):
                response = await stack.enter_async_context(
                    self._http().stream(
                        "POST",
                        self._chat_url,
                        content=call.payload,
                        headers=self._dialect.stream_headers,
                        timeout=self._timeout,
                    )
                )
                if not response.is_success:
                    await response.aread()
                    raise status_error(response, self.config)
                chunks = self._dialect.iter_stream(iter_sse(response.aiter_lines()))
                stack.push_async_callback(chunks.aclose)
                first = await anext(chunks)
        except BaseException:
            await stack.aclose()
            raise
        return _OpenStream(first, chunks, stack, number)

    # ---- internals --------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        return self._http_override or http_client()

    def _transport(self) -> EagerAiohttpTransport:
        """The running loop's shared transport, remembered while the loop stays the same."""
        loop = asyncio.get_running_loop()
        if self._loop_transport is None or self._loop_transport[0] is not loop:
            self._loop_transport = (loop, shared_http().transport)
        return self._loop_transport[1]

    async def _check_guard(self) -> None:
        if time.monotonic() >= self._guard_until:
            self._guard_until = await ensure_allowed(self.config.base_url)

    def scrub(self, text: str) -> str:
        """`text` with the API key removed, for messages and logs."""
        return scrub(text, self.config.api_key)

    async def _send(
        self, method: str, url: str, headers: dict[str, str], payload: bytes | None
    ) -> HTTPReply:
        response: HTTPReply
        try:
            if self._http_override is None:
                response = await self._transport().request_eager(
                    method, self._yarl_urls[url], headers, payload, self._aiohttp_timeout
                )
            else:
                response = await self._http_override.request(
                    method, url, content=payload, headers=headers, timeout=self._timeout
                )
        except Exception as exc:
            error = transport_error(exc, self.config)  # what `mapped_errors` does, inline
            if error is None:
                raise
            raise error from exc
        if not response.is_success:
            raise status_error(response, self.config)
        return response


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def list_models_sync(config: ProviderConfig, *, max_attempts: int = 1) -> list[str]:
    """For sync Django views ("Test connection"): raises the same typed errors."""

    async def fetch() -> list[str]:
        return await LLMClient(config).list_models(max_attempts=max_attempts)

    return run_sync(fetch)
