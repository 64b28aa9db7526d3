"""Live events to connected clients (Channels groups over channels-redis).

Services call `broadcast_on_commit(user_group(uid), "message.created", {...})`; the
`/ws/events/` consumer forwards whatever reaches the user's group to each of that
user's sockets, in whichever ASGI process they are connected. Events are small
(`{"event": name, "payload": {...ids...}}`); clients refetch anything heavy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def send_now(group: str, event: str, payload: Mapping[str, Any]) -> None:
    """Deliver immediately (for ephemeral events with no transaction: typing, presence)."""
    message = {"type": "relay", "event": event, "payload": dict(payload)}
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
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
    transaction.on_commit(lambda: [send_now(user_group(uid), event, frozen) for uid in targets])
