"""Live events to connected clients (Channels groups over channels-redis).

Services call `broadcast_on_commit(user_group(uid), "message.created", {...})`; the
`/ws/events/` consumer forwards whatever reaches the user's group to each of that
user's sockets, in whichever ASGI process they are connected. Events are small
(`{"event": name, "payload": {...ids...}}`); clients refetch anything heavy.

Sending from sync code (services, request threads, Celery tasks) does not go through
`async_to_sync(layer.group_send)`: from a thread without an event loop that starts a
thread and an event loop per call, and channels-redis then opens a Redis connection for
that loop (about a tenth of a gift request's CPU in the wallet bench's profile). With the
pub/sub layer we PUBLISH the layer's own frame (its serializer, its group channel name,
its shard) on a persistent sync connection instead; any other layer is used through
`async_to_sync` as before.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


class _PubSubPublisher:
    """PUBLISHes group messages exactly as channels_redis.pubsub.RedisPubSubLoopLayer.group_send
    does (channel `<prefix>__group__<group>`, the layer's serializer, the same shard), on
    sync Redis clients kept per process. Built from the layer's own configuration."""

    def __init__(self, layer) -> None:
        kwargs = dict(layer._kwargs)
        hosts = kwargs.get("hosts", layer._args[0] if layer._args else None)
        self.prefix = kwargs.get("prefix", "asgi")
        self.serialize = layer.serialize
        self.clients = [self._client(host) for host in decode_hosts(hosts)]

    @staticmethod
    def _client(host: dict) -> redis.Redis:
        host = dict(host)
        host.pop("socket_timeout", None)  # the layer's None (block forever) suits its subscriber, not a publish
        options = {"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 30, **host}
        if "address" in options:
            return redis.Redis.from_url(options.pop("address"), **options)
        return redis.Redis(**options)

    def channel(self, group: str) -> str:
        return f"{self.prefix}__group__{group}"

    def client_for(self, channel: str) -> redis.Redis:
        return self.clients[_consistent_hash(channel, len(self.clients))]

    def publish_many(self, group_messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """One pipelined round trip per shard for all of `group_messages`."""
        pipelines: dict[int, redis.client.Pipeline] = {}
        for group, message in group_messages:
            channel = self.channel(group)
            client = self.client_for(channel)
            pipe = pipelines.get(id(client))
            if pipe is None:
                pipe = pipelines[id(client)] = client.pipeline(transaction=False)
            pipe.publish(channel, self.serialize(message))
        for pipe in pipelines.values():
            pipe.execute()


_publisher: tuple[int, int, _PubSubPublisher | None] | None = None  # (pid, id(layer), publisher)
_publisher_lock = threading.Lock()


def _sync_publisher() -> _PubSubPublisher | None:
    """The publisher for the current channel layer, or None when it is not the pub/sub layer.
    Rebuilt after a fork and when the layer object changes (tests override CHANNEL_LAYERS)."""
    global _publisher
    layer = get_channel_layer()
    current = _publisher
    if current is not None and current[0] == os.getpid() and current[1] == id(layer):
        return current[2]
    with _publisher_lock:
        publisher = _PubSubPublisher(layer) if isinstance(layer, RedisPubSubChannelLayer) else None
        _publisher = (os.getpid(), id(layer), publisher)
    return publisher


def send_many_now(group_messages: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """Deliver each (group, message) now, from sync code; raises on a Redis failure."""
    if not group_messages:
        return
    publisher = _sync_publisher()
    if publisher is not None:
        publisher.publish_many(group_messages)
        return
    layer = get_channel_layer()

    async def send_all() -> None:
        for group, message in group_messages:
            await layer.group_send(group, message)

    async_to_sync(send_all)()


def relay_message(event: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The frame the /ws/events/ consumer relays to the socket."""
    return {"type": "relay", "event": event, "payload": dict(payload)}


def send_now(group: str, event: str, payload: Mapping[str, Any]) -> None:
    """Deliver immediately (for ephemeral events with no transaction: typing, presence)."""
    try:
        send_many_now([(group, relay_message(event, payload))])
    except Exception:
        # Live delivery is best effort; clients catch up through /api/v1/sync.
        logger.exception("realtime.send_failed", extra={"group": group, "event": event})


def broadcast_on_commit(group: str, event: str, payload: Mapping[str, Any]) -> None:
    """Deliver `event` to every socket in `group` after the current transaction commits."""
    frozen = dict(payload)
    transaction.on_commit(lambda: send_now(group, event, frozen))


def broadcast_to_users_on_commit(user_ids: Iterable[int], event: str, payload: Mapping[str, Any]) -> None:
    frozen = dict(payload)
    targets = sorted(set(user_ids))

    def send() -> None:
        message = relay_message(event, frozen)
        try:
            send_many_now([(user_group(uid), message) for uid in targets])
        except Exception:
            logger.exception("realtime.send_failed", extra={"event": event, "users": len(targets)})

    transaction.on_commit(send)
