"""Messaging writes: conversations, messages, read state, typing, presence.

Every live event goes out through `_publish`, which (1) appends the event to the change
log (`Change`, what `/sync` replays) in the caller's transaction and (2) broadcasts the
same frame to each audience member's user group after commit. REST, GraphQL and the
WebSocket consumer all call these functions, so each path produces exactly the same
events. Notifications and push live in messaging/notifications.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import User
from daira.lib import events, realtime
from daira.lib.errors import Conflict, Invalid, NotFound, PermissionDenied
from messaging import live
from messaging.models import Change, Conversation, Message, MessageHidden, MessageReaction, Participant
from messaging.payloads import conversation_payload, message_payload
from social import policy

logger = logging.getLogger(__name__)

MAX_ATTACHMENTS = 10
MAX_CLIENT_ID_LENGTH = 64
MAX_GROUP_NAME_LENGTH = 100
MAX_EMOJI_LENGTH = 32


# --- publishing ------------------------------------------------------------------------------
def _publish(
    event: str,
    payload: dict[str, Any],
    *,
    user_ids: Iterable[int],
    conversation_id: int | None = None,
    user_id: int | None = None,
) -> None:
    """Log `event` for `/sync` and broadcast it to `user_ids` after commit.

    A change logged with `conversation_id` is replayed to every participant of that
    conversation; one logged with `user_id` only to that user.
    """
    Change.objects.create(conversation_id=conversation_id, user_id=user_id, event=event, payload=payload)
    targets = sorted(set(user_ids))
    transaction.on_commit(lambda: broadcast_now(targets, event, payload))


def broadcast_now(user_ids: Sequence[int], event: str, payload: dict[str, Any]) -> None:
    """Send one frame to many users' groups in one pipelined round trip per Redis shard
    (daira.lib.realtime.send_many_now; redis-py retries a dropped connection itself).
    Best effort: clients catch up by /sync."""
    message = realtime.relay_message(event, payload)
    try:
        realtime.send_many_now([(realtime.user_group(uid), message) for uid in user_ids])
    except Exception:
        logger.exception("realtime.send_failed", extra={"event": event, "users": len(user_ids)})


def _audience(conversation_id: int) -> list[int]:
    """Users who receive a conversation's events: every participant who has not left."""
    return list(
        Participant.objects.filter(conversation_id=conversation_id)
        .exclude(state=Participant.State.LEFT)
        .values_list("user_id", flat=True)
    )


def _participants(conversation: Conversation) -> list[Participant]:
    return list(conversation.participants.order_by("id"))


def _publish_conversation_updated(conversation: Conversation, *, extra_user_ids: Iterable[int] = ()) -> None:
    payload = conversation_payload(conversation, _participants(conversation))
    audience = set(_audience(conversation.pk)) | set(extra_user_ids)
    _publish("conversation.updated", payload, user_ids=audience, conversation_id=conversation.pk)


# --- access ----------------------------------------------------------------------------------
def participant_get(*, user: User, conversation_id: int, lock: bool = False, allow_left: bool = False) -> Participant:
    """`user`'s membership of `conversation_id`, or NotFound (a conversation one is not in
    looks the same as a missing one). Left members get NotFound unless `allow_left`."""
    queryset = Participant.objects.select_related("conversation")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    participant = queryset.filter(conversation_id=conversation_id, user_id=user.pk).first()
    if participant is None or (participant.state == Participant.State.LEFT and not allow_left):
        raise NotFound("Conversation not found.")
    return participant


def _message_for_member(*, user: User, message_id: int, lock: bool = False) -> tuple[Message, Participant]:
    queryset = Message.objects.select_related("conversation")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    message = queryset.filter(pk=message_id).first()
    if message is None:
        raise NotFound("Message not found.")
    participant = Participant.objects.filter(conversation_id=message.conversation_id, user_id=user.pk).first()
    if participant is None or participant.state == Participant.State.LEFT:
        raise NotFound("Message not found.")
    if message.held and message.sender_id != user.pk:
        raise NotFound("Message not found.")
    return message, participant


def _other_participant(conversation: Conversation, user_id: int) -> Participant | None:
    return conversation.participants.exclude(user_id=user_id).select_related("user").first()


def _lands_in_requests(*, sender: User, recipient: User) -> bool:
    """A message from someone the recipient does not follow (and is not friends with)
    goes to the recipient's message requests."""
    rel = policy.relationship(recipient, sender)
    return not (rel.following or rel.friends)


def _initial_state(*, sender: User, recipient: User) -> str:
    if _lands_in_requests(sender=sender, recipient=recipient):
        return Participant.State.REQUEST
    return Participant.State.ACTIVE


# --- conversations ---------------------------------------------------------------------------
@transaction.atomic
def conversation_direct_start(*, actor: User, other_id: int) -> Conversation:
    """The 1:1 conversation between `actor` and `other_id`, created if needed (one per pair).

    Raises NotFound when the other user is missing or hidden from `actor` (blocks look like
    absence), PermissionDenied when `actor` may not message them ("who can message me",
    suspended accounts) and no conversation exists yet, Invalid for oneself. The other
    side sees the conversation only when the first message arrives: it starts in their
    requests unless they follow `actor`. Emits nothing by itself.
    """
    if int(other_id) == actor.pk:
        raise Invalid("You cannot start a conversation with yourself.", field="user_id")
    other = User.objects.select_related("settings").filter(pk=other_id).first()
    if other is None or not policy.can_view_profile(actor, other):
        raise NotFound("User not found.")
    key = Conversation.direct_key_for(actor.pk, other.pk)
    existing = Conversation.objects.filter(direct_key=key).first()
    if existing is not None:
        if policy.is_blocked_either_way(actor.pk, other.pk):
            raise NotFound("User not found.")
        return existing
    if not policy.can_message(actor, other):
        raise PermissionDenied("This person does not accept messages from you.", code="cannot_message")
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                kind=Conversation.Kind.DIRECT, direct_key=key, created_by=actor, member_count=2
            )
    except IntegrityError:  # the other side started it at the same moment
        return Conversation.objects.get(direct_key=key)
    Participant.objects.create(conversation=conversation, user=actor, state=Participant.State.ACTIVE)
    other_state = (
        Participant.State.REQUEST if _lands_in_requests(sender=actor, recipient=other) else Participant.State.ACTIVE
    )
    Participant.objects.create(conversation=conversation, user=other, state=other_state)
    return conversation


def _check_can_add(actor: User, user_ids: Sequence[int]) -> list[User]:
    position = {int(uid): index for index, uid in enumerate(user_ids)}
    # In the order given: members join (and inherit admin when the last admin leaves) in it.
    users = sorted(User.objects.select_related("settings").filter(pk__in=user_ids), key=lambda u: position[u.pk])
    if len(users) != len(set(user_ids)):
        raise NotFound("One of the users does not exist.", field="user_ids")
    for user in users:
        if not policy.can_message(actor, user):
            raise PermissionDenied(f"@{user.handle} cannot be added to a chat by you.", code="cannot_message")
    return users


@transaction.atomic
def conversation_group_create(*, actor: User, name: str, member_ids: Sequence[int]) -> Conversation:
    """A group chat named `name` with `actor` (its admin) and `member_ids`.

    At most MESSAGING_GROUP_MAX_MEMBERS members including `actor`. Each member must accept
    messages from `actor`; a member who does not follow `actor` finds the group in their
    requests. Raises Invalid, NotFound, PermissionDenied. After commit: "conversation.updated".
    """
    name = (name or "").strip()
    if len(name) > MAX_GROUP_NAME_LENGTH:
        raise Invalid(f"Group names are limited to {MAX_GROUP_NAME_LENGTH} characters.", field="name")
    wanted = [int(u) for u in dict.fromkeys(member_ids) if int(u) != actor.pk]
    if not wanted:
        raise Invalid("A group needs at least one other member.", field="member_ids")
    if len(wanted) + 1 > settings.MESSAGING_GROUP_MAX_MEMBERS:
        raise Invalid(f"Groups are limited to {settings.MESSAGING_GROUP_MAX_MEMBERS} members.", field="member_ids")
    users = _check_can_add(actor, wanted)
    conversation = Conversation.objects.create(
        kind=Conversation.Kind.GROUP, name=name, created_by=actor, member_count=len(users) + 1
    )
    Participant.objects.create(
        conversation=conversation, user=actor, role=Participant.Role.ADMIN, state=Participant.State.ACTIVE
    )
    Participant.objects.bulk_create(
        Participant(
            conversation=conversation,
            user=user,
            state=_initial_state(sender=actor, recipient=user),
        )
        for user in users
    )
    _publish_conversation_updated(conversation)
    return conversation


def _require_group_admin(*, actor: User, conversation_id: int) -> Participant:
    participant = participant_get(user=actor, conversation_id=conversation_id, lock=True)
    if participant.conversation.kind != Conversation.Kind.GROUP:
        raise Invalid("Only group conversations have members to manage.", field="conversation_id")
    if participant.role != Participant.Role.ADMIN:
        raise PermissionDenied("Only group admins can do that.", code="not_admin")
    return participant


def _refresh_member_count(conversation: Conversation) -> None:
    count = conversation.participants.exclude(state=Participant.State.LEFT).count()
    Conversation.objects.filter(pk=conversation.pk).update(member_count=count)
    conversation.member_count = count


@transaction.atomic
def group_members_add(*, actor: User, conversation_id: int, user_ids: Sequence[int]) -> Conversation:
    """An admin adds `user_ids` (re-adding people who left). Raises PermissionDenied for
    non-admins or people who do not accept messages from `actor`, Invalid past the size cap.
    After commit: "conversation.updated" to the new audience."""
    admin = _require_group_admin(actor=actor, conversation_id=conversation_id)
    conversation = Conversation.objects.select_for_update().get(pk=admin.conversation_id)
    current = {p.user_id: p for p in conversation.participants.all()}
    wanted = [
        int(u) for u in dict.fromkeys(user_ids)
        if int(u) not in current or current[int(u)].state == Participant.State.LEFT
    ]
    if not wanted:
        return conversation
    active = sum(1 for p in current.values() if p.state != Participant.State.LEFT)
    if active + len(wanted) > settings.MESSAGING_GROUP_MAX_MEMBERS:
        raise Invalid(f"Groups are limited to {settings.MESSAGING_GROUP_MAX_MEMBERS} members.", field="user_ids")
    for user in _check_can_add(actor, wanted):
        state = _initial_state(sender=actor, recipient=user)
        if user.pk in current:
            Participant.objects.filter(pk=current[user.pk].pk).update(
                state=state, role=Participant.Role.MEMBER, left_at=None, joined_at=timezone.now()
            )
        else:
            Participant.objects.create(conversation=conversation, user=user, state=state)
    _refresh_member_count(conversation)
    _publish_conversation_updated(conversation)
    return conversation


def _leave(conversation: Conversation, participant: Participant) -> None:
    Participant.objects.filter(pk=participant.pk).update(
        state=Participant.State.LEFT, role=Participant.Role.MEMBER, left_at=timezone.now()
    )
    remaining = conversation.participants.exclude(state=Participant.State.LEFT)
    if participant.role == Participant.Role.ADMIN and not remaining.filter(role=Participant.Role.ADMIN).exists():
        # A group always keeps an admin: the longest-standing member inherits the role.
        successor = remaining.order_by("joined_at", "id").first()
        if successor is not None:
            Participant.objects.filter(pk=successor.pk).update(role=Participant.Role.ADMIN)
    _refresh_member_count(conversation)


@transaction.atomic
def group_member_remove(*, actor: User, conversation_id: int, user_id: int) -> Conversation:
    """An admin removes `user_id` from the group. Removing oneself is `conversation_leave`.
    Raises PermissionDenied (not admin), NotFound (not a member). After commit:
    "conversation.updated" to the remaining members and the removed one."""
    if int(user_id) == actor.pk:
        raise Invalid("Use leave to leave a group.", field="user_id")
    admin = _require_group_admin(actor=actor, conversation_id=conversation_id)
    conversation = Conversation.objects.select_for_update().get(pk=admin.conversation_id)
    member = conversation.participants.filter(user_id=user_id).exclude(state=Participant.State.LEFT).first()
    if member is None:
        raise NotFound("That person is not in this group.")
    _leave(conversation, member)
    _publish_conversation_updated(conversation, extra_user_ids=[int(user_id)])
    return conversation


@transaction.atomic
def group_admin_set(*, actor: User, conversation_id: int, user_id: int, is_admin: bool) -> Conversation:
    """An admin makes `user_id` an admin or a plain member. A group never loses its last
    admin this way (Conflict). After commit: "conversation.updated"."""
    admin = _require_group_admin(actor=actor, conversation_id=conversation_id)
    conversation = Conversation.objects.select_for_update().get(pk=admin.conversation_id)
    member = conversation.participants.filter(user_id=user_id).exclude(state=Participant.State.LEFT).first()
    if member is None:
        raise NotFound("That person is not in this group.")
    role = Participant.Role.ADMIN if is_admin else Participant.Role.MEMBER
    if member.role == role:
        return conversation
    if not is_admin and conversation.participants.filter(role=Participant.Role.ADMIN).exclude(
        state=Participant.State.LEFT
    ).count() == 1:
        raise Conflict("A group needs at least one admin.", code="last_admin")
    Participant.objects.filter(pk=member.pk).update(role=role)
    _publish_conversation_updated(conversation)
    return conversation


@transaction.atomic
def group_update(
    *, actor: User, conversation_id: int, name: str | None = None, avatar_id: int | None = None
) -> Conversation:
    """An admin renames the group and/or sets its avatar (one of the admin's own media).
    After commit: "conversation.updated"."""
    from media import selectors as media_selectors

    admin = _require_group_admin(actor=actor, conversation_id=conversation_id)
    conversation = Conversation.objects.select_for_update().get(pk=admin.conversation_id)
    fields = []
    if name is not None:
        name = name.strip()
        if len(name) > MAX_GROUP_NAME_LENGTH:
            raise Invalid(f"Group names are limited to {MAX_GROUP_NAME_LENGTH} characters.", field="name")
        conversation.name = name
        fields.append("name")
    if avatar_id is not None:
        assets = media_selectors.media_list_owned_by(owner=actor, media_ids=[avatar_id])
        if not assets or assets[0].kind != "image":
            raise Invalid("The avatar must be one of your images.", field="avatar_id")
        conversation.avatar = assets[0]
        fields.append("avatar")
    if fields:
        conversation.save(update_fields=fields)
        _publish_conversation_updated(conversation)
    return conversation


@transaction.atomic
def conversation_leave(*, actor: User, conversation_id: int) -> None:
    """`actor` leaves a group (anyone may). A 1:1 cannot be left; decline or block instead.
    After commit: "conversation.updated" to the remaining members and to `actor`."""
    participant = participant_get(user=actor, conversation_id=conversation_id, lock=True)
    conversation = Conversation.objects.select_for_update().get(pk=participant.conversation_id)
    if conversation.kind != Conversation.Kind.GROUP:
        raise Invalid("Only group conversations can be left.", field="conversation_id")
    _leave(conversation, participant)
    _publish_conversation_updated(conversation, extra_user_ids=[actor.pk])


# --- message requests ------------------------------------------------------------------------
def _request_participant(*, actor: User, conversation_id: int) -> Participant:
    participant = participant_get(user=actor, conversation_id=conversation_id, lock=True)
    if participant.state != Participant.State.REQUEST:
        raise NotFound("Message request not found.")
    return participant


@transaction.atomic
def message_request_accept(*, actor: User, conversation_id: int) -> Participant:
    """Move a message request into `actor`'s inbox. After commit: "conversation.updated"."""
    participant = _request_participant(actor=actor, conversation_id=conversation_id)
    Participant.objects.filter(pk=participant.pk).update(state=Participant.State.ACTIVE)
    participant.state = Participant.State.ACTIVE
    _publish_conversation_updated(participant.conversation)
    return participant


@transaction.atomic
def message_request_delete(*, actor: User, conversation_id: int) -> None:
    """Delete a message request: it leaves `actor`'s requests; the sender is not told
    (their side stays as it was). A later message from them lands in requests again."""
    participant = _request_participant(actor=actor, conversation_id=conversation_id)
    Participant.objects.filter(pk=participant.pk).update(
        state=Participant.State.LEFT, left_at=timezone.now(), last_read_message_id=Greatest(
            F("last_read_message_id"), participant.conversation.last_message_id or 0
        )
    )
    _publish("conversation.deleted", {"conversation_id": str(conversation_id)}, user_ids=[actor.pk], user_id=actor.pk)


@transaction.atomic
def message_request_block(*, actor: User, conversation_id: int) -> None:
    """Delete a message request and block its sender (groups: the person who added `actor`)."""
    from social import services as social_services

    participant = _request_participant(actor=actor, conversation_id=conversation_id)
    conversation = participant.conversation
    if conversation.kind == Conversation.Kind.DIRECT:
        other = _other_participant(conversation, actor.pk)
        target = other.user if other else None
    else:
        target = conversation.created_by
    message_request_delete(actor=actor, conversation_id=conversation_id)
    if target is not None and target.pk != actor.pk:
        social_services.block_create(actor=actor, target=target)


# --- messages --------------------------------------------------------------------------------
def _shared_post_check(actor: User, post_id: int) -> None:
    try:
        from content import selectors as content_selectors

        getter = content_selectors.post_get_visible
    except (ImportError, AttributeError):
        raise Invalid("Sharing posts is not available yet.", field="shared_post_id") from None
    getter(viewer=actor, post_id=post_id)  # NotFound when missing or hidden from the sender


def _shared_story_quote(actor: User, story_id: int) -> dict[str, Any]:
    try:
        from content import selectors as content_selectors

        getter = content_selectors.story_get_visible
    except (ImportError, AttributeError):
        raise Invalid("Sharing stories is not available yet.", field="shared_story_id") from None
    story = getter(viewer=actor, story_id=story_id)
    return {"story_id": str(story.pk), "author_id": str(story.author_id)}


def _clean_client_id(client_id: str | None) -> str:
    client_id = (client_id or "").strip()
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise Invalid(f"client_id is limited to {MAX_CLIENT_ID_LENGTH} characters.", field="client_id")
    return client_id


def _sender_membership(*, actor: User, conversation_id: int) -> tuple[Participant, list[Participant]]:
    """`actor`'s membership and the other participants, in one query (the send hot path)."""
    rows = list(
        Participant.objects.filter(conversation_id=conversation_id).select_related("conversation", "user__settings")
    )
    mine = next((p for p in rows if p.user_id == actor.pk), None)
    if mine is None or mine.state == Participant.State.LEFT:
        raise NotFound("Conversation not found.")
    return mine, [p for p in rows if p.user_id != actor.pk]


def _sender_may_post(*, actor: User, conversation: Conversation, others: list[Participant]) -> None:
    """Raise PermissionDenied unless `actor` may post to `conversation` now."""
    if conversation.kind == Conversation.Kind.DIRECT:
        other = others[0] if others else None
        if other is None or policy.is_blocked_either_way(actor.pk, other.user_id):
            raise PermissionDenied("You cannot message this person.", code="cannot_message")
        if other.state != Participant.State.ACTIVE and not policy.can_message(actor, other.user):
            # They never accepted: "who can message me" still applies to every new message.
            raise PermissionDenied("This person does not accept messages from you.", code="cannot_message")


@transaction.atomic
def message_send(
    *,
    actor: User,
    conversation_id: int,
    body: str = "",
    client_id: str = "",
    media_ids: Sequence[int] = (),
    shared_post_id: int | None = None,
    shared_story_id: int | None = None,
    reply_to_id: int | None = None,
    kind: str | None = None,
    quote: dict[str, Any] | None = None,
) -> Message:
    """Send a message to a conversation `actor` belongs to.

    Idempotent by `client_id`: a retried send with the same id returns the original
    message and emits nothing (unique constraint on (sender, client_id)). Text is checked
    by moderation (Invalid "content_rejected" for a reject; a held text is stored hidden
    from the others and queued for review); sends count against the "dms" velocity cap
    (RateLimited). Replying to a message request accepts it. Raises NotFound, Invalid,
    PermissionDenied (blocks, "who can message me" before they accepted).
    After commit: live "message.created" to every participant (the sender's devices too),
    and the domain event "message.created" {message_id} (notifications and push).
    """
    from moderation import services as moderation_services

    client_id = _clean_client_id(client_id)
    if client_id:
        existing = Message.objects.filter(sender_id=actor.pk, client_id=client_id).first()
        if existing is not None:
            if existing.conversation_id != int(conversation_id):
                raise Conflict("This client_id was already used in another conversation.", field="client_id")
            return existing
    body = body or ""
    if len(body) > settings.MESSAGING_MAX_BODY_LENGTH:
        raise Invalid(f"Messages are limited to {settings.MESSAGING_MAX_BODY_LENGTH} characters.", field="body")
    media_ids = list(dict.fromkeys(int(m) for m in media_ids or ()))
    if len(media_ids) > MAX_ATTACHMENTS:
        raise Invalid(f"A message has at most {MAX_ATTACHMENTS} attachments.", field="media_ids")
    if not body.strip() and not media_ids and shared_post_id is None and shared_story_id is None:
        raise Invalid("A message needs text, an attachment or something shared.", field="body")

    participant, others = _sender_membership(actor=actor, conversation_id=conversation_id)
    conversation = participant.conversation
    _sender_may_post(actor=actor, conversation=conversation, others=others)

    attachments = []
    if media_ids:
        from media import selectors as media_selectors

        attachments = media_selectors.media_list_owned_by(owner=actor, media_ids=media_ids)
        if len(attachments) != len(media_ids):
            raise Invalid("One of the attachments does not exist.", field="media_ids")
    reply_to = None
    if reply_to_id is not None:
        reply_to = Message.objects.filter(
            pk=reply_to_id, conversation_id=conversation.pk, unsent_at__isnull=True
        ).first()
        if reply_to is None or (reply_to.held and reply_to.sender_id != actor.pk):
            raise Invalid("The message you reply to does not exist.", field="reply_to_id")
    quote = dict(quote or {})
    if shared_post_id is not None:
        _shared_post_check(actor, shared_post_id)
    if shared_story_id is not None:
        quote = _shared_story_quote(actor, shared_story_id)

    moderation_services.velocity_check(actor=actor, action="dms")
    verdict = moderation_services.text_enforce(actor=actor, text=body, context="message", field="body")

    if kind is None:
        kind = (
            Message.Kind.STORY if shared_story_id is not None
            else Message.Kind.POST if shared_post_id is not None
            else Message.Kind.MEDIA if attachments
            else Message.Kind.TEXT
        )
    message = Message(
        conversation=conversation,
        sender=actor,
        client_id=client_id,
        kind=kind,
        body=body,
        shared_post_id=shared_post_id,
        shared_story_id=shared_story_id,
        quote=quote,
        reply_to=reply_to,
        held=verdict.held,
    )
    if client_id:
        try:
            with transaction.atomic():
                message.save(force_insert=True)
        except IntegrityError:
            # The same client_id raced in from another connection: that one won.
            existing = Message.objects.filter(sender_id=actor.pk, client_id=client_id).first()
            if existing is None:
                raise
            return existing
    else:
        message.save(force_insert=True)
    if attachments:
        message.attachments.set(attachments)
    payload = message_payload(message, attachments=attachments)

    if verdict.held:
        moderation_services.case_open_for_hold(target_type="message", target_id=message.pk, verdict=verdict)
        # Only the sender sees a held message until a moderator clears it.
        _publish("message.created", payload, user_ids=[actor.pk], user_id=actor.pk)
        return message

    now = timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(last_message_id=message.pk, last_activity_at=now)
    # The sender has read everything up to their own message; replying accepts a request.
    Participant.objects.filter(pk=participant.pk).update(
        last_read_message_id=Greatest(F("last_read_message_id"), message.pk),
        last_read_at=now,
        state=Participant.State.ACTIVE,
    )
    if conversation.kind == Conversation.Kind.DIRECT:
        for other in others:
            if other.state == Participant.State.LEFT:
                # They had deleted the request or the chat: it comes back as a request
                # unless they follow the sender.
                state = (
                    Participant.State.REQUEST if _lands_in_requests(sender=actor, recipient=other.user)
                    else Participant.State.ACTIVE
                )
                Participant.objects.filter(pk=other.pk).update(state=state, left_at=None)
    # In a 1:1 the other side always receives (a deleted request was revived above).
    is_direct = conversation.kind == Conversation.Kind.DIRECT
    audience = [actor.pk] + [o.user_id for o in others if is_direct or o.state != Participant.State.LEFT]
    _publish("message.created", payload, user_ids=audience, conversation_id=conversation.pk)
    events.emit_on_commit("message.created", message_id=message.pk)
    return message


@transaction.atomic
def message_edit(*, actor: User, message_id: int, body: str) -> Message:
    """The sender edits a message's text within MESSAGING_EDIT_WINDOW_SECONDS of sending.

    Raises NotFound, PermissionDenied (not the sender; code "edit_window_closed" after the
    window), Invalid (empty, too long, rejected by moderation, unsent).
    After commit: "message.updated" to every participant.
    """
    from moderation import services as moderation_services

    message, _ = _message_for_member(user=actor, message_id=message_id, lock=True)
    if message.sender_id != actor.pk:
        raise PermissionDenied("Only the sender can edit a message.")
    if message.unsent_at is not None:
        raise Invalid("This message was unsent.", field="message_id")
    if timezone.now() - message.created_at > timedelta(seconds=settings.MESSAGING_EDIT_WINDOW_SECONDS):
        raise PermissionDenied("Messages can only be edited for 15 minutes.", code="edit_window_closed")
    body = body or ""
    if len(body) > settings.MESSAGING_MAX_BODY_LENGTH:
        raise Invalid(f"Messages are limited to {settings.MESSAGING_MAX_BODY_LENGTH} characters.", field="body")
    if not body.strip() and message.kind == Message.Kind.TEXT:
        raise Invalid("A text message cannot be empty; unsend it instead.", field="body")
    verdict = moderation_services.text_enforce(actor=actor, text=body, context="message", field="body")
    if verdict.held:
        raise Invalid("This text cannot be sent as an edit.", code="content_held", field="body")
    message.body = body
    message.edited_at = timezone.now()
    message.save(update_fields=["body", "edited_at"])
    payload = message_payload(message)
    if message.held:
        _publish("message.updated", payload, user_ids=[actor.pk], user_id=actor.pk)
    else:
        _publish("message.updated", payload, user_ids=_audience(message.conversation_id),
                 conversation_id=message.conversation_id)
    return message


@transaction.atomic
def message_delete_for_me(*, actor: User, message_id: int) -> None:
    """Hide one message from `actor` only (all their devices). Idempotent.
    After commit: "message.deleted" {scope: "me"} to `actor`."""
    message, _ = _message_for_member(user=actor, message_id=message_id)
    _, created = MessageHidden.objects.get_or_create(message=message, user=actor)
    if created:
        payload = {"message_id": str(message.pk), "conversation_id": str(message.conversation_id), "scope": "me"}
        _publish("message.deleted", payload, user_ids=[actor.pk], user_id=actor.pk)


@transaction.atomic
def message_unsend(*, actor: User, message_id: int) -> None:
    """The sender unsends a message for everyone: its text, attachments, quote and
    reactions are removed and a tombstone stays (so replies and `/sync` stay coherent).
    Idempotent. Raises PermissionDenied for anyone but the sender.
    After commit: "message.deleted" {scope: "everyone"} to every participant."""
    message, _ = _message_for_member(user=actor, message_id=message_id, lock=True)
    if message.sender_id != actor.pk:
        raise PermissionDenied("Only the sender can unsend a message.")
    if message.unsent_at is not None:
        return
    message.unsent_at = timezone.now()
    message.body = ""
    message.quote = {}
    message.shared_post_id = None
    message.shared_story_id = None
    message.save(update_fields=["unsent_at", "body", "quote", "shared_post_id", "shared_story_id"])
    message.attachments.clear()
    MessageReaction.objects.filter(message=message).delete()
    payload = {"message_id": str(message.pk), "conversation_id": str(message.conversation_id), "scope": "everyone"}
    if message.held:
        _publish("message.deleted", payload, user_ids=[actor.pk], user_id=actor.pk)
    else:
        _publish("message.deleted", payload, user_ids=_audience(message.conversation_id),
                 conversation_id=message.conversation_id)


def _clean_emoji(emoji: str) -> str:
    emoji = (emoji or "").strip()
    if not emoji or len(emoji) > MAX_EMOJI_LENGTH or any(ch.isalnum() or ch.isspace() for ch in emoji):
        raise Invalid("Send one emoji.", field="emoji")
    return emoji


@transaction.atomic
def message_react(*, actor: User, message_id: int, emoji: str) -> MessageReaction:
    """`actor` reacts to a message with `emoji` (one reaction per person; reacting again
    replaces it). After commit: "reaction.added" to every participant."""
    emoji = _clean_emoji(emoji)
    message, participant = _message_for_member(user=actor, message_id=message_id)
    if message.unsent_at is not None or message.held:
        raise Invalid("You cannot react to this message.", field="message_id")
    if participant.state != Participant.State.ACTIVE:
        raise PermissionDenied("Accept the message request first.", code="request_pending")
    reaction, created = MessageReaction.objects.get_or_create(message=message, user=actor, defaults={"emoji": emoji})
    if not created:
        if reaction.emoji == emoji:
            return reaction
        reaction.emoji = emoji
        reaction.save(update_fields=["emoji"])
    payload = {
        "message_id": str(message.pk),
        "conversation_id": str(message.conversation_id),
        "user_id": str(actor.pk),
        "emoji": emoji,
    }
    _publish("reaction.added", payload, user_ids=_audience(message.conversation_id),
             conversation_id=message.conversation_id)
    return reaction


@transaction.atomic
def message_unreact(*, actor: User, message_id: int) -> None:
    """Remove `actor`'s reaction. Idempotent. After commit: "reaction.removed"."""
    message, _ = _message_for_member(user=actor, message_id=message_id)
    deleted, _ = MessageReaction.objects.filter(message=message, user=actor).delete()
    if deleted:
        payload = {"message_id": str(message.pk), "conversation_id": str(message.conversation_id),
                   "user_id": str(actor.pk)}
        _publish("reaction.removed", payload, user_ids=_audience(message.conversation_id),
                 conversation_id=message.conversation_id)


# --- read state ------------------------------------------------------------------------------
@transaction.atomic
def conversation_mark_read(*, actor: User, conversation_id: int, message_id: int | None = None) -> Participant:
    """Move `actor`'s read marker to `message_id` (default: the latest message). The marker
    never moves backwards. Message notifications of this conversation are marked read.

    After commit: "conversation.read" {conversation_id, user_id, last_read_message_id,
    read_at}: to every participant when `actor` has read receipts on, otherwise only to
    `actor`'s own devices (their unread counts) — the others never learn it.
    """
    from messaging import notifications

    participant = participant_get(user=actor, conversation_id=conversation_id, lock=True)
    conversation = participant.conversation
    target = conversation.last_message_id or 0
    if message_id is not None:
        if not Message.objects.filter(pk=message_id, conversation_id=conversation.pk).exists():
            raise Invalid("That message is not in this conversation.", field="message_id")
        target = int(message_id)
    if target <= participant.last_read_message_id:
        return participant
    now = timezone.now()
    participant.last_read_message_id = target
    participant.last_read_at = now
    participant.save(update_fields=["last_read_message_id", "last_read_at"])
    notifications.notifications_mark_read_for_target(
        recipient=actor, type="message", target_type="conversation", target_id=conversation.pk
    )
    payload = {
        "conversation_id": str(conversation.pk),
        "user_id": str(actor.pk),
        "last_read_message_id": str(target),
        "read_at": now.isoformat(),
    }
    if _read_receipts_on(actor):
        _publish("conversation.read", payload, user_ids=_audience(conversation.pk), conversation_id=conversation.pk)
    else:
        _publish("conversation.read", payload, user_ids=[actor.pk], user_id=actor.pk)
    return participant


def _read_receipts_on(user: User) -> bool:
    from accounts.models import UserSettings

    return bool(UserSettings.objects.filter(user_id=user.pk).values_list("read_receipts", flat=True).first() or False)


# --- typing and presence (ephemeral: Redis only, sent at once) ---------------------------------
def typing_start(*, actor: User, conversation_id: int) -> bool:
    """Announce that `actor` is typing. Throttled to one event per sender per conversation
    per MESSAGING_TYPING_THROTTLE_MS (Redis SET NX PX); returns False when throttled (no
    event). Raises NotFound when `actor` is not in the conversation.

    Sends "typing" {conversation_id, user_id, expires_at, expires_in_ms} at once to the
    other participants' sockets: clients hide the indicator at `expires_at` unless a new
    event arrives (nothing is stored in Postgres; there is nothing to sync).
    """
    participant = participant_get(user=actor, conversation_id=conversation_id)
    if participant.state != Participant.State.ACTIVE:
        raise PermissionDenied("Accept the message request first.", code="request_pending")
    expires = live.typing_claim(participant.conversation_id, actor.pk)
    if expires is None:
        return False
    payload = {
        "conversation_id": str(participant.conversation_id),
        "user_id": str(actor.pk),
        "expires_at": datetime.fromtimestamp(expires / 1000, tz=dt_timezone.utc).isoformat(),
        "expires_in_ms": settings.MESSAGING_TYPING_TTL_MS,
    }
    broadcast_now([uid for uid in _audience(participant.conversation_id) if uid != actor.pk], "typing", payload)
    return True


def _activity_status_visible(user_id: int) -> bool:
    from accounts.models import UserSettings

    value = UserSettings.objects.filter(user_id=user_id).values_list("show_activity_status", flat=True).first()
    return bool(value) if value is not None else True


def _presence_contacts(user_id: int) -> list[int]:
    """Who is told about `user_id`'s presence: people they have an accepted 1:1 with."""
    mine = Participant.objects.filter(
        user_id=user_id, state=Participant.State.ACTIVE, conversation__kind=Conversation.Kind.DIRECT
    ).values("conversation_id")
    from social.models import Block

    return list(
        Participant.objects.filter(conversation_id__in=mine, state=Participant.State.ACTIVE)
        .exclude(user_id=user_id)
        .exclude(user_id__in=Block.objects.filter(blocker_id=user_id).values("blocked_id"))
        .exclude(user_id__in=Block.objects.filter(blocked_id=user_id).values("blocker_id"))
        .values_list("user_id", flat=True)[:1000]
    )


def _presence_broadcast(user_id: int, *, online: bool) -> None:
    if not _activity_status_visible(user_id):
        return  # activity status off: nobody is told, online or not
    payload = {
        "user_id": str(user_id),
        "status": "online" if online else "offline",
        "last_seen_at": timezone.now().isoformat(),
    }
    contacts = _presence_contacts(user_id)
    if contacts:
        broadcast_now(contacts, "presence", payload)


def presence_heartbeat(*, user: User, channel_name: str | None = None) -> bool:
    """Keep `user` online for MESSAGING_PRESENCE_TTL_S more seconds (and their socket live).
    Returns True when they came online, which sends "presence" {status: "online"} to their
    contacts (unless they turned activity status off)."""
    came_online = live.presence_touch(user.pk, channel_name)
    if came_online:
        _presence_broadcast(user.pk, online=True)
    return came_online


def presence_offline(*, user: User) -> None:
    """The user's last socket closed: offline now, "last seen" now; contacts are told."""
    live.presence_clear(user.pk)
    _presence_broadcast(user.pk, online=False)


# --- moderation outcomes (from moderation's events) ------------------------------------------
_REMOVING_DECISIONS = {"remove", "suspend_1d", "suspend_7d", "suspend_30d", "suspend_permanent"}
_CLEARING_DECISIONS = {"dismiss", "restored"}


@transaction.atomic
def message_moderation_apply(*, message_id: int, decision: str) -> Message | None:
    """Apply a moderator's decision (or an automatic hide) to a message. Idempotent.

    "hidden" (enough reports: pending review) and removing decisions take the message away
    from the other participants ("message.deleted" {scope: "everyone", reason}); removal
    also blanks it like an unsend. "dismiss" / "restored" release a held or hidden message
    to everyone ("message.created"), as if just delivered. Other decisions (warn, limit)
    concern the account, not the message.
    """
    message = Message.objects.select_for_update().filter(pk=message_id).first()
    if message is None or message.unsent_at is not None:
        return message
    others_payload = {"message_id": str(message.pk), "conversation_id": str(message.conversation_id),
                      "scope": "everyone"}
    if decision == "hidden" or decision in _REMOVING_DECISIONS:
        was_visible = not message.held
        message.held = True
        fields = ["held"]
        if decision != "hidden":
            message.unsent_at = timezone.now()
            message.body = ""
            message.quote = {}
            fields += ["unsent_at", "body", "quote"]
        message.save(update_fields=fields)
        if decision != "hidden":
            message.attachments.clear()
            MessageReaction.objects.filter(message=message).delete()
        payload = {**others_payload, "reason": "moderation"}
        if was_visible or decision != "hidden":
            _publish("message.deleted", payload, user_ids=_audience(message.conversation_id),
                     conversation_id=message.conversation_id)
    elif decision in _CLEARING_DECISIONS and message.held:
        message.held = False
        message.save(update_fields=["held"])
        Conversation.objects.filter(pk=message.conversation_id).filter(
            Q(last_message_id__isnull=True) | Q(last_message_id__lt=message.pk)
        ).update(last_message_id=message.pk, last_activity_at=timezone.now())
        _publish("message.created", message_payload(message), user_ids=_audience(message.conversation_id),
                 conversation_id=message.conversation_id)
        events.emit_on_commit("message.created", message_id=message.pk)
    return message
