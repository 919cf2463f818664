"""API-key authentication for the async gateway views, cached per key for a few seconds.

Looking a key up costs a thread hop and a database round trip; a gateway call must cost
neither, so verdicts (unknown keys included) are kept in-process for AUTH_TTL seconds,
keyed by the key's SHA-256. A revoked key therefore stops working within AUTH_TTL.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import HttpRequest

from apps.core import selectors as core_selectors
from apps.core import services as core_services
from apps.core.authentication import raw_api_key
from apps.core.llm.transport import loop_state

from .errors import GatewayError

AUTH_TTL = 5.0
CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class KeyInfo:
    id: int
    project_id: int
    user_id: int


_verdicts: dict[str, tuple[float, KeyInfo | None]] = {}


def _lookup(raw_key: str) -> KeyInfo | None:
    try:
        key = core_selectors.api_key_authenticate(raw_key=raw_key)
        if key is None:
            return None
        core_services.api_key_touch(key=key)
        return KeyInfo(id=key.pk, project_id=key.project_id, user_id=key.user_id)
    finally:
        # A worker thread never sees request signals: do not keep its connection.
        connection.close()


async def _verdict(key_hash: str, raw_key: str) -> KeyInfo | None:
    inflight: dict[str, asyncio.Task[KeyInfo | None]] = loop_state().resource(
        "inference:authenticating", dict
    )
    task = inflight.get(key_hash)
    if task is None:
        lookup = sync_to_async(_lookup, thread_sensitive=False)
        task = inflight[key_hash] = asyncio.ensure_future(lookup(raw_key))
        task.add_done_callback(lambda _: inflight.pop(key_hash, None))
    found = await asyncio.shield(task)
    if len(_verdicts) > CACHE_LIMIT:
        _verdicts.clear()
    _verdicts[key_hash] = (time.monotonic() + AUTH_TTL, found)
    return found


def _raw_key(meta: dict[str, Any]) -> str | None:
    # From META directly: building request.headers parses every header name, a
    # measurable cost per gateway call.
    return raw_api_key(meta.get("HTTP_X_API_KEY"), meta.get("HTTP_AUTHORIZATION"))


async def authenticate(request: HttpRequest) -> KeyInfo:
    """The caller's key (X-API-Key or Authorization: Bearer), or GatewayError(401)."""
    checked = getattr(request, "gateway_key", None)
    if checked is not None:
        return checked  # the ASGI handler checked it before reading the body
    raw = _raw_key(request.META)
    if raw is None:
        raise GatewayError(
            401,
            "No API key: send it as X-API-Key or Authorization: Bearer <key>.",
            code="invalid_api_key",
        )
    key_hash = core_services.api_key_hash(raw)
    cached = _verdicts.get(key_hash)
    if cached is not None and cached[0] > time.monotonic():
        found = cached[1]
    else:
        found = await _verdict(key_hash, raw)
    if found is None:
        raise GatewayError(401, "Invalid or revoked API key.", code="invalid_api_key")
    return found


def clear_cache() -> None:
    _verdicts.clear()
