"""SSRF guard in front of every outbound call, and in the connection pool under it.

`ensure_allowed` checks a base URL before a call (clear errors, literal IP addresses);
it resolves the host (blocking DNS) in a thread and caches its verdict per (scheme,
host, port, env allow-list) for `GUARD_TTL` seconds, so the hot path costs one dict
lookup. A refusal is kept only `REFUSAL_TTL` seconds: a host a superuser has just
allowed in the admin (another process) is not refused for long.

A checked name can answer differently when it is resolved again to connect (DNS
rebinding). `GuardedResolver` is therefore the resolver of the shared aiohttp
connection pool: aiohttp connects only to the addresses it returns, and it returns them
only after checking them, so the address connected to is always an address that was
checked. Host header and TLS SNI still come from the URL. aiohttp keeps the answer for
its DNS cache TTL (10 s) and connections are reused, so this costs one lookup per new
connection to a host at most, none per request.
"""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from apps.core import allowlist
from apps.core.urlguard import (
    Reach,
    UnsafeURLError,
    check_addresses,
    check_provider_url,
    classify,
    parse_ip,
)

from .errors import ProviderRefused

GUARD_TTL = 60.0
REFUSAL_TTL = 5.0
REFUSED = "Seedbed refused to call this provider: "

# key -> (expires_at monotonic, refusal message or None when allowed)
_verdicts: dict[tuple[str, ...], tuple[float, str | None]] = {}


def _cache_key(url: str) -> tuple[str, ...]:
    parts = urlsplit(url)
    allow = tuple(sorted(str(entry) for entry in settings.PROVIDER_HOST_ALLOWLIST))
    return (parts.scheme.lower(), parts.netloc.lower(), *allow)


def _verdict(url: str) -> str | None:
    try:
        check_provider_url(url)
    except UnsafeURLError as exc:
        return str(exc)
    finally:
        # A worker thread never sees request signals: do not keep a connection it opened.
        connection.close()
    return None


async def ensure_allowed(url: str) -> float:
    """Raise ProviderRefused unless `url` may be called; returns when the verdict expires."""
    key = _cache_key(url)
    now = time.monotonic()
    cached = _verdicts.get(key)
    if cached is not None and cached[0] > now:
        expires, refusal = cached
    else:
        refusal = await asyncio.to_thread(_verdict, url)
        expires = now + (GUARD_TTL if refusal is None else REFUSAL_TTL)
        _verdicts[key] = (expires, refusal)
    if refusal is not None:
        raise ProviderRefused(REFUSED + refusal)
    # The cached verdict's own expiry: a client must not stretch it by another TTL.
    return expires


def clear_guard_cache() -> None:
    _verdicts.clear()


def _db_allows(host: str, port: int) -> bool:
    try:
        return allowlist.allows(host, port)
    finally:
        connection.close()  # see _verdict


class GuardedResolver(AbstractResolver):
    """aiohttp's default resolver, answering only addresses the SSRF guard accepts."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._resolver.resolve(host, port, family)
        addresses = [parse_ip(answer["host"]) for answer in answers]
        private = any(classify(address) is Reach.PRIVATE for address in addresses)
        allowed = (
            not private
            or allowlist.env_allows(host, port)
            or await sync_to_async(_db_allows, thread_sensitive=False)(host, port)
        )
        try:
            check_addresses(host, port, addresses, lambda: allowed)
        except UnsafeURLError as exc:
            # Not an OSError: aiohttp would wrap that as a DNS failure and the client
            # would retry it; a refusal is final and says why.
            raise ProviderRefused(REFUSED + str(exc)) from None
        return answers

    async def close(self) -> None:
        await self._resolver.close()
