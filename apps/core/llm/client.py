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
from .dialects import error_text, make_dialect
from .errors import (
    LLMError,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderHTTPError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnreachable,
)
from .guard import ensure_allowed
from .limits import ProviderLimiter, TokenReservation, estimate_tokens
from .retry import RetryPolicy, give_up, is_retryable_status, parse_retry_after
from .sse import iter_sse
from .transport import HTTPReply, http_client, run_sync, shared_http

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
            data = self._json(response)
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
                        _mapped_errors(self),
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
                            raise self._status_error(response)
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
            return self._dialect.parse_models(self._json(response))

        return await policy.run(attempt, label=self.config.key)

    # ---- internals --------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        return self._http_override or http_client()

    async def _check_guard(self) -> None:
        if time.monotonic() >= self._guard_until:
            self._guard_until = await ensure_allowed(self.config.base_url)

    def _estimate(self, messages: Messages, max_tokens: int | None) -> int:
        if self.limiter.tokens_per_minute is None:
            return 0
        return estimate_tokens(messages, max_tokens, self.config.default_max_tokens)

    async def _send(
        self, method: str, url: str, headers: dict[str, str], payload: bytes | None
    ) -> HTTPReply:
        response: HTTPReply
        async with _mapped_errors(self):
            if self._http_override is None:
                response = await shared_http().transport.request_eager(
                    method, self._yarl_urls[url], headers, payload, self._aiohttp_timeout
                )
            else:
                response = await self._http_override.request(
                    method, url, content=payload, headers=headers, timeout=self._timeout
                )
        if not response.is_success:
            raise self._status_error(response)
        return response

    def _json(self, response: HTTPReply) -> dict[str, Any]:
        try:
            data = json.loads(response.content)
        except ValueError:
            raise ProviderBadResponse(
                f"The provider answered HTTP {response.status_code} with a body that is not "
                "valid JSON.",
                status_code=response.status_code,
            ) from None
        if not isinstance(data, dict):
            raise ProviderBadResponse(
                "The provider's answer is JSON but not an object.",
                status_code=response.status_code,
            )
        return data

    def scrub(self, text: str) -> str:
        """`text` with the API key removed, for messages and logs."""
        key = self.config.api_key
        if key and key in text:
            text = text.replace(key, "[redacted]")
        return text

    def _status_error(self, response: HTTPReply) -> LLMError:
        status = response.status_code
        try:
            detail = error_text(json.loads(response.content))
        except ValueError:
            detail = response.text.strip()
        detail = self.scrub(" ".join(detail.split())[:300])
        suffix = f": {detail}" if detail else "."
        retry_after = parse_retry_after(response.headers)
        if status in (401, 403):
            return ProviderAuthError(
                f"The provider rejected the API key (HTTP {status}){suffix}", status_code=status
            )
        if status == 429:
            return ProviderRateLimited(
                f"The provider is rate limiting requests (HTTP 429){suffix}",
                status_code=status,
                retry_after=retry_after,
            )
        if 300 <= status < 400:
            return ProviderHTTPError(
                f"The provider answered with a redirect (HTTP {status}); check the base URL.",
                status_code=status,
            )
        if status == 404:
            message = f"Not found at the provider (HTTP 404); check the base URL and model{suffix}"
        elif status >= 500:
            message = f"The provider had an internal error (HTTP {status}){suffix}"
        else:
            message = f"The provider refused the request (HTTP {status}){suffix}"
        return ProviderHTTPError(
            message,
            status_code=status,
            retryable=is_retryable_status(status),
            retry_after=retry_after,
        )


class _mapped_errors:
    """Turns transport exceptions into typed, key-free LLM errors."""

    def __init__(self, client: LLMClient) -> None:
        self._client = client

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or isinstance(exc, LLMError):
            return False
        error = _transport_error(exc, self._client.config)
        if error is None:
            return False
        raise error from exc


def _transport_error(exc: BaseException, config: ProviderConfig) -> LLMError | None:
    cause = exc.__cause__ or exc
    where = f"the provider at {_host(config.base_url)}"
    if isinstance(cause, aiohttp.ServerDisconnectedError | httpx.RemoteProtocolError):
        return ProviderUnreachable(f"The connection to {where} closed before an answer came.")
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError) and isinstance(
        cause, aiohttp.ClientConnectorError | OSError | httpx.ConnectError
    ):
        return ProviderUnreachable(f"Could not connect to {where}.")
    if isinstance(exc, httpx.TimeoutException | asyncio.TimeoutError | TimeoutError):
        if isinstance(exc, httpx.ConnectTimeout):
            return ProviderUnreachable(
                f"Timed out after {config.connect_timeout:g} s connecting to {where}."
            )
        return ProviderTimeout(
            f"No answer from {where} within {config.timeout_seconds:g} s (read timeout)."
        )
    if isinstance(exc, httpx.TransportError | aiohttp.ClientError | OSError):
        return ProviderUnreachable(f"The connection to {where} failed ({type(cause).__name__}).")
    return None


def _host(url: str) -> str:
    return httpx.URL(url).netloc.decode("ascii", "replace")


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def list_models_sync(config: ProviderConfig, *, max_attempts: int = 1) -> list[str]:
    """For sync Django views ("Test connection"): raises the same typed errors."""

    async def fetch() -> list[str]:
        return await LLMClient(config).list_models(max_attempts=max_attempts)

    return run_sync(fetch)
