"""Atomic sliding-window rate limits in Redis (e.g. 120 generate requests a minute)."""

import time
import uuid
from functools import cache

import redis
from django.conf import settings

# Drop entries older than the window, then admit if under the limit; otherwise say how
# long until the oldest entry leaves the window. One script = one atomic step.
_SCRIPT = """
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, math.ceil(window * 1000))
    return {1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + window - now)}
"""


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@cache
def _script():  # type: ignore[no-untyped-def]
    return _client().register_script(_SCRIPT)


def rate_limit_hit(*, key: str, limit: int, window_seconds: float = 60.0) -> float:
    """Count one request; 0.0 if allowed, else the seconds to wait before retrying."""
    allowed, wait = _script()(
        keys=[f"seedbed:ratelimit:{key}"],
        args=[time.time(), window_seconds, limit, uuid.uuid4().hex],
    )
    return 0.0 if int(allowed) else max(float(wait), 0.001)
