"""Callables messaging registers into lower apps (see MessagingConfig.ready)."""

from __future__ import annotations

from typing import Any

from messaging.models import Message, Notification, Participant


def message_access_check(*, user, obj) -> bool:
    """May `user` report message `obj`? Only someone who is (or was) in its conversation."""
    if obj.held and obj.sender_id != user.pk:
        return False
    return Participant.objects.filter(conversation_id=obj.conversation_id, user_id=user.pk).exists()


def export_section(user) -> dict[str, Any]:
    """The user's conversations, the messages they sent, and their notifications (PDPL export)."""
    conversations = [
        {"conversation_id": str(p.conversation_id), "kind": p.conversation.kind, "name": p.conversation.name,
         "role": p.role, "state": p.state, "joined_at": p.joined_at.isoformat()}
        for p in Participant.objects.filter(user=user).select_related("conversation").order_by("id")
    ]
    messages = [
        {"id": str(m.pk), "conversation_id": str(m.conversation_id), "kind": m.kind, "body": m.body,
         "created_at": m.created_at.isoformat(), "edited_at": m.edited_at.isoformat() if m.edited_at else None,
         "unsent": m.unsent_at is not None}
        for m in Message.objects.filter(sender=user).order_by("id").iterator()
    ]
    inbox = [
        {"id": str(n.pk), "type": n.type, "target_type": n.target_type,
         "target_id": str(n.target_id) if n.target_id else None, "created_at": n.created_at.isoformat(),
         "read": n.read_at is not None}
        for n in Notification.objects.filter(recipient=user).order_by("id").iterator()
    ]
    return {"conversations": conversations, "messages_sent": messages, "notifications": inbox}
