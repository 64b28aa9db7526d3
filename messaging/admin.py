"""Admin for messaging.

Privacy rule: direct-message content is not browsable by moderators. Conversations show
metadata only (who, when, how many); the Message admin is for superusers. Moderators see
a reported message's text through the moderation case (the moderation app snapshots the
reported target), never by browsing chats here.
"""

from django.contrib import admin

from messaging.models import Conversation, Message, Notification, Participant, PushDevice


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    fields = ("user", "role", "state", "last_read_message_id", "joined_at", "left_at")
    readonly_fields = fields
    raw_id_fields = ("user",)
    can_delete = False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "name", "member_count", "last_activity_at")
    list_filter = ("kind",)
    search_fields = ("=id", "name")
    readonly_fields = ("kind", "direct_key", "created_by", "created_at", "last_message_id", "last_activity_at",
                       "member_count")
    raw_id_fields = ("avatar", "created_by")
    inlines = [ParticipantInline]


class SuperuserOnlyAdmin(admin.ModelAdmin):
    """Visible and usable by superusers only, whatever model permissions staff hold."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False


@admin.register(Message)
class MessageAdmin(SuperuserOnlyAdmin):
    list_display = ("id", "conversation_id", "sender", "kind", "created_at", "unsent_at", "held")
    list_filter = ("kind", "held")
    search_fields = ("=id", "=conversation__id")
    raw_id_fields = ("conversation", "sender", "reply_to", "attachments")
    readonly_fields = ("conversation", "sender", "client_id", "kind", "created_at", "edited_at", "unsent_at")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "recipient", "type", "target_type", "target_id", "actor_count", "read_at", "updated_at")
    list_filter = ("type",)
    search_fields = ("=recipient__id", "recipient__handle")
    raw_id_fields = ("recipient", "last_actor")


@admin.register(PushDevice)
class PushDeviceAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "platform", "language", "created_at", "last_seen_at")
    list_filter = ("platform",)
    search_fields = ("=user__id", "user__handle")
    raw_id_fields = ("user",)
    readonly_fields = ("token",)
