"""Atomic sliding-window rate limits in Redis (e.g. 120 generate requests a minute).

The window is the same Lua script that holds providers' requests-per-minute limits,
called here from synchronous code.
"""

import uuid
from functools import cache
from typing import Any

import redis
from django.conf import settings

from .llm.scripts import RPM_ACQUIRE


@cache
def _script() -> Any:
    return redis.Redis.from_url(settings.REDIS_URL).register_script(RPM_ACQUIRE)


def rate_limit_hit(*, key: str, limit: int, window_seconds: float = 60.0) -> float:
    """Count one request; 0.0 if allowed, else the seconds to wait before retrying."""
    wait_ms = _script()(
        keys=[f"seedbed:ratelimit:{key}"],
        args=[limit, int(window_seconds * 1000), uuid.uuid4().hex],
    )
    return float(wait_ms) / 1000
