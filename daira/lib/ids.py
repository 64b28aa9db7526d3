"""64-bit time-ordered snowflake ids.

Layout (most significant first): 1 zero bit, 41 bits of milliseconds since
DAIRA_EPOCH (about 69 years), 12 bits of worker id, 10 bits of sequence. Ids from
one process increase strictly; ids from different processes are unique because each
process holds a different worker id, and sort by creation time to the millisecond,
which is what cursors, Redis scores and feed merges rely on.

Worker ids: `DAIRA_WORKER_ID` when set (fixed deployments); otherwise each process
leases one from Redis the first time it makes an id, and again after a fork (Celery's
prefork children). A lease is a key `snowflake:worker:<n>` claimed with SET NX and a TTL,
renewed while the process keeps making ids, so two live processes never hold the same
worker id even if the counter that picks the starting candidate is reset or wraps. If
Redis cannot be reached, it falls back to the pid, logged as a warning.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime, timezone

logger = logging.getLogger(__name__)

DAIRA_EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
TIMESTAMP_BITS = 41
WORKER_BITS = 12
SEQUENCE_BITS = 10
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
WORKER_SHIFT = SEQUENCE_BITS
TIMESTAMP_SHIFT = SEQUENCE_BITS + WORKER_BITS
WORKER_LEASE_KEY = "snowflake:worker-counter"


class SnowflakeGenerator:
    """Thread-safe generator; one per process (see `next_id`)."""

    def __init__(self, worker_id: int) -> None:
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker_id must be in 0..{MAX_WORKER}")
        self.worker_id = worker_id
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now_ms = _now_ms()
            if now_ms < self._last_ms:
                # The clock went backwards (NTP step): keep issuing from the last
                # millisecond we used, so ids never go backwards.
                now_ms = self._last_ms
            if now_ms == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:  # 1,024 ids this millisecond: wait for the next
                    while now_ms <= self._last_ms:
                        now_ms = _now_ms()
            else:
                self._sequence = 0
            self._last_ms = now_ms
            return ((now_ms - DAIRA_EPOCH_MS) << TIMESTAMP_SHIFT) | (self.worker_id << WORKER_SHIFT) | self._sequence


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


LEASE_TTL_S = 6 * 60 * 60
LEASE_RENEW_EVERY_S = 10 * 60
_lease_key: str | None = None
_lease_token: str = ""
_lease_renew_at = 0.0


def _lease_worker_id() -> int:
    global _lease_key, _lease_token, _lease_renew_at
    configured = os.environ.get("DAIRA_WORKER_ID", "")
    if configured:
        _lease_key = None
        return int(configured) & MAX_WORKER
    try:
        from daira.lib.redis import get_redis

        client = get_redis()
        token = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
        start = int(client.incr(WORKER_LEASE_KEY))
        for offset in range(MAX_WORKER + 1):
            candidate = (start + offset) & MAX_WORKER
            key = f"snowflake:worker:{candidate}"
            if client.set(key, token, nx=True, ex=LEASE_TTL_S):
                _lease_key, _lease_token = key, token
                _lease_renew_at = time.monotonic() + LEASE_RENEW_EVERY_S
                return candidate
        raise RuntimeError("all 4096 snowflake worker ids are leased")
    except Exception:  # Redis down or Django not configured: still make unique-enough ids
        logger.warning("snowflake.worker_lease_failed", exc_info=True)
        _lease_key = None
        return os.getpid() & MAX_WORKER


def _renew_lease() -> None:
    """Extend this process's lease; if it was lost (expired and taken), lease a new id."""
    global _lease_renew_at, _generator
    _lease_renew_at = time.monotonic() + LEASE_RENEW_EVERY_S
    try:
        from daira.lib.redis import get_redis

        client = get_redis()
        current = client.get(_lease_key)
        if current is None or current.decode() == _lease_token:
            client.set(_lease_key, _lease_token, ex=LEASE_TTL_S)
            return
    except Exception:
        logger.warning("snowflake.worker_lease_renew_failed", exc_info=True)
        return
    # Someone else holds our id now: switch to a fresh one for every later id.
    _generator = SnowflakeGenerator(_lease_worker_id())


_generator: SnowflakeGenerator | None = None
_generator_pid: int | None = None
_generator_lock = threading.Lock()


def next_id() -> int:
    """A new snowflake id. Safe across threads, processes and forks."""
    global _generator, _generator_pid
    pid = os.getpid()
    if _generator is None or _generator_pid != pid:
        with _generator_lock:
            if _generator is None or _generator_pid != pid:
                _generator = SnowflakeGenerator(_lease_worker_id())
                _generator_pid = pid
    elif _lease_key is not None and time.monotonic() >= _lease_renew_at:
        with _generator_lock:
            if time.monotonic() >= _lease_renew_at:
                _renew_lease()
    return _generator.next_id()


def id_timestamp(snowflake: int) -> datetime:
    """When `snowflake` was made (UTC, millisecond precision)."""
    ms = (snowflake >> TIMESTAMP_SHIFT) + DAIRA_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def id_worker(snowflake: int) -> int:
    return (snowflake >> WORKER_SHIFT) & MAX_WORKER


def min_id_at(moment: datetime) -> int:
    """The smallest id that could have been made at `moment`: for id-range time filters."""
    ms = int(moment.timestamp() * 1000) - DAIRA_EPOCH_MS
    return max(0, ms) << TIMESTAMP_SHIFT
