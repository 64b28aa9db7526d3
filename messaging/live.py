"""Ephemeral realtime state in Redis: live sockets, presence, typing, open conversations.

Nothing here is in Postgres: it all expires by itself, so a crashed ASGI process cannot
leave a user "online" or "typing" forever.

Keys (all under the process's Redis db):
- `msg:sockets:<uid>`   zset channel_name -> expiry (ms); a socket counts while its expiry
                        is in the future. The consumer adds on connect, refreshes on each
                        heartbeat, removes on disconnect.
- `msg:presence:<uid>`  "1" with a TTL of MESSAGING_PRESENCE_TTL_S (heartbeat every 30 s).
- `msg:lastseen:<uid>`  epoch ms of the last heartbeat / disconnect (no TTL).
- `msg:typing:throttle:<cid>:<uid>`  SET NX PX MESSAGING_TYPING_THROTTLE_MS.
- `msg:typing:<cid>`    zset uid -> expiry (ms): who is typing now.
- `msg:open:<uid>`      zset conversation id -> expiry (ms): conversations open on a screen.
"""

from __future__ import annotations

import time

from django.conf import settings

from daira.lib.redis import get_redis


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _sockets_key(user_id: int) -> str:
    return f"msg:sockets:{user_id}"


def _presence_key(user_id: int) -> str:
    return f"msg:presence:{user_id}"


def _last_seen_key(user_id: int) -> str:
    return f"msg:lastseen:{user_id}"


def _open_key(user_id: int) -> str:
    return f"msg:open:{user_id}"


def _typing_key(conversation_id: int) -> str:
    return f"msg:typing:{conversation_id}"


# --- sockets -------------------------------------------------------------------------------
def socket_add(user_id: int, channel_name: str) -> int:
    """Count one more live socket of `user_id`; returns the live count after."""
    now = now_ms()
    key = _sockets_key(user_id)
    ttl_ms = settings.MESSAGING_SOCKET_TTL_S * 1000
    pipe = get_redis().pipeline()
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zadd(key, {channel_name: now + ttl_ms})
    pipe.pexpire(key, ttl_ms)
    pipe.zcard(key)
    return int(pipe.execute()[-1])


def socket_remove(user_id: int, channel_name: str) -> int:
    """Forget one socket; returns how many live sockets `user_id` still has."""
    key = _sockets_key(user_id)
    pipe = get_redis().pipeline()
    pipe.zrem(key, channel_name)
    pipe.zcount(key, now_ms(), "+inf")
    return int(pipe.execute()[-1])


def socket_count(user_id: int) -> int:
    """Live sockets of `user_id` in every ASGI process."""
    return int(get_redis().zcount(_sockets_key(user_id), now_ms(), "+inf"))


# --- presence ------------------------------------------------------------------------------
def presence_touch(user_id: int, channel_name: str | None = None) -> bool:
    """Record a heartbeat. Returns True when the user was offline before (came online)."""
    now = now_ms()
    pipe = get_redis().pipeline()
    pipe.set(_presence_key(user_id), b"1", ex=settings.MESSAGING_PRESENCE_TTL_S, get=True)
    pipe.set(_last_seen_key(user_id), now)
    if channel_name:
        ttl_ms = settings.MESSAGING_SOCKET_TTL_S * 1000
        pipe.zadd(_sockets_key(user_id), {channel_name: now + ttl_ms})
        pipe.pexpire(_sockets_key(user_id), ttl_ms)
    previous = pipe.execute()[0]
    return previous is None


def presence_clear(user_id: int) -> None:
    pipe = get_redis().pipeline()
    pipe.delete(_presence_key(user_id))
    pipe.set(_last_seen_key(user_id), now_ms())
    pipe.execute()


def presence_read(user_ids: list[int]) -> dict[int, tuple[bool, int | None]]:
    """{uid: (online, last_seen_ms)} from Redis, for the given users."""
    if not user_ids:
        return {}
    pipe = get_redis().pipeline()
    for uid in user_ids:
        pipe.exists(_presence_key(uid))
        pipe.get(_last_seen_key(uid))
    values = pipe.execute()
    result = {}
    for index, uid in enumerate(user_ids):
        online, last_seen = values[2 * index], values[2 * index + 1]
        result[uid] = (bool(online), int(last_seen) if last_seen is not None else None)
    return result


def presence_ttl_ms(user_id: int) -> int:
    return int(get_redis().pttl(_presence_key(user_id)))


# --- typing --------------------------------------------------------------------------------
def typing_claim(conversation_id: int, user_id: int) -> int | None:
    """Claim the right to announce typing (one per throttle window per sender).

    Returns the expiry (epoch ms) of the typing state when claimed, None when throttled.
    """
    redis = get_redis()
    claimed = redis.set(
        f"msg:typing:throttle:{conversation_id}:{user_id}", b"1", nx=True, px=settings.MESSAGING_TYPING_THROTTLE_MS
    )
    if not claimed:
        return None
    now = now_ms()
    expires = now + settings.MESSAGING_TYPING_TTL_MS
    key = _typing_key(conversation_id)
    pipe = redis.pipeline()
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zadd(key, {str(user_id): expires})
    pipe.pexpire(key, settings.MESSAGING_TYPING_TTL_MS)
    pipe.execute()
    return expires


def typing_stop(conversation_id: int, user_id: int) -> None:
    pipe = get_redis().pipeline()
    pipe.zrem(_typing_key(conversation_id), str(user_id))
    pipe.delete(f"msg:typing:throttle:{conversation_id}:{user_id}")
    pipe.execute()


def typing_users(conversation_id: int) -> list[int]:
    """Who is typing in `conversation_id` right now (expired entries excluded)."""
    members = get_redis().zrangebyscore(_typing_key(conversation_id), now_ms(), "+inf")
    return sorted(int(m) for m in members)


# --- open conversations --------------------------------------------------------------------
def conversation_open(user_id: int, conversation_id: int) -> None:
    ttl_ms = settings.MESSAGING_PRESENCE_TTL_S * 1000
    pipe = get_redis().pipeline()
    pipe.zadd(_open_key(user_id), {str(conversation_id): now_ms() + ttl_ms})
    pipe.pexpire(_open_key(user_id), ttl_ms)
    pipe.execute()


def conversation_close(user_id: int, conversation_id: int | None = None) -> None:
    if conversation_id is None:
        get_redis().delete(_open_key(user_id))
    else:
        get_redis().zrem(_open_key(user_id), str(conversation_id))


def conversation_is_open(user_id: int, conversation_id: int) -> bool:
    score = get_redis().zscore(_open_key(user_id), str(conversation_id))
    return score is not None and score > now_ms()
