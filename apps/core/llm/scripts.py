"""Atomic Redis (Lua) scripts behind the cross-process limits.

Time comes from Redis (`TIME`), not from the callers, so processes on hosts with skewed
clocks still share one timeline. Scores are milliseconds. Keys of one provider share a
`{hash tag}` so the multi-key scripts also work on Redis Cluster.
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: starts zset. ARGV: limit, window_ms, member.
# Returns 0 when the start was recorded, else milliseconds until a start is possible.
RPM_ACQUIRE = (
    _NOW
    + """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return 0
end
-- The start that must leave the window before one more fits.
local entry = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return math.max(1, tonumber(entry[2]) + window - now + 1)
"""
)

# Drops reservations older than the window from the zset, the hash and the running sum.
_TPM_PURGE = """
local window = tonumber(ARGV[2])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
if #expired > 0 then
  local freed = 0
  for i = 1, #expired, 500 do
    local batch = {unpack(expired, i, math.min(i + 499, #expired))}
    local vals = redis.call('HMGET', KEYS[2], unpack(batch))
    for _, v in ipairs(vals) do
      if v then freed = freed + tonumber(v) end
    end
    redis.call('HDEL', KEYS[2], unpack(batch))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  redis.call('DECRBY', KEYS[3], freed)
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  -- Nothing in the window: reset, so a drifted sum cannot block forever.
  redis.call('DEL', KEYS[2], KEYS[3])
end
"""

# KEYS: reservations zset (member -> time), hash (member -> tokens), sum.
# ARGV: limit, window_ms, member, tokens.
# Returns 0 when reserved, else milliseconds until enough tokens leave the window.
TPM_RESERVE = (
    _NOW
    + _TPM_PURGE
    + """
local limit = tonumber(ARGV[1])
-- A request larger than the whole budget waits for an empty window, then goes alone.
local want = math.min(tonumber(ARGV[4]), limit)
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
if used + want <= limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[3], want)
  redis.call('INCRBY', KEYS[3], want)
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], window + 1000) end
  return 0
end
local need = used + want - limit
local freed = 0
local start = 0
while true do
  local page = redis.call('ZRANGE', KEYS[1], start, start + 199, 'WITHSCORES')
  if #page == 0 then return window end
  for i = 1, #page, 2 do
    freed = freed + tonumber(redis.call('HGET', KEYS[2], page[i]) or '0')
    if freed >= need then
      return math.max(1, tonumber(page[i + 1]) + window - now + 1)
    end
  end
  start = start + 200
end
"""
)

# KEYS: as TPM_RESERVE. ARGV: member, actual tokens.
# Replaces a reservation's estimate with the real usage (kept in its original slot in time).
TPM_SETTLE = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then return 0 end
local actual = tonumber(ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], actual)
redis.call('INCRBY', KEYS[3], actual - tonumber(old))
return 1
"""

# KEYS: slots zset (member -> lease expiry), waiters zset (holder -> expiry).
# ARGV: limit, lease_ms, holder, want, first member number.
# Grants up to `want` slots as members "<holder>:<n>"; records the holder as waiting when
# it got fewer than it wanted. Returns {granted members, other holders waiting}.
SLOTS_ACQUIRE = (
    _NOW
    + """
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local holder = ARGV[3]
local want = tonumber(ARGV[4])
local first = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = math.max(0, math.min(want, limit - redis.call('ZCARD', KEYS[1])))
local granted = {}
for i = 1, n do
  local member = holder .. ':' .. (first + i - 1)
  redis.call('ZADD', KEYS[1], now + lease, member)
  granted[i] = member
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if n < want then
  redis.call('ZADD', KEYS[2], now + lease, holder)
else
  redis.call('ZREM', KEYS[2], holder)
end
redis.call('PEXPIRE', KEYS[1], lease * 2)
redis.call('PEXPIRE', KEYS[2], lease * 2)
local others = redis.call('ZCARD', KEYS[2])
if redis.call('ZSCORE', KEYS[2], holder) then others = others - 1 end
return {granted, others}
"""
)

# KEYS: as SLOTS_ACQUIRE. ARGV: lease_ms, holder, still waiting (0/1), members...
# Extends the leases still alive. Returns {members still held, other holders waiting}.
SLOTS_RENEW = (
    _NOW
    + """
local lease = tonumber(ARGV[1])
local holder = ARGV[2]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local alive = {}
for i = 4, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
    alive[#alive + 1] = ARGV[i]
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[2], now + lease, holder)
else
  redis.call('ZREM', KEYS[2], holder)
end
redis.call('PEXPIRE', KEYS[1], lease * 2)
redis.call('PEXPIRE', KEYS[2], lease * 2)
local others = redis.call('ZCARD', KEYS[2])
if redis.call('ZSCORE', KEYS[2], holder) then others = others - 1 end
return {alive, others}
"""
)

# KEYS: slots zset, waiters zset. ARGV: holder, still waiting (0/1), members...
SLOTS_RELEASE = """
for i = 3, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
if ARGV[2] == '0' then redis.call('ZREM', KEYS[2], ARGV[1]) end
return 1
"""


class Script:
    """EVALSHA with a fallback to EVAL (which also loads it) after a Redis restart."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, redis: Redis, keys: list[str], args: list[Any]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *keys, *args)  # type: ignore[misc]


rpm_acquire = Script(RPM_ACQUIRE)
tpm_reserve = Script(TPM_RESERVE)
tpm_settle = Script(TPM_SETTLE)
slots_acquire = Script(SLOTS_ACQUIRE)
slots_renew = Script(SLOTS_RENEW)
slots_release = Script(SLOTS_RELEASE)
