"""Celery's Redis transport (kombu's), without a new Redis client on every publish.

Every service emits events after commit (daira/lib/events.py), so a publish sits on the
hot path of posts, likes, follows and gifts. Outside the worker's poll loop, kombu's
`Channel.conn_or_acquire` builds a new `redis.Redis` for each command; building one copies
redis-py's ~170 response callbacks into a case-insensitive dict, about a fifth of a
publish's CPU in the wallet bench's profile. The clients share the channel's connection
pool anyway, so this channel keeps one sync client per pool (redis-py clients are
thread-safe: each command checks a connection out of the pool).

Selected by `CELERY_BROKER_TRANSPORT` (daira/settings.py) when the broker URL is
redis:// (rediss:// keeps kombu's own, which reads TLS from the URL's scheme). Messages,
keys and the worker side are kombu's, unchanged.
"""

from __future__ import annotations

from contextlib import contextmanager

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _sync_client = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        kept = self._sync_client
        if kept is None or kept.connection_pool is not self.pool:  # a closed channel gets a new pool
            kept = self._sync_client = self._create_client()
        yield kept


class Transport(kombu_redis.Transport):
    Channel = Channel
