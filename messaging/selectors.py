"""Messaging reads: the inbox, message requests, history, unread counts, sync, presence,
notifications. Every read is scoped to the viewer's own memberships (a conversation one is
not in is NotFound, exactly like a missing one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.db.models import BigIntegerField, Count, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User, UserSettings
from daira.lib.errors import Invalid
from daira.lib.ids import min_id_at
from daira.lib.pagination import Page, decode_cursor, encode_cursor
from messaging import live, notifications
from messaging.models import Change, Conversation, Message, MessageReaction, Notification, Participant
from messaging.payloads import conversation_payload, message_payload, notification_payload
from messaging.services import participant_get
from social import policy


def _unread_subquery(user_id: int) -> Subquery:
    unread = (
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            id__gt=OuterRef("last_read_message_id"),
            unsent_at__isnull=True,
            held=False,
        )
        .exclude(sender_id=user_id)
        .exclude(hidden_for__user_id=user_id)
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(unread, output_field=IntegerField()), Value(0))


@dataclass
class ConversationRow:
    conversation: Conversation
    participant: Participant
    participants: list[Participant]
    unread_count: int
    last_message: Message | None
    read_states: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = conversation_payload(self.conversation, self.participants)
        data.update(
            state=self.participant.state,
            role=self.participant.role,
            unread_count=self.unread_count,
            last_read_message_id=str(self.participant.last_read_message_id),
            last_message=message_payload(self.last_message) if self.last_message else None,
            read_states=self.read_states,
        )
        return data


def _read_states(participants: list[Participant], viewer_id: int) -> list[dict[str, str]]:
    """Other participants' read markers, only for those who keep read receipts on."""
    states = []
    for p in participants:
        if p.user_id == viewer_id or p.state == Participant.State.LEFT:
            continue
        receipts = getattr(getattr(p.user, "settings", None), "read_receipts", True)
        if receipts:
            states.append({"user_id": str(p.user_id), "last_read_message_id": str(p.last_read_message_id)})
    return states


def _rows(viewer: User, memberships: list[Participant]) -> list[ConversationRow]:
    conversation_ids = [m.conversation_id for m in memberships]
    everyone: dict[int, list[Participant]] = {}
    for p in (
        Participant.objects.filter(conversation_id__in=conversation_ids)
        .select_related("user__settings")
        .order_by("id")
    ):
        everyone.setdefault(p.conversation_id, []).append(p)
    last_ids = [m.conversation.last_message_id for m in memberships if m.conversation.last_message_id]
    hidden = set(
        Message.objects.filter(pk__in=last_ids, hidden_for__user_id=viewer.pk).values_list("pk", flat=True)
    )
    last = {
        m.pk: m for m in Message.objects.filter(pk__in=last_ids).prefetch_related("attachments") if m.pk not in hidden
    }
    return [
        ConversationRow(
            conversation=m.conversation,
            participant=m,
            participants=everyone.get(m.conversation_id, []),
            unread_count=m.unread,
            last_message=last.get(m.conversation.last_message_id),
            read_states=_read_states(everyone.get(m.conversation_id, []), viewer.pk),
        )
        for m in memberships
    ]


def conversation_list(*, viewer: User, cursor: str | None, limit: int, requests: bool = False) -> Page:
    """`viewer`'s conversations (or message requests), most recent activity first, each
    with its last message and unread count. The cursor is the activity key (a snowflake:
    the last message id, or the conversation id before any message)."""
    state = Participant.State.REQUEST if requests else Participant.State.ACTIVE
    memberships = (
        Participant.objects.filter(user=viewer, state=state)
        .select_related("conversation")
        .annotate(
            activity=Coalesce("conversation__last_message_id", "conversation_id", output_field=BigIntegerField()),
            unread=_unread_subquery(viewer.pk),
        )
    )
    if requests:
        memberships = memberships.filter(conversation__last_message_id__isnull=False)
    after = decode_cursor(cursor)
    if after is not None:
        memberships = memberships.filter(activity__lt=after)
    page = list(memberships.order_by("-activity")[: limit + 1])
    has_more = len(page) > limit
    page = page[:limit]
    next_cursor = encode_cursor(page[-1].activity) if has_more and page else None
    return Page(items=_rows(viewer, page), next_cursor=next_cursor)


def conversation_get(*, viewer: User, conversation_id: int) -> ConversationRow:
    """One conversation of `viewer` (active or request), or NotFound."""
    participant = participant_get(user=viewer, conversation_id=conversation_id)
    membership = (
        Participant.objects.filter(pk=participant.pk).select_related("conversation")
        .annotate(unread=_unread_subquery(viewer.pk)).get()
    )
    return _rows(viewer, [membership])[0]


def unread_totals(*, viewer: User) -> dict[str, int]:
    """Unread messages and conversations with unread messages (inbox only), message
    requests waiting, and unread notifications."""
    totals = (
        Participant.objects.filter(user=viewer, state=Participant.State.ACTIVE)
        .annotate(unread=_unread_subquery(viewer.pk))
        .aggregate(messages=Coalesce(Sum("unread"), 0), conversations=Count("pk", filter=Q(unread__gt=0)))
    )
    requests = Participant.objects.filter(
        user=viewer, state=Participant.State.REQUEST, conversation__last_message_id__isnull=False
    ).count()
    return {
        "messages": int(totals["messages"]),
        "conversations": int(totals["conversations"]),
        "requests": requests,
        "notifications": notifications.unread_count(user_id=viewer.pk),
    }


def _history_queryset(viewer: User, conversation_id: int):
    return (
        Message.objects.filter(conversation_id=conversation_id)
        .exclude(hidden_for__user_id=viewer.pk)
        .filter(Q(held=False) | Q(sender_id=viewer.pk))
        .prefetch_related("attachments")
    )


def message_history(
    *, viewer: User, conversation_id: int, before: str | None = None, after: str | None = None, limit: int = 30
) -> Page:
    """A page of history. `before`: older messages than the cursor, newest first (the
    default, from the latest message); `after`: newer messages than the cursor, oldest
    first (catching up forwards). `next_cursor` continues in the same direction. Messages
    hidden for `viewer` are skipped; unsent ones stay as tombstones."""
    if before and after:
        raise Invalid("Use either before or after, not both.", field="before")
    participant_get(user=viewer, conversation_id=conversation_id)
    queryset = _history_queryset(viewer, conversation_id)
    if after:
        queryset = queryset.filter(pk__gt=decode_cursor(after)).order_by("id")
    else:
        start = decode_cursor(before)
        if start is not None:
            queryset = queryset.filter(pk__lt=start)
        queryset = queryset.order_by("-id")
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=encode_cursor(rows[-1].pk) if has_more and rows else None)


def messages_render(messages: list[Message]) -> list[dict[str, Any]]:
    """Message payloads with their reactions, in two queries for the whole page."""
    reactions: dict[int, list[dict[str, str]]] = {}
    for message_id, user_id, emoji in MessageReaction.objects.filter(
        message_id__in=[m.pk for m in messages]
    ).order_by("id").values_list("message_id", "user_id", "emoji"):
        reactions.setdefault(message_id, []).append({"user_id": str(user_id), "emoji": emoji})
    rendered = []
    for message in messages:
        data = message_payload(message)
        data["reactions"] = reactions.get(message.pk, [])
        rendered.append(data)
    return rendered


# --- sync --------------------------------------------------------------------------------------
def sync_changes(*, viewer: User, since: str | None, limit: int = 500) -> dict[str, Any]:
    """What changed for `viewer` after cursor `since`, oldest first: the same frames the
    socket delivered ({id, event, payload}) for every conversation they are in, plus their
    own notifications, read markers and "delete for me".

    Without `since`, returns no changes and a starting cursor. The returned cursor trails
    the clock by MESSAGING_SYNC_SAFETY_MS, so a change committed late by a slower
    transaction is never skipped; clients dedupe replays by change `id`.
    """
    after = decode_cursor(since)
    horizon = min_id_at(timezone.now() - timedelta(milliseconds=settings.MESSAGING_SYNC_SAFETY_MS))
    if after is None:
        return {"changes": [], "cursor": encode_cursor(horizon), "has_more": False}
    memberships = Participant.objects.filter(user=viewer).exclude(state=Participant.State.LEFT).values("conversation_id")
    rows = list(
        Change.objects.filter(pk__gt=after)
        .filter(Q(conversation_id__in=memberships) | Q(user_id=viewer.pk))
        .order_by("id")[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    if has_more:
        cursor = rows[-1].pk
    else:
        cursor = max(after, min(rows[-1].pk if rows else horizon, horizon))
    return {
        "changes": [{"id": str(r.pk), "event": r.event, "payload": r.payload} for r in rows],
        "cursor": encode_cursor(cursor),
        "has_more": has_more,
    }


# --- presence ----------------------------------------------------------------------------------
def presence_for(*, viewer: User, user_ids: list[int]) -> dict[str, dict[str, Any]]:
    """{user_id: {"status": "online"|"offline"|"hidden", "last_seen_at"}}: "hidden" for
    people who turned activity status off, and for blocks either way."""
    wanted = list(dict.fromkeys(int(u) for u in user_ids))[:100]
    visible = dict(
        UserSettings.objects.filter(user_id__in=wanted).values_list("user_id", "show_activity_status")
    )
    blocked = {uid for uid in wanted if policy.is_blocked_either_way(viewer.pk, uid)}
    raw = live.presence_read([u for u in wanted if visible.get(u) and u not in blocked])
    result: dict[str, dict[str, Any]] = {}
    for uid in wanted:
        if uid not in raw:
            result[str(uid)] = {"status": "hidden", "last_seen_at": None}
            continue
        online, last_seen_ms = raw[uid]
        last_seen = (
            datetime.fromtimestamp(last_seen_ms / 1000, tz=dt_timezone.utc).isoformat() if last_seen_ms else None
        )
        result[str(uid)] = {"status": "online" if online else "offline", "last_seen_at": last_seen}
    return result


# --- notifications -----------------------------------------------------------------------------
def notification_list(*, viewer: User, cursor: str | None, limit: int, unread_only: bool = False) -> Page:
    """`viewer`'s inbox, most recently active group first (cursor: `sort_id`). Groups whose
    latest actor is now blocked either way are left out."""
    queryset = Notification.objects.filter(recipient=viewer).filter(policy.not_blocked_q(viewer, "last_actor"))
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    after = decode_cursor(cursor)
    if after is not None:
        queryset = queryset.filter(sort_id__lt=after)
    rows = list(queryset.select_related("last_actor__profile").order_by("-sort_id")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=encode_cursor(rows[-1].sort_id) if has_more and rows else None)


def notifications_render(*, viewer: User, rows: list[Notification]) -> list[dict[str, Any]]:
    language = notifications._language_of(viewer.pk)
    return [notification_payload(n, text=notifications.notification_text(n, language=language)) for n in rows]
