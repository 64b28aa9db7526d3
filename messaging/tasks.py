"""Celery tasks: thin, idempotent wrappers around messaging services.

Most are subscribed to other apps' domain events in daira/lib/events.py and turn them
into inbox notifications. Each is safe to run twice (at-least-once delivery): grouping
ignores a repeated actor, and a story reply carries a deterministic client id.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from celery import shared_task

from accounts.models import User
from daira.lib import events
from daira.lib.errors import ApplicationError
from messaging import live, notifications, services
from messaging.models import Message, Notification, Participant

logger = logging.getLogger(__name__)

T = Notification.Type


def _record(**kwargs) -> None:
    notifications.notification_record(**kwargs)


# --- messaging's own events ------------------------------------------------------------------
@shared_task(acks_late=True)
def message_notify_task(message_id: int, **_: object) -> None:
    """A new message: a "message" (or "story_reply") notification for each recipient who
    does not have the conversation open on a screen right now."""
    message = Message.objects.select_related("conversation").filter(pk=message_id).first()
    if message is None or message.unsent_at is not None or message.held:
        return
    recipients = (
        Participant.objects.filter(conversation_id=message.conversation_id)
        .exclude(state=Participant.State.LEFT)
        .exclude(user_id=message.sender_id)
        .filter(last_read_message_id__lt=message.pk)
        .values_list("user_id", flat=True)
    )
    preview = message.body[:100] if message.body else f"[{message.kind}]"
    for user_id in recipients:
        if live.conversation_is_open(user_id, message.conversation_id):
            continue
        if message.kind == Message.Kind.STORY_REPLY:
            _record(recipient_id=user_id, type=T.STORY_REPLY, actor_id=message.sender_id, target_type="story",
                    target_id=int(message.quote.get("story_id") or 0) or None,
                    data={"conversation_id": str(message.conversation_id), "message_id": str(message.pk),
                          "preview": preview})
        else:
            _record(recipient_id=user_id, type=T.MESSAGE, actor_id=message.sender_id, target_type="conversation",
                    target_id=message.conversation_id,
                    data={"conversation_id": str(message.conversation_id), "message_id": str(message.pk),
                          "preview": preview})


@shared_task(acks_late=True)
def notification_push_task(notification_id: int, sort_id: int | None = None) -> None:
    notifications.notification_push(notification_id=notification_id, sort_id=sort_id)


# --- social ----------------------------------------------------------------------------------
@shared_task(acks_late=True)
def follow_notify_task(follower_id: int, followee_id: int, **_: object) -> None:
    _record(recipient_id=followee_id, type=T.FOLLOW, actor_id=follower_id, target_type="user", target_id=followee_id)


@shared_task(acks_late=True)
def follow_request_notify_task(requester_id: int, target_id: int, **_: object) -> None:
    # Not grouped: each request is answered on its own (target = the requester).
    _record(recipient_id=target_id, type=T.FOLLOW_REQUEST, actor_id=requester_id, target_type="user",
            target_id=requester_id)


@shared_task(acks_late=True)
def follow_accepted_notify_task(requester_id: int, target_id: int, **_: object) -> None:
    _record(recipient_id=requester_id, type=T.FOLLOW_ACCEPTED, actor_id=target_id, target_type="user",
            target_id=target_id)


@shared_task(acks_late=True)
def friend_request_notify_task(from_user_id: int, to_user_id: int, **_: object) -> None:
    _record(recipient_id=to_user_id, type=T.FRIEND_REQUEST, actor_id=from_user_id, target_type="user",
            target_id=from_user_id)


@shared_task(acks_late=True)
def friendship_notify_task(user_id: int, friend_id: int, **_: object) -> None:
    # social emits user_id = the one who accepted, friend_id = the one who asked.
    _record(recipient_id=friend_id, type=T.FRIEND_ACCEPTED, actor_id=user_id, target_type="user", target_id=user_id)


# --- content ---------------------------------------------------------------------------------
def _post_author(post_id: int | None) -> int | None:
    if not post_id:
        return None
    from content.models import Post

    return Post.objects.filter(pk=post_id).values_list("author_id", flat=True).first()


@shared_task(acks_late=True)
def post_reply_notify_task(post_id: int, author_id: int, parent_id: int | None = None, **_: object) -> None:
    """A published reply (a post with a parent) tells the parent's author."""
    parent_author = _post_author(parent_id)
    if parent_author:
        _record(recipient_id=parent_author, type=T.REPLY, actor_id=author_id, target_type="post", target_id=parent_id,
                data={"post_id": str(post_id)})


@shared_task(acks_late=True)
def comment_notify_task(comment_id: int, post_id: int, author_id: int, post_author_id: int | None = None,
                        parent_id: int | None = None, parent_author_id: int | None = None, **_: object) -> None:
    if parent_id and parent_author_id:
        _record(recipient_id=parent_author_id, type=T.REPLY, actor_id=author_id, target_type="comment",
                target_id=parent_id, data={"comment_id": str(comment_id), "post_id": str(post_id)})
    if post_author_id and post_author_id != parent_author_id:
        _record(recipient_id=post_author_id, type=T.COMMENT, actor_id=author_id, target_type="post",
                target_id=post_id, data={"comment_id": str(comment_id)})


@shared_task(acks_late=True)
def reaction_notify_task(target_type: str, target_id: int, user_id: int, owner_id: int,
                         reaction: str = "like", **_: object) -> None:
    _record(recipient_id=owner_id, type=T.LIKE, actor_id=user_id, target_type=target_type, target_id=target_id,
            data={"reaction": reaction})


@shared_task(acks_late=True)
def repost_notify_task(post_id: int, user_id: int, author_id: int, **_: object) -> None:
    _record(recipient_id=author_id, type=T.REPOST, actor_id=user_id, target_type="post", target_id=post_id)


@shared_task(acks_late=True)
def quote_notify_task(post_id: int, author_id: int, quoted_post_id: int, quoted_author_id: int, **_: object) -> None:
    _record(recipient_id=quoted_author_id, type=T.QUOTE, actor_id=author_id, target_type="post",
            target_id=quoted_post_id, data={"post_id": str(post_id)})


@shared_task(acks_late=True)
def mention_notify_task(target_type: str, target_id: int, author_id: int, mentioned_id: int, **_: object) -> None:
    _record(recipient_id=mentioned_id, type=T.MENTION, actor_id=author_id, target_type=target_type,
            target_id=target_id)


@shared_task(acks_late=True)
def story_replied_task(story_id: int, author_id: int, replier_id: int, text: str = "", **_: object) -> None:
    """A story reply becomes a message from the replier to the author, quoting the story.

    The client id is derived from the story and the text, so a redelivered event does not
    send the message twice. Refusals (blocks, "who can message me", caps) are dropped: the
    story reply itself already stands in content.
    """
    if int(author_id) == int(replier_id):
        return
    replier = User.objects.filter(pk=replier_id).first()
    if replier is None:
        return
    digest = hashlib.sha1(f"{story_id}:{text}".encode()).hexdigest()[:24]
    try:
        conversation = services.conversation_direct_start(actor=replier, other_id=author_id)
        services.message_send(
            actor=replier,
            conversation_id=conversation.pk,
            body=text,
            client_id=f"story:{story_id}:{digest}",
            kind=Message.Kind.STORY_REPLY,
            quote={"story_id": str(story_id), "author_id": str(author_id)},
        )
    except ApplicationError as error:
        logger.info("story_reply.dropped", extra={"story_id": story_id, "replier_id": replier_id, "code": error.code})


# --- moderation ------------------------------------------------------------------------------
@shared_task(acks_late=True)
def moderation_notify_task(user_id: int, kind: str, decision_id: int, decision: str, **_: object) -> None:
    _record(recipient_id=user_id, type=T.MODERATION, actor_id=None, target_type="decision", target_id=decision_id,
            data={"kind": kind, "decision": decision})


# --- retention -------------------------------------------------------------------------------
@shared_task(acks_late=True)
def changes_prune_task(days: int = 30) -> int:
    """Delete change-log rows older than `days` (a phone offline longer re-fetches lists)."""
    from datetime import timedelta

    from django.utils import timezone

    from daira.lib.ids import min_id_at
    from messaging.models import Change

    deleted, _ = Change.objects.filter(pk__lt=min_id_at(timezone.now() - timedelta(days=days))).delete()
    return deleted


@shared_task(acks_late=True)
def moderation_decided_task(decision: str, target_app_label: str, target_model: str, target_id: int,
                            **_: object) -> None:
    """A moderator decided on a case; messages are ours to remove or release."""
    if (target_app_label, target_model) == ("messaging", "message"):
        services.message_moderation_apply(message_id=target_id, decision=decision)


@shared_task(acks_late=True)
def moderation_target_hidden_task(content_type: str, object_id: int, **_: object) -> None:
    """Enough people reported a message: hide it from the conversation pending review."""
    if content_type == "messaging.message":
        services.message_moderation_apply(message_id=object_id, decision="hidden")


# --- wallet events ---------------------------------------------------------------------------------
@shared_task(acks_late=True)
def gift_notify_task(gift_id: int, sender_id: int, creator_id: int, post_id: int | None = None, **_: object) -> None:
    _record(recipient_id=creator_id, type=T.GIFT, actor_id=sender_id,
            target_type="post" if post_id else "", target_id=post_id, data={"gift_id": str(gift_id)})


@shared_task(acks_late=True)
def tip_notify_task(tip_id: int, sender_id: int, creator_id: int, context: str = "profile", **_: object) -> None:
    _record(recipient_id=creator_id, type=T.TIP, actor_id=sender_id, data={"tip_id": str(tip_id), "context": context})


def _each_payload(handler: Callable[..., None], event: str) -> Callable[[list[dict]], None]:
    """A drain_batches handler calling `handler(**payload)` for each payload. A payload that
    fails is logged and dropped, so one bad payload cannot hold up a creator's queue."""
    def handle(payloads: list[dict]) -> None:
        for payload in payloads:
            try:
                handler(**payload)
            except Exception:
                logger.exception("notification.batch_item_failed", extra={"event": event, "payload": payload})
    return handle


@shared_task(acks_late=True)
def gift_notify_batch_task(key: str) -> int:
    """gift.received, batched per creator (`key`; daira/lib/events.Batched): each gift as
    gift_notify_task records it."""
    return events.drain_batches("messaging.tasks.gift_notify_batch_task", key,
                                _each_payload(gift_notify_task, "gift.received"))


@shared_task(acks_late=True)
def tip_notify_batch_task(key: str) -> int:
    """tip.received, batched per creator (`key`): each tip as tip_notify_task records it."""
    return events.drain_batches("messaging.tasks.tip_notify_batch_task", key,
                                _each_payload(tip_notify_task, "tip.received"))


@shared_task(acks_late=True)
def subscription_notify_task(subscription_id: int, subscriber_id: int, creator_id: int, tier_level: int = 1,
                             **_: object) -> None:
    _record(recipient_id=creator_id, type=T.SUBSCRIPTION, actor_id=subscriber_id,
            data={"subscription_id": str(subscription_id), "tier_level": tier_level})
