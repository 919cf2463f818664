"""The LLM client: one chat call = guard, limits, HTTP with retries, typed errors, usage."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import aiohttp
import httpx
import yarl

from .config import ChatChunk, ChatResult, ProviderConfig, Usage
from .dialects import make_dialect
from .errors import LLMError, ProviderBadResponse
from .failures import decode_json, mapped_errors, scrub, status_error, transport_error
from .guard import ensure_allowed
from .limits import ProviderLimiter, TokenReservation, estimate_tokens
from .retry import RetryPolicy, give_up
from .sse import iter_sse
from .transport import EagerAiohttpTransport, HTTPReply, http_client, run_sync, shared_http

logger = logging.getLogger(__name__)

Messages = list[dict[str, Any]]
Parsed = tuple[str, str, str | None, Usage]


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
    ) -> ChatResult:
        started = time.perf_counter()
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
        payload = _dumps(body)
        estimate = self._estimate(messages, max_tokens)
        reservation: TokenReservation | None = None
        limiter = self.limiter
        url = self._dialect.chat_url
        headers = self._dialect.headers

        async def attempt(number: int) -> tuple[dict[str, Any], Parsed, int]:
            nonlocal reservation
            slot = await limiter.acquire_slot()
            try:
                if estimate and reservation is None:
                    reservation = await limiter.reserve_tokens(estimate)
                await limiter.wait_request()
                response = await self._send("POST", url, headers, payload)
            finally:
                limiter.release_slot(slot)
            # Parsed inside the attempt so that a malformed answer is retried (once).
            data = decode_json(response)
            return data, self._dialect.parse_chat(data), number

        try:
            data, (content, resp_model, finish, usage), attempts = await self._policy.run(
                attempt, label=self.config.key
            )
        except BaseException:
            if reservation is not None:
                await limiter.settle_tokens(reservation, 0)
            raise
        if reservation is not None:
            await limiter.settle_tokens(reservation, usage.total_tokens)
        return ChatResult(
            content=content,
            model=resp_model or body.get("model", ""),
            finish_reason=finish,
            usage=usage,
            attempts=attempts,
            latency_ms=(time.perf_counter() - started) * 1000,
            raw=data,
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
    ) -> AsyncIterator[ChatChunk]:
        """Deltas as they arrive; the last chunk carries finish_reason and usage.

        A failure before the first delta is retried like `chat`; once text has been
        yielded a failure is raised (typed), since what was streamed cannot be taken back.
        """
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
        payload = _dumps(body)
        estimate = self._estimate(messages, max_tokens)
        reservation: TokenReservation | None = None
        limiter = self.limiter
        http = self._http()
        attempt = bad_responses = 0
        settled = False
        try:
            while True:
                attempt += 1
                yielded = False
                slot = await limiter.acquire_slot()
                try:
                    if estimate and reservation is None:
                        reservation = await limiter.reserve_tokens(estimate)
                    await limiter.wait_request()
                    async with (
                        mapped_errors(self.config),
                        http.stream(
                            "POST",
                            self._dialect.chat_url,
                            content=payload,
                            headers=self._dialect.stream_headers,
                            timeout=self._timeout,
                        ) as response,
                    ):
                        if not response.is_success:
                            await response.aread()
                            raise status_error(response, self.config)
                        events = iter_sse(response.aiter_lines())
                        async for chunk in self._dialect.iter_stream(events):
                            if chunk.usage is not None and reservation is not None:
                                await limiter.settle_tokens(reservation, chunk.usage.total_tokens)
                                settled = True
                            yielded = True
                            yield chunk
                    return
                except LLMError as exc:
                    if isinstance(exc, ProviderBadResponse):
                        bad_responses += 1
                    delay = (
                        None
                        if yielded
                        else self._policy.delay_before_retry(exc, attempt, bad_responses)
                    )
                    if delay is None:
                        give_up(exc, attempt)
                        raise
                    logger.info("retrying stream from %s in %.2fs: %s", self.config.key, delay, exc)
                finally:
                    limiter.release_slot(slot)
                await asyncio.sleep(delay)
        finally:
            if reservation is not None and not settled and attempt and not yielded:
                await limiter.settle_tokens(reservation, 0)

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

    def _estimate(self, messages: Messages, max_tokens: int | None) -> int:
        if self.limiter.tokens_per_minute is None:
            return 0
        return estimate_tokens(messages, max_tokens, self.config.default_max_tokens)

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
