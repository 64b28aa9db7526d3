"""The activity inbox: grouped notifications, read state, preferences, push.

Handlers in messaging/tasks.py turn other apps' domain events into
`notification_record(...)` calls. Grouping: one row per (recipient, type, target) within
NOTIFICATION_GROUP_WINDOW_S; each new actor bumps it to the top ("Mona and 12 others
liked your post") and makes it unread again. Nothing is ever recorded from an account the
recipient blocked, was blocked by, or muted.

Push: after commit, a user with no live socket is pushed at once; a user with a socket
is pushed only if the item is still unread PUSH_UNREAD_DELAY_S later (a countdown task).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from daira.lib import ids, realtime
from daira.lib.errors import Invalid, NotFound
from messaging import live
from messaging.models import Change, Notification, NotificationActor, NotificationPreference, PushDevice
from messaging.payloads import notification_payload
from social import policy
from social.models import Mute

logger = logging.getLogger(__name__)

Channel = NotificationPreference.Channel
TYPES = tuple(Notification.Type.values)

# --- text (Arabic and English) -----------------------------------------------------------------
# (one actor, several actors); {actor} is a name, {others} the number of other actors.
_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "like": ("{actor} liked your {target}", "{actor} and {others} others liked your {target}"),
        "comment": ("{actor} commented on your post", "{actor} and {others} others commented on your post"),
        "reply": ("{actor} replied to your comment", "{actor} and {others} others replied to your comment"),
        "mention": ("{actor} mentioned you", "{actor} and {others} others mentioned you"),
        "follow": ("{actor} started following you", "{actor} and {others} others started following you"),
        "follow_request": ("{actor} asked to follow you", "{actor} and {others} others asked to follow you"),
        "follow_accepted": ("{actor} accepted your follow request", "{actor} and {others} others accepted your follow requests"),
        "friend_request": ("{actor} sent you a friend request", "{actor} and {others} others sent you friend requests"),
        "friend_accepted": ("{actor} accepted your friend request", "{actor} and {others} others accepted your friend requests"),
        "repost": ("{actor} reposted your post", "{actor} and {others} others reposted your post"),
        "quote": ("{actor} quoted your post", "{actor} and {others} others quoted your post"),
        "story_reply": ("{actor} replied to your story", "{actor} and {others} others replied to your story"),
        "message": ("{actor}: {preview}", "{actor} and {others} others sent messages"),
        "moderation": ("A moderator reviewed your content: {decision}", "Moderators reviewed your content"),
        "gift": ("{actor} sent you a gift", "{actor} and {others} others sent you gifts"),
        "tip": ("{actor} sent you a tip", "{actor} and {others} others sent you tips"),
        "subscription": ("{actor} subscribed to you", "{actor} and {others} others subscribed to you"),
    },
    "ar": {
        "like": ("أعجب {actor} {target_ar}", "أعجب {actor} و{others} آخرون {target_ar}"),
        "comment": ("علّق {actor} على منشورك", "علّق {actor} و{others} آخرون على منشورك"),
        "reply": ("ردّ {actor} على تعليقك", "ردّ {actor} و{others} آخرون على تعليقك"),
        "mention": ("أشار إليك {actor}", "أشار إليك {actor} و{others} آخرون"),
        "follow": ("بدأ {actor} متابعتك", "بدأ {actor} و{others} آخرون متابعتك"),
        "follow_request": ("طلب {actor} متابعتك", "طلب {actor} و{others} آخرون متابعتك"),
        "follow_accepted": ("قبل {actor} طلب متابعتك", "قبل {actor} و{others} آخرون طلبات متابعتك"),
        "friend_request": ("أرسل إليك {actor} طلب صداقة", "أرسل إليك {actor} و{others} آخرون طلبات صداقة"),
        "friend_accepted": ("قبل {actor} طلب صداقتك", "قبل {actor} و{others} آخرون طلبات صداقتك"),
        "repost": ("أعاد {actor} نشر منشورك", "أعاد {actor} و{others} آخرون نشر منشورك"),
        "quote": ("اقتبس {actor} منشورك", "اقتبس {actor} و{others} آخرون منشورك"),
        "story_reply": ("ردّ {actor} على قصتك", "ردّ {actor} و{others} آخرون على قصتك"),
        "message": ("{actor}: {preview}", "أرسل {actor} و{others} آخرون رسائل"),
        "moderation": ("راجع أحد المشرفين محتواك: {decision}", "راجع المشرفون محتواك"),
        "gift": ("أرسل إليك {actor} هدية", "أرسل إليك {actor} و{others} آخرون هدايا"),
        "tip": ("أرسل إليك {actor} إكرامية", "أرسل إليك {actor} و{others} آخرون إكراميات"),
        "subscription": ("اشترك {actor} في قناتك", "اشترك {actor} و{others} آخرون في قناتك"),
    },
}
_TARGET_NOUNS = {"post": ("post", "منشورك"), "comment": ("comment", "تعليقك"), "story": ("story", "قصتك")}
PUSH_TITLE = {"en": "DAIRA", "ar": "دائرة"}


def _actor_name(user: User | None) -> str:
    if user is None:
        return "DAIRA"
    profile = getattr(user, "profile", None)
    return (profile.display_name if profile and profile.display_name else f"@{user.handle}")


def notification_text(notification: Notification, *, language: str = "en") -> str:
    """The inbox line for `notification` in `language` ("ar" or "en"; anything else: "en")."""
    texts = _TEXTS.get(language, _TEXTS["en"])
    one, many = texts.get(notification.type, ("{actor}", "{actor} +{others}"))
    others = max(notification.actor_count - 1, 0)
    noun_en, noun_ar = _TARGET_NOUNS.get(notification.target_type, ("post", "منشورك"))
    values = {
        "actor": _actor_name(notification.last_actor),
        "others": others,
        "target": noun_en,
        "target_ar": noun_ar,
        "preview": str(notification.data.get("preview", ""))[:100],
        "decision": str(notification.data.get("decision", "")),
    }
    return (many if others else one).format(**values)


def _language_of(user_id: int) -> str:
    from accounts.models import Profile

    return Profile.objects.filter(user_id=user_id).values_list("language", flat=True).first() or "ar"


# --- preferences -------------------------------------------------------------------------------
def preference_get(*, user_id: int, type: str) -> str:
    value = NotificationPreference.objects.filter(user_id=user_id, type=type).values_list("channel", flat=True).first()
    return value or Channel.PUSH


def preferences_get(*, user: User) -> dict[str, str]:
    """Every notification type with `user`'s channel for it ("push", "in_app" or "off")."""
    stored = dict(NotificationPreference.objects.filter(user=user).values_list("type", "channel"))
    return {t: stored.get(t, Channel.PUSH) for t in TYPES}


@transaction.atomic
def preference_set(*, actor: User, type: str, channel: str) -> dict[str, str]:
    """Set how `actor` hears about `type`: "push" (in-app and push), "in_app" or "off".
    Raises Invalid for unknown types or channels."""
    if type not in TYPES:
        raise Invalid(f"Unknown notification type {type!r}.", field="type")
    if channel not in Channel.values:
        raise Invalid(f"Unknown channel {channel!r}.", field="channel")
    NotificationPreference.objects.update_or_create(user=actor, type=type, defaults={"channel": channel})
    return preferences_get(user=actor)


# --- recording ---------------------------------------------------------------------------------
def _group_lock(recipient_id: int, type: str, target_type: str, target_id: int | None) -> None:
    digest = hashlib.blake2b(f"{recipient_id}:{type}:{target_type}:{target_id}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _suppressed(recipient_id: int, actor_id: int | None) -> bool:
    if actor_id is None:
        return False
    if policy.is_blocked_either_way(recipient_id, actor_id):
        return True
    return Mute.objects.filter(muter_id=recipient_id, muted_id=actor_id).exists()


@transaction.atomic
def notification_record(
    *,
    recipient_id: int,
    type: str,
    actor_id: int | None,
    target_type: str = "",
    target_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Notification | None:
    """Add `actor_id`'s `type` activity on `target` to `recipient_id`'s inbox.

    Returns None (and records nothing) for one's own activity, an inactive recipient,
    blocks either way, a recipient who muted the actor, or the type turned "off".
    Within the grouping window an existing group gains the actor (a repeat by the same
    actor changes nothing, except for messages, which always bump). After commit:
    live "notification.created" to the recipient, and push (see module doc).
    """
    if type not in TYPES:
        raise ValueError(f"Unknown notification type {type!r}")
    if actor_id is not None and int(actor_id) == int(recipient_id):
        return None
    recipient = User.objects.filter(pk=recipient_id).first()
    if recipient is None or not recipient.is_active:
        return None
    if _suppressed(recipient.pk, actor_id):
        return None
    channel = preference_get(user_id=recipient.pk, type=type)
    if channel == Channel.OFF:
        return None

    _group_lock(recipient.pk, type, target_type, target_id)
    since = timezone.now() - timedelta(seconds=settings.NOTIFICATION_GROUP_WINDOW_S)
    notification = (
        Notification.objects.select_for_update()
        .filter(recipient=recipient, type=type, target_type=target_type, target_id=target_id, created_at__gte=since)
        .order_by("-sort_id")
        .first()
    )
    if notification is None:
        notification = Notification.objects.create(
            recipient=recipient, type=type, target_type=target_type, target_id=target_id,
            last_actor_id=actor_id, actor_count=1 if actor_id else 0, data=dict(data or {}), sort_id=ids.next_id(),
        )
        if actor_id:
            NotificationActor.objects.create(notification=notification, actor_id=actor_id)
    else:
        added = False
        if actor_id:
            _, added = NotificationActor.objects.get_or_create(notification=notification, actor_id=actor_id)
        if not added and type != Notification.Type.MESSAGE:
            return notification
        if added:
            notification.actor_count += 1
        notification.last_actor_id = actor_id or notification.last_actor_id
        merged = dict(notification.data)
        merged.update(data or {})
        if type == Notification.Type.MESSAGE:
            merged["count"] = int(notification.data.get("count", 1)) + 1
        notification.data = merged
        notification.sort_id = ids.next_id()
        notification.read_at = None
        notification.save(update_fields=["actor_count", "last_actor", "data", "sort_id", "read_at", "updated_at"])

    notification = Notification.objects.select_related("last_actor__profile").get(pk=notification.pk)
    payload = notification_payload(notification, text=notification_text(notification, language=_language_of(recipient.pk)))
    payload["unread_count"] = unread_count(user_id=recipient.pk)
    Change.objects.create(user_id=recipient.pk, event="notification.created", payload=payload)
    realtime.broadcast_to_users_on_commit([recipient.pk], "notification.created", payload)
    if channel == Channel.PUSH:
        _schedule_push(notification.pk, notification.sort_id, recipient.pk)
    return notification


def _schedule_push(notification_id: int, sort_id: int, recipient_id: int) -> None:
    def schedule() -> None:
        from messaging.tasks import notification_push_task

        try:
            # No live socket: push now. Online: push only if still unread a little later.
            countdown = 0 if live.socket_count(recipient_id) == 0 else settings.PUSH_UNREAD_DELAY_S
            notification_push_task.apply_async(
                kwargs={"notification_id": notification_id, "sort_id": sort_id}, countdown=countdown
            )
        except Exception:
            # The notification is committed and shown in-app; a lost push is not worth a 500.
            logger.exception("push.schedule_failed", extra={"notification_id": notification_id})

    transaction.on_commit(schedule)


# --- read state --------------------------------------------------------------------------------
def unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


def _publish_read(user_id: int, ids_: list[int] | None) -> None:
    payload = {"ids": [str(i) for i in ids_] if ids_ is not None else None, "all": ids_ is None,
               "unread_count": unread_count(user_id=user_id)}
    Change.objects.create(user_id=user_id, event="notification.read", payload=payload)
    realtime.broadcast_to_users_on_commit([user_id], "notification.read", payload)


@transaction.atomic
def notification_mark_read(*, actor: User, notification_id: int) -> Notification:
    """Mark one of `actor`'s notifications read (NotFound for anyone else's). Idempotent.
    After commit: "notification.read" {ids, all: false, unread_count} to `actor`."""
    notification = Notification.objects.filter(pk=notification_id, recipient=actor).first()
    if notification is None:
        raise NotFound("Notification not found.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        _publish_read(actor.pk, [notification.pk])
    return notification


@transaction.atomic
def notifications_mark_all_read(*, actor: User) -> int:
    """Mark every unread notification of `actor` read; returns how many changed.
    After commit: "notification.read" {ids: null, all: true, unread_count: 0}."""
    changed = Notification.objects.filter(recipient=actor, read_at__isnull=True).update(read_at=timezone.now())
    if changed:
        _publish_read(actor.pk, None)
    return changed


def notifications_mark_read_for_target(*, recipient: User, type: str, target_type: str, target_id: int) -> None:
    """Mark the notifications about one target read (reading a conversation clears its
    message notifications). Call inside the caller's transaction."""
    rows = list(
        Notification.objects.filter(
            recipient=recipient, type=type, target_type=target_type, target_id=target_id, read_at__isnull=True
        ).values_list("pk", flat=True)
    )
    if rows:
        Notification.objects.filter(pk__in=rows).update(read_at=timezone.now())
        _publish_read(recipient.pk, rows)


# --- devices and push --------------------------------------------------------------------------
@transaction.atomic
def device_register(*, actor: User, token: str, platform: str, language: str = "") -> PushDevice:
    """Register (or move to `actor`) an FCM token. Raises Invalid for bad input."""
    token = (token or "").strip()
    if not token or len(token) > 512 or any(ch.isspace() for ch in token):
        raise Invalid("A valid FCM registration token is required.", field="token")
    if platform not in PushDevice.Platform.values:
        raise Invalid("platform must be android, ios or web.", field="platform")
    if language not in ("", "ar", "en"):
        raise Invalid("language must be ar or en.", field="language")
    device, _ = PushDevice.objects.update_or_create(
        token=token, defaults={"user": actor, "platform": platform, "language": language}
    )
    return device


@transaction.atomic
def device_unregister(*, actor: User, token: str) -> None:
    """Forget `actor`'s token (logout on that phone). Idempotent; other users' tokens are untouched."""
    PushDevice.objects.filter(user=actor, token=(token or "").strip()).delete()


def push_send(*, user_id: int, build, collapse_key: str, data: dict[str, str]) -> dict[str, int]:
    """Push to every device of `user_id`; `build(language) -> (title, body)`. Tokens the
    provider reports invalid are deleted. Returns counts per result status."""
    from messaging.push import PushMessage, get_push_gateway

    gateway = get_push_gateway()
    counts = {"sent": 0, "invalid_token": 0, "failed": 0}
    default_language = None
    for device in PushDevice.objects.filter(user_id=user_id).order_by("id"):
        language = device.language or default_language or _language_of(user_id)
        default_language = default_language or language
        title, body = build(language)
        result = gateway.send(PushMessage(token=device.token, title=title, body=body, data=data, collapse_key=collapse_key))
        counts[result.status] = counts.get(result.status, 0) + 1
        if result.status == "invalid_token":
            PushDevice.objects.filter(pk=device.pk).delete()
            logger.info("push.token_pruned", extra={"user_id": user_id, "device_id": device.pk})
    return counts


def notification_push(*, notification_id: int, sort_id: int | None = None) -> dict[str, int] | None:
    """Push one notification if it is still unread, unchanged since it was scheduled
    (a newer bump schedules its own push) and its type is still set to "push".
    Returns the per-status counts, or None when nothing was pushed. Safe to run twice."""
    notification = Notification.objects.select_related("last_actor__profile").filter(pk=notification_id).first()
    if notification is None or notification.read_at is not None:
        return None
    if sort_id is not None and notification.sort_id != sort_id:
        return None
    if preference_get(user_id=notification.recipient_id, type=notification.type) != Channel.PUSH:
        return None
    if notification.type == Notification.Type.MESSAGE:
        collapse_key = f"conversation:{notification.target_id}"
    else:
        collapse_key = f"{notification.type}:{notification.target_type}:{notification.target_id}"
    data = {"notification_id": str(notification.pk), "type": notification.type,
            "target_type": notification.target_type, "target_id": str(notification.target_id or "")}

    def build(language: str) -> tuple[str, str]:
        return PUSH_TITLE.get(language, PUSH_TITLE["en"]), notification_text(notification, language=language)

    return push_send(user_id=notification.recipient_id, build=build, collapse_key=collapse_key, data=data)
