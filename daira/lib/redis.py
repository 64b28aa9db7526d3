"""One Redis client per process for our own keys (feeds, rate limits, presence...)."""

from __future__ import annotations

import os
import threading

import redis
from django.conf import settings

_client: redis.Redis | None = None
_client_pid: int | None = None
_lock = threading.Lock()


def get_redis() -> redis.Redis:
    """A process-wide client (its pool is thread-safe); recreated after a fork."""
    global _client, _client_pid
    pid = os.getpid()
    if _client is None or _client_pid != pid:
        with _lock:
            if _client is None or _client_pid != pid:
                _client = redis.Redis.from_url(
                    settings.REDIS_URL,
                    decode_responses=False,
                    socket_connect_timeout=2,
                    socket_timeout=5,
                    health_check_interval=30,
                    max_connections=500,
                )
                _client_pid = pid
    return _client


_scripts: dict[str, redis.commands.core.Script] = {}


def registered_script(source: str) -> redis.commands.core.Script:
    """The Lua script `source` registered on the current client, called as
    `script(keys=[...], args=[...])` (re-registered when the client changes; EVALSHA falls
    back to EVAL when Redis lost its script cache)."""
    client = get_redis()
    script = _scripts.get(source)
    if script is None or script.registered_client is not client:
        script = _scripts[source] = client.register_script(source)
    return script


def reset_client() -> None:
    """Forget the client (tests that change REDIS_URL)."""
    global _client, _client_pid
    with _lock:
        _client = None
        _client_pid = None
