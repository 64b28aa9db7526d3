"""Messaging routes under /api/v1/ (auto-included by daira/urls.py)."""

from django.urls import path, register_converter

from messaging import api


class SnowflakeConverter:
    """A positive 64-bit id; anything bigger is a 404, never a database error."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number < 1 << 63:
            raise ValueError("out of range")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(SnowflakeConverter, "msgid")

urlpatterns = [
    path("conversations", api.ConversationListApi.as_view(), name="conversation-list"),
    path("conversations/requests", api.ConversationRequestListApi.as_view(), name="conversation-requests"),
    path("conversations/unread", api.UnreadApi.as_view(), name="conversation-unread"),
    path("conversations/<msgid:conversation_id>", api.ConversationDetailApi.as_view(), name="conversation-detail"),
    path("conversations/<msgid:conversation_id>/messages", api.ConversationMessagesApi.as_view(),
         name="conversation-messages"),
    path("conversations/<msgid:conversation_id>/read", api.ConversationReadApi.as_view(), name="conversation-read"),
    path("conversations/<msgid:conversation_id>/typing", api.ConversationTypingApi.as_view(),
         name="conversation-typing"),
    path("conversations/<msgid:conversation_id>/members", api.ConversationMembersApi.as_view(),
         name="conversation-members"),
    path("conversations/<msgid:conversation_id>/members/<msgid:user_id>", api.ConversationMemberApi.as_view(),
         name="conversation-member"),
    path("conversations/<msgid:conversation_id>/admins/<msgid:user_id>", api.ConversationAdminApi.as_view(),
         name="conversation-admin"),
    path("conversations/<msgid:conversation_id>/leave", api.ConversationLeaveApi.as_view(), name="conversation-leave"),
    path("conversations/<msgid:conversation_id>/accept", api.MessageRequestAcceptApi.as_view(),
         name="conversation-accept"),
    path("conversations/<msgid:conversation_id>/decline", api.MessageRequestDeclineApi.as_view(),
         name="conversation-decline"),
    path("conversations/<msgid:conversation_id>/block", api.MessageRequestBlockApi.as_view(),
         name="conversation-block"),
    path("messages/<msgid:message_id>", api.MessageDetailApi.as_view(), name="message-detail"),
    path("messages/<msgid:message_id>/reactions", api.MessageReactionApi.as_view(), name="message-reactions"),
    path("sync", api.SyncApi.as_view(), name="sync"),
    path("presence", api.PresenceApi.as_view(), name="presence"),
    path("notifications", api.NotificationListApi.as_view(), name="notification-list"),
    path("notifications/read-all", api.NotificationReadAllApi.as_view(), name="notification-read-all"),
    path("notifications/preferences", api.NotificationPreferencesApi.as_view(), name="notification-preferences"),
    path("notifications/<msgid:notification_id>/read", api.NotificationReadApi.as_view(), name="notification-read"),
    path("devices", api.DeviceRegisterApi.as_view(), name="device-register"),
    path("devices/unregister", api.DeviceUnregisterApi.as_view(), name="device-unregister"),
]
