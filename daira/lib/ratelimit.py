"""Redis-backed rate limits (sliding log over a window), shared by every app.

`hit(scope, identity, limit, window_s)` records one attempt and raises
`RateLimited(retry_after=...)` when `identity` already made `limit` attempts in the
last `window_s` seconds in `scope`. The log is a sorted set per identity, so the
limit is exact (no fixed-window bursts) and Retry-After is the time until the oldest
attempt in the window expires.
"""

from __future__ import annotations

import time
import uuid

from daira.lib.errors import RateLimited
from daira.lib.redis import get_redis

# Atomic check-and-record: trims the window, refuses when full (returning the wait),
# otherwise records the attempt.
_HIT_SCRIPT = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local member = ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {0, tostring(tonumber(oldest[2]) + window - now)}
end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, math.ceil(window * 1000))
return {1, tostring(limit - count - 1)}
"""


def _key(scope: str, identity: str) -> str:
    return f"ratelimit:{scope}:{identity}"


def hit(scope: str, identity: str, *, limit: int, window_s: float, message: str | None = None) -> int:
    """Record one attempt; return how many remain, or raise RateLimited."""
    client = get_redis()
    allowed, value = client.eval(
        _HIT_SCRIPT, 1, _key(scope, identity), time.time(), window_s, limit, uuid.uuid4().hex
    )
    if int(allowed) == 0:
        retry_after = max(1, int(float(value) + 0.999))
        raise RateLimited(message or "Too many requests. Try again later.", retry_after=retry_after)
    return int(float(value))


def check(scope: str, identity: str, *, limit: int, window_s: float, message: str | None = None) -> None:
    """Raise RateLimited if `identity` is already at the limit, without recording an attempt."""
    client = get_redis()
    key = _key(scope, identity)
    now = time.time()
    client.zremrangebyscore(key, "-inf", now - window_s)
    entries = client.zrange(key, 0, 0, withscores=True)
    if client.zcard(key) >= limit and entries:
        retry_after = max(1, int(entries[0][1] + window_s - now + 0.999))
        raise RateLimited(message or "Too many requests. Try again later.", retry_after=retry_after)


def reset(scope: str, identity: str) -> None:
    get_redis().delete(_key(scope, identity))
