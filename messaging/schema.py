"""GraphQL for messaging: the same selectors and services (and the same JSON shapes) as REST.

Object types resolve from the payload dicts of messaging/payloads.py, so a message has the
same fields everywhere. Mutations return a typed `errors` list (DairaMutation).
"""

from __future__ import annotations

import graphene

from daira.lib.errors import Invalid
from daira.lib.graphql import DairaMutation, require_user
from daira.lib.pagination import parse_limit
from messaging import notifications, selectors, services
from messaging.payloads import message_payload

MAX_ID = (1 << 63) - 1


def _gid(value, field: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Invalid(f"{field} must be an id.", field=field) from None
    if not 0 < number <= MAX_ID:
        raise Invalid(f"{field} must be an id.", field=field)
    return number


class ChatAttachment(graphene.ObjectType):
    id = graphene.ID(required=True)
    kind = graphene.String(required=True)


class ChatReaction(graphene.ObjectType):
    user_id = graphene.ID(required=True)
    emoji = graphene.String(required=True)


class ChatMessage(graphene.ObjectType):
    id = graphene.ID(required=True)
    conversation_id = graphene.ID(required=True)
    sender_id = graphene.ID()
    client_id = graphene.String(required=True)
    kind = graphene.String(required=True)
    body = graphene.String(required=True)
    attachments = graphene.List(graphene.NonNull(ChatAttachment), required=True)
    shared_post_id = graphene.ID()
    shared_story_id = graphene.ID()
    quote = graphene.JSONString(required=True)
    reply_to_id = graphene.ID()
    created_at = graphene.String(required=True)
    edited_at = graphene.String()
    unsent = graphene.Boolean(required=True)
    held = graphene.Boolean(required=True)
    reactions = graphene.List(graphene.NonNull(ChatReaction))


class ChatParticipant(graphene.ObjectType):
    user_id = graphene.ID(required=True)
    role = graphene.String(required=True)
    state = graphene.String(required=True)


class ChatReadState(graphene.ObjectType):
    user_id = graphene.ID(required=True)
    last_read_message_id = graphene.ID(required=True)


class ChatConversation(graphene.ObjectType):
    id = graphene.ID(required=True)
    kind = graphene.String(required=True)
    name = graphene.String(required=True)
    avatar_id = graphene.ID()
    member_count = graphene.Int(required=True)
    last_activity_at = graphene.String()
    participants = graphene.List(graphene.NonNull(ChatParticipant), required=True)
    state = graphene.String(required=True)
    role = graphene.String(required=True)
    unread_count = graphene.Int(required=True)
    last_read_message_id = graphene.ID(required=True)
    last_message = graphene.Field(ChatMessage)
    read_states = graphene.List(graphene.NonNull(ChatReadState), required=True)


class InboxNotification(graphene.ObjectType):
    id = graphene.ID(required=True)
    type = graphene.String(required=True)
    target_type = graphene.String(required=True)
    target_id = graphene.ID()
    last_actor_id = graphene.ID()
    actor_count = graphene.Int(required=True)
    data = graphene.JSONString(required=True)
    text = graphene.String(required=True)
    read = graphene.Boolean(required=True)
    created_at = graphene.String(required=True)
    updated_at = graphene.String(required=True)


class ChatConversationPage(graphene.ObjectType):
    results = graphene.List(graphene.NonNull(ChatConversation), required=True)
    next_cursor = graphene.String()


class ChatMessagePage(graphene.ObjectType):
    results = graphene.List(graphene.NonNull(ChatMessage), required=True)
    next_cursor = graphene.String()


class InboxNotificationPage(graphene.ObjectType):
    results = graphene.List(graphene.NonNull(InboxNotification), required=True)
    next_cursor = graphene.String()
    unread_count = graphene.Int(required=True)


class ChatUnreadCounts(graphene.ObjectType):
    messages = graphene.Int(required=True)
    conversations = graphene.Int(required=True)
    requests = graphene.Int(required=True)
    notifications = graphene.Int(required=True)


class Query(graphene.ObjectType):
    conversations = graphene.Field(ChatConversationPage, required=True, cursor=graphene.String(), limit=graphene.Int(),
                                   requests=graphene.Boolean())
    conversation = graphene.Field(ChatConversation, required=True, id=graphene.ID(required=True))
    messages = graphene.Field(ChatMessagePage, required=True, conversation_id=graphene.ID(required=True),
                              before=graphene.String(), after=graphene.String(), limit=graphene.Int())
    unread_counts = graphene.Field(ChatUnreadCounts, required=True)
    notifications = graphene.Field(InboxNotificationPage, required=True, cursor=graphene.String(), limit=graphene.Int(),
                                   unread_only=graphene.Boolean())
    notification_preferences = graphene.JSONString(required=True)
    sync = graphene.JSONString(required=True, since=graphene.String(), limit=graphene.Int())
    presence = graphene.JSONString(required=True, user_ids=graphene.List(graphene.NonNull(graphene.ID), required=True))

    @staticmethod
    def resolve_conversations(root, info, cursor=None, limit=None, requests=False):
        page = selectors.conversation_list(viewer=require_user(info), cursor=cursor, limit=parse_limit(limit),
                                           requests=bool(requests))
        return ChatConversationPage(results=[row.as_dict() for row in page.items], next_cursor=page.next_cursor)

    @staticmethod
    def resolve_conversation(root, info, id):
        return selectors.conversation_get(viewer=require_user(info), conversation_id=_gid(id, "id")).as_dict()

    @staticmethod
    def resolve_messages(root, info, conversation_id, before=None, after=None, limit=None):
        user = require_user(info)
        page = selectors.message_history(viewer=user, conversation_id=_gid(conversation_id, "conversation_id"),
                                         before=before, after=after, limit=parse_limit(limit, default=30))
        return ChatMessagePage(results=selectors.messages_render(page.items), next_cursor=page.next_cursor)

    @staticmethod
    def resolve_unread_counts(root, info):
        return ChatUnreadCounts(**selectors.unread_totals(viewer=require_user(info)))

    @staticmethod
    def resolve_notifications(root, info, cursor=None, limit=None, unread_only=False):
        user = require_user(info)
        page = selectors.notification_list(viewer=user, cursor=cursor, limit=parse_limit(limit),
                                           unread_only=bool(unread_only))
        return InboxNotificationPage(results=selectors.notifications_render(viewer=user, rows=page.items),
                                next_cursor=page.next_cursor, unread_count=notifications.unread_count(user_id=user.pk))

    @staticmethod
    def resolve_notification_preferences(root, info):
        return notifications.preferences_get(user=require_user(info))

    @staticmethod
    def resolve_sync(root, info, since=None, limit=None):
        return selectors.sync_changes(viewer=require_user(info), since=since,
                                      limit=parse_limit(limit, default=500, maximum=1000))

    @staticmethod
    def resolve_presence(root, info, user_ids):
        return selectors.presence_for(viewer=require_user(info), user_ids=[_gid(u, "user_ids") for u in user_ids])


# --- mutations ---------------------------------------------------------------------------------
def _conversation(info, conversation_id: int) -> dict:
    return selectors.conversation_get(viewer=info.context.user, conversation_id=conversation_id).as_dict()


class ConversationStart(DairaMutation):
    class Arguments:
        user_id = graphene.ID(required=True)

    conversation = graphene.Field(ChatConversation)

    @classmethod
    def perform(cls, root, info, *, user_id):
        conversation = services.conversation_direct_start(actor=info.context.user, other_id=_gid(user_id, "user_id"))
        return cls(conversation=_conversation(info, conversation.pk))


class GroupCreate(DairaMutation):
    class Arguments:
        name = graphene.String(required=True)
        member_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)

    conversation = graphene.Field(ChatConversation)

    @classmethod
    def perform(cls, root, info, *, name, member_ids):
        conversation = services.conversation_group_create(
            actor=info.context.user, name=name, member_ids=[_gid(m, "member_ids") for m in member_ids]
        )
        return cls(conversation=_conversation(info, conversation.pk))


class GroupUpdate(DairaMutation):
    class Arguments:
        conversation_id = graphene.ID(required=True)
        name = graphene.String()
        avatar_id = graphene.ID()

    conversation = graphene.Field(ChatConversation)

    @classmethod
    def perform(cls, root, info, *, conversation_id, name=None, avatar_id=None):
        cid = _gid(conversation_id, "conversation_id")
        services.group_update(actor=info.context.user, conversation_id=cid, name=name,
                              avatar_id=_gid(avatar_id, "avatar_id") if avatar_id is not None else None)
        return cls(conversation=_conversation(info, cid))


class GroupMembersAdd(DairaMutation):
    class Arguments:
        conversation_id = graphene.ID(required=True)
        user_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)

    conversation = graphene.Field(ChatConversation)

    @classmethod
    def perform(cls, root, info, *, conversation_id, user_ids):
        cid = _gid(conversation_id, "conversation_id")
        services.group_members_add(actor=info.context.user, conversation_id=cid,
                                   user_ids=[_gid(u, "user_ids") for u in user_ids])
        return cls(conversation=_conversation(info, cid))


class GroupMemberRemove(DairaMutation):
    class Arguments:
        conversation_id = graphene.ID(required=True)
        user_id = graphene.ID(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, conversation_id, user_id):
        services.group_member_remove(actor=info.context.user, conversation_id=_gid(conversation_id, "conversation_id"),
                                     user_id=_gid(user_id, "user_id"))
        return cls(ok=True)


class GroupAdminSet(DairaMutation):
    class Arguments:
        conversation_id = graphene.ID(required=True)
        user_id = graphene.ID(required=True)
        is_admin = graphene.Boolean(required=True)

    conversation = graphene.Field(ChatConversation)

    @classmethod
    def perform(cls, root, info, *, conversation_id, user_id, is_admin):
        cid = _gid(conversation_id, "conversation_id")
        services.group_admin_set(actor=info.context.user, conversation_id=cid, user_id=_gid(user_id, "user_id"),
                                 is_admin=is_admin)
        return cls(conversation=_conversation(info, cid))


class _ConversationAction(DairaMutation):
    class Meta:
        abstract = True

    class Arguments:
        conversation_id = graphene.ID(required=True)

    ok = graphene.Boolean()
    service = None

    @classmethod
    def perform(cls, root, info, *, conversation_id):
        cls.service(actor=info.context.user, conversation_id=_gid(conversation_id, "conversation_id"))
        return cls(ok=True)


class ConversationLeave(_ConversationAction):
    service = staticmethod(services.conversation_leave)


class MessageRequestAccept(_ConversationAction):
    service = staticmethod(services.message_request_accept)


class MessageRequestDecline(_ConversationAction):
    service = staticmethod(services.message_request_delete)


class MessageRequestBlock(_ConversationAction):
    service = staticmethod(services.message_request_block)


class MessageSend(DairaMutation):
    class Arguments:
        conversation_id = graphene.ID(required=True)
        body = graphene.String()
        client_id = graphene.String()
        media_ids = graphene.List(graphene.NonNull(graphene.ID))
        shared_post_id = graphene.ID()
        shared_story_id = graphene.ID()
        reply_to_id = graphene.ID()

    message = graphene.Field(ChatMessage)

    @classmethod
    def perform(cls, root, info, *, conversation_id, body=None, client_id=None, media_ids=None, shared_post_id=None,
                shared_story_id=None, reply_to_id=None):
        message = services.message_send(
            actor=info.context.user,
            conversation_id=_gid(conversation_id, "conversation_id"),
            body=body or "",
            client_id=client_id or "",
            media_ids=[_gid(m, "media_ids") for m in media_ids or []],
            shared_post_id=_gid(shared_post_id, "shared_post_id") if shared_post_id is not None else None,
            shared_story_id=_gid(shared_story_id, "shared_story_id") if shared_story_id is not None else None,
            reply_to_id=_gid(reply_to_id, "reply_to_id") if reply_to_id is not None else None,
        )
        return cls(message=message_payload(message))


class MessageEdit(DairaMutation):
    class Arguments:
        message_id = graphene.ID(required=True)
        body = graphene.String(required=True)

    message = graphene.Field(ChatMessage)

    @classmethod
    def perform(cls, root, info, *, message_id, body):
        message = services.message_edit(actor=info.context.user, message_id=_gid(message_id, "message_id"), body=body)
        return cls(message=message_payload(message))


class MessageDelete(DairaMutation):
    class Arguments:
        message_id = graphene.ID(required=True)
        for_everyone = graphene.Boolean(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, message_id, for_everyone):
        mid = _gid(message_id, "message_id")
        if for_everyone:
            services.message_unsend(actor=info.context.user, message_id=mid)
        else:
            services.message_delete_for_me(actor=info.context.user, message_id=mid)
        return cls(ok=True)


class MessageReact(DairaMutation):
    class Arguments:
        message_id = graphene.ID(required=True)
        emoji = graphene.String(description="Empty or omitted: remove your reaction")

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, message_id, emoji=None):
        mid = _gid(message_id, "message_id")
        if emoji:
            services.message_react(actor=info.context.user, message_id=mid, emoji=emoji)
        else:
            services.message_unreact(actor=info.context.user, message_id=mid)
        return cls(ok=True)


class ConversationMarkRead(DairaMutation):
    class Arguments:
        conversation_id = graphene.ID(required=True)
        message_id = graphene.ID()

    last_read_message_id = graphene.ID()

    @classmethod
    def perform(cls, root, info, *, conversation_id, message_id=None):
        participant = services.conversation_mark_read(
            actor=info.context.user, conversation_id=_gid(conversation_id, "conversation_id"),
            message_id=_gid(message_id, "message_id") if message_id is not None else None,
        )
        return cls(last_read_message_id=str(participant.last_read_message_id))


class TypingStart(DairaMutation):
    class Arguments:
        conversation_id = graphene.ID(required=True)

    sent = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, conversation_id):
        return cls(sent=services.typing_start(actor=info.context.user,
                                              conversation_id=_gid(conversation_id, "conversation_id")))


class NotificationMarkRead(DairaMutation):
    class Arguments:
        id = graphene.ID(description="Omit to mark every notification read")

    unread_count = graphene.Int()

    @classmethod
    def perform(cls, root, info, *, id=None):
        user = info.context.user
        if id is None:
            notifications.notifications_mark_all_read(actor=user)
        else:
            notifications.notification_mark_read(actor=user, notification_id=_gid(id, "id"))
        return cls(unread_count=notifications.unread_count(user_id=user.pk))


class NotificationPreferenceSet(DairaMutation):
    class Arguments:
        type = graphene.String(required=True)
        channel = graphene.String(required=True)

    preferences = graphene.JSONString()

    @classmethod
    def perform(cls, root, info, *, type, channel):
        return cls(preferences=notifications.preference_set(actor=info.context.user, type=type, channel=channel))


class DeviceRegister(DairaMutation):
    class Arguments:
        token = graphene.String(required=True)
        platform = graphene.String(required=True)
        language = graphene.String()

    device_id = graphene.ID()

    @classmethod
    def perform(cls, root, info, *, token, platform, language=None):
        device = notifications.device_register(actor=info.context.user, token=token, platform=platform,
                                               language=language or "")
        return cls(device_id=str(device.pk))


class DeviceUnregister(DairaMutation):
    class Arguments:
        token = graphene.String(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, *, token):
        notifications.device_unregister(actor=info.context.user, token=token)
        return cls(ok=True)


class Mutation(graphene.ObjectType):
    conversation_start = ConversationStart.Field()
    group_create = GroupCreate.Field()
    group_update = GroupUpdate.Field()
    group_members_add = GroupMembersAdd.Field()
    group_member_remove = GroupMemberRemove.Field()
    group_admin_set = GroupAdminSet.Field()
    conversation_leave = ConversationLeave.Field()
    message_request_accept = MessageRequestAccept.Field()
    message_request_decline = MessageRequestDecline.Field()
    message_request_block = MessageRequestBlock.Field()
    message_send = MessageSend.Field()
    message_edit = MessageEdit.Field()
    message_delete = MessageDelete.Field()
    message_react = MessageReact.Field()
    conversation_mark_read = ConversationMarkRead.Field()
    typing_start = TypingStart.Field()
    notification_mark_read = NotificationMarkRead.Field()
    notification_preference_set = NotificationPreferenceSet.Field()
    device_register = DeviceRegister.Field()
    device_unregister = DeviceUnregister.Field()
