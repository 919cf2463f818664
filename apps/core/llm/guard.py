"""SSRF guard in front of every outbound call, with a short-lived verdict cache.

`check_provider_url` resolves the host (blocking DNS), so it runs in a thread and its
verdict is cached per (scheme, host, port, allow-list) for `GUARD_TTL` seconds: the hot
path then costs one dict lookup. The allow-list is part of the key so that editing it
takes effect at once.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from django.conf import settings

from apps.core.urlguard import UnsafeURLError, check_provider_url

from .errors import ProviderRefused

GUARD_TTL = 60.0

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
    return None


async def ensure_allowed(url: str) -> float:
    """Raise ProviderRefused unless `url` may be called; returns when the verdict expires."""
    key = _cache_key(url)
    now = time.monotonic()
    cached = _verdicts.get(key)
    if cached is not None and cached[0] > now:
        refusal = cached[1]
    else:
        refusal = await asyncio.to_thread(_verdict, url)
        _verdicts[key] = (now + GUARD_TTL, refusal)
    if refusal is not None:
        raise ProviderRefused(f"Seedbed refused to call this provider: {refusal}")
    return now + GUARD_TTL


def clear_guard_cache() -> None:
    _verdicts.clear()
