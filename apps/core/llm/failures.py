"""Turning what went wrong on the wire into typed errors a person can read.

Every message here is scrubbed of the provider's API key: upstream error bodies are
untrusted and some echo the credentials they were sent.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

import aiohttp
import httpx

from .config import ProviderConfig
from .dialects import error_text
from .errors import (
    LLMError,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderHTTPError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnreachable,
)
from .retry import is_retryable_status, parse_retry_after
from .transport import HTTPReply


def scrub(text: str, api_key: str) -> str:
    """`text` with the API key removed."""
    if api_key and api_key in text:
        text = text.replace(api_key, "[redacted]")
    return text


def decode_json(response: HTTPReply) -> dict[str, Any]:
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


def status_error(response: HTTPReply, config: ProviderConfig) -> LLMError:
    """The typed error for a non-2xx answer (retryable for 408, 409, 429 and 5xx)."""
    status = response.status_code
    try:
        detail = error_text(json.loads(response.content))
    except ValueError:
        detail = response.text.strip()
    detail = scrub(" ".join(detail.split())[:300], config.api_key)
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


class mapped_errors:
    """Turns transport exceptions raised inside the block into typed LLM errors."""

    def __init__(self, config: ProviderConfig) -> None:
        self._config = config

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
        error = transport_error(exc, self._config)
        if error is None:
            return False
        raise error from exc


def transport_error(exc: BaseException, config: ProviderConfig) -> LLMError | None:
    # httpx_aiohttp maps aiohttp errors coarsely (a refused connection and a server that
    # hung up both become ConnectTimeout), so the aiohttp cause decides the wording.
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
