"""The one cache of a provider's model list (`GET /models`), for run creation and aliases
(apps.core.services) and the gateway (apps.inference.registry) alike.

The rule:

* A list the provider gave is **fresh for FRESH_SECONDS** (60 s): nobody asks again
  meanwhile. It is also kept as the provider's **last good list for LAST_GOOD_SECONDS**
  (7 days).
* A **failure is never cached as the answer** (unreachable, timeout, refused by the SSRF
  guard, an HTTP error, a server without `/models`). The caller gets the last good list,
  with a log line saying so ("llama.cpp answers nothing while it generates, but its last
  list still tells a typo from a model"), or None when there never was one: callers then
  take any model name on trust and let the provider answer for it.
* After a failure the provider is **not asked again for RETRY_SECONDS** (15 s), and the
  same fallback is served: a dead provider costs one short wait (LISTING_TIMEOUT, 2 s)
  every 15 s, not one per request.

Everything is in Redis, shared by every process, under the provider's key and a version
(the caller passes the row's `updated_at`), so an edited provider starts afresh. Redis
being down only costs the caching: the provider is then asked every time. Concurrent
misses in one event loop share one request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

from django.conf import settings
from redis.asyncio import Redis
from redis.exceptions import RedisError

from .client import LLMClient
from .config import ProviderConfig
from .errors import LLMError
from .transport import loop_state, run_sync

logger = logging.getLogger(__name__)

FRESH_SECONDS = 60
LAST_GOOD_SECONDS = 7 * 24 * 3600
RETRY_SECONDS = 15
LISTING_TIMEOUT = 2.0  # seconds for the whole listing, connection included
KEY_PREFIX = "seedbed:models"


def _redis() -> Redis:
    url = settings.REDIS_URL
    # Same resource name as the LLM limiter's, so one pool per loop serves both.
    return loop_state().resource(
        f"redis:{url}",
        lambda: Redis.from_url(
            url, decode_responses=True, socket_timeout=5.0, socket_connect_timeout=5.0
        ),
    )


def _decode(raw: str | bytes | None) -> list[str] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return [str(item) for item in value] if isinstance(value, list) else None


async def _ask(config: ProviderConfig) -> list[str]:
    quick = dataclasses.replace(
        config, max_attempts=1, timeout_seconds=LISTING_TIMEOUT, connect_timeout=LISTING_TIMEOUT
    )
    return await asyncio.wait_for(LLMClient(quick).list_models(max_attempts=1), LISTING_TIMEOUT)


async def model_ids(
    config: ProviderConfig, *, version: str = "", fresh_seconds: float | None = None
) -> list[str] | None:
    """The provider's model ids under the rule above, or None when it cannot say and
    never could. `fresh_seconds` only overrides FRESH_SECONDS (tests: 0 asks every time)."""
    base = f"{KEY_PREFIX}:{config.key}:{version}"
    inflight: dict[str, asyncio.Future[list[str] | None]] = loop_state().resource(
        "model-lists:inflight", dict
    )
    pending = inflight.get(base)
    if pending is None:
        pending = inflight[base] = asyncio.ensure_future(
            _lookup(config, base, FRESH_SECONDS if fresh_seconds is None else fresh_seconds)
        )
        pending.add_done_callback(lambda _: inflight.pop(base, None))
    return await asyncio.shield(pending)


async def _lookup(config: ProviderConfig, base: str, fresh_seconds: float) -> list[str] | None:
    fresh_key, last_key, resting_key = f"{base}:fresh", f"{base}:last", f"{base}:resting"
    redis = _redis()
    try:
        fresh, last, resting = await redis.mget(fresh_key, last_key, resting_key)
    except (RedisError, OSError):
        logger.warning("model list cache unavailable (Redis); asking %s", config.label)
        fresh = last = resting = None
    if fresh is not None:
        return _decode(fresh)
    if resting is not None:  # it failed moments ago: the same fallback, quietly
        return _decode(last)
    try:
        ids = await _ask(config)
    except (LLMError, TimeoutError) as exc:
        await _store(redis, [(resting_key, "1", RETRY_SECONDS)])
        served = _decode(last)
        reason = str(exc) or f"no answer within {LISTING_TIMEOUT:g} s"
        if served is not None:
            logger.warning(
                "could not list the models of %s (%s); serving its last good list",
                config.label,
                reason,
            )
        else:
            logger.info(
                "could not list the models of %s (%s); any model name is taken on trust",
                config.label,
                reason,
            )
        return served
    encoded = json.dumps(ids)
    await _store(
        redis, [(fresh_key, encoded, fresh_seconds), (last_key, encoded, LAST_GOOD_SECONDS)]
    )
    return ids


async def _store(redis: Redis, items: list[tuple[str, str, float]]) -> None:
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for key, value, seconds in items:
                if seconds > 0:
                    pipe.set(key, value, px=int(seconds * 1000))
            await pipe.execute()
    except (RedisError, OSError):
        logger.warning("could not cache a model list (Redis)", exc_info=True)


def model_ids_sync(
    config: ProviderConfig, *, version: str = "", fresh_seconds: float | None = None
) -> list[str] | None:
    """`model_ids` for sync code (views, services)."""
    return run_sync(model_ids, config, version=version, fresh_seconds=fresh_seconds)
