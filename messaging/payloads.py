"""The JSON shapes of messaging objects, shared by live events, `/sync`, REST and GraphQL.

One renderer per object, so a message looks the same whether it arrived over the socket,
was replayed by `/sync` or was fetched from history. Ids are strings (64-bit snowflakes do
not fit a JavaScript number).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from messaging.models import Conversation, Message, Notification, Participant


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _sid(value: int | None) -> str | None:
    return None if value is None else str(value)


def message_payload(message: Message, *, attachments: list | None = None) -> dict[str, Any]:
    """A message as clients see it; an unsent message keeps only its tombstone fields."""
    unsent = message.unsent_at is not None
    if attachments is None:
        attachments = [] if unsent else list(message.attachments.all())
    return {
        "id": str(message.pk),
        "conversation_id": str(message.conversation_id),
        "sender_id": _sid(message.sender_id),
        "client_id": message.client_id,
        "kind": message.kind,
        "body": "" if unsent else message.body,
        "attachments": [] if unsent else [{"id": str(a.pk), "kind": a.kind} for a in attachments],
        "shared_post_id": None if unsent else _sid(message.shared_post_id),
        "shared_story_id": None if unsent else _sid(message.shared_story_id),
        "quote": {} if unsent else message.quote,
        "reply_to_id": _sid(message.reply_to_id),
        "created_at": _iso(message.created_at),
        "edited_at": _iso(message.edited_at),
        "unsent": unsent,
        "held": message.held,
    }


def participant_payload(participant: Participant) -> dict[str, Any]:
    return {
        "user_id": str(participant.user_id),
        "role": participant.role,
        "state": participant.state,
    }


def conversation_payload(conversation: Conversation, participants: list[Participant]) -> dict[str, Any]:
    return {
        "id": str(conversation.pk),
        "kind": conversation.kind,
        "name": conversation.name,
        "avatar_id": _sid(conversation.avatar_id),
        "created_by": _sid(conversation.created_by_id),
        "member_count": conversation.member_count,
        "last_message_id": _sid(conversation.last_message_id),
        "last_activity_at": _iso(conversation.last_activity_at),
        "participants": [participant_payload(p) for p in participants if p.state != Participant.State.LEFT],
    }


def notification_payload(notification: Notification, *, text: str | None = None) -> dict[str, Any]:
    return {
        "id": str(notification.pk),
        "type": notification.type,
        "target_type": notification.target_type,
        "target_id": _sid(notification.target_id),
        "last_actor_id": _sid(notification.last_actor_id),
        "actor_count": notification.actor_count,
        "data": notification.data,
        "text": text,
        "read": notification.read_at is not None,
        "created_at": _iso(notification.created_at),
        "updated_at": _iso(notification.updated_at),
        "sort_id": str(notification.sort_id),
    }
