"""Admin for users: search by handle/phone/e-mail, suspend/unsuspend, sessions and audit log inline."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.utils import timezone

from accounts import services
from accounts.models import AuthEvent, DataExport, DeviceSession, OtpChallenge, Passkey, Profile, User, UserSettings


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ["display_name", "bio", "links", "language", "governorate", "avatar",
              "followers_count", "following_count", "friends_count", "posts_count"]
    readonly_fields = ["avatar", "followers_count", "following_count", "friends_count", "posts_count"]


class SettingsInline(admin.StackedInline):
    model = UserSettings
    can_delete = False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DeviceSessionInline(ReadOnlyInline):
    model = DeviceSession
    fields = ["id", "device_name", "method", "ip", "user_agent", "created_at", "last_seen_at", "revoked_at",
              "revoked_reason"]
    readonly_fields = fields
    ordering = ["-id"]


class AuthEventInline(ReadOnlyInline):
    model = AuthEvent
    fk_name = "user"
    fields = ["created_at", "kind", "ip", "user_agent", "actor", "data"]
    readonly_fields = fields
    ordering = ["-id"]

    def get_queryset(self, request):
        # The newest 50 only: a busy account's log would make the page unusable.
        queryset = super().get_queryset(request)
        ids = list(queryset.order_by("-id").values_list("id", flat=True)[:50])
        return queryset.filter(id__in=ids)


class PasskeyInline(ReadOnlyInline):
    model = Passkey
    fields = ["name", "created_at", "last_used_at", "sign_count"]
    readonly_fields = fields


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["handle", "phone", "email", "status", "is_private", "is_staff", "date_joined", "last_active_at"]
    list_filter = ["status", "is_staff", "is_private"]
    search_fields = ["handle", "phone", "email"]
    ordering = ["-date_joined"]
    readonly_fields = ["id", "date_joined", "last_active_at", "last_login", "phone_verified_at", "email_verified_at",
                       "suspended_until", "suspension_reason", "deactivated_at", "status"]
    fields = ["id", "handle", "phone", "email", "status", "is_private", "is_staff", "is_superuser", "groups",
              "date_joined", "last_active_at", "last_login", "phone_verified_at", "email_verified_at",
              "suspended_until", "suspension_reason", "deactivated_at"]
    filter_horizontal = ["groups"]
    inlines = [ProfileInline, SettingsInline, DeviceSessionInline, PasskeyInline, AuthEventInline]
    actions = ["suspend_7_days", "suspend_indefinitely", "unsuspend", "revoke_sessions"]

    @admin.action(description="Suspend for 7 days (ends all sessions)")
    def suspend_7_days(self, request, queryset):
        until = timezone.now() + timedelta(days=7)
        for user in queryset:
            services.user_suspend(user=user, actor=request.user, reason=f"Suspended in admin by @{request.user}",
                                  until=until)
        self.message_user(request, f"Suspended {queryset.count()} account(s) for 7 days.", messages.SUCCESS)

    @admin.action(description="Suspend indefinitely (ends all sessions)")
    def suspend_indefinitely(self, request, queryset):
        for user in queryset:
            services.user_suspend(user=user, actor=request.user, reason=f"Suspended in admin by @{request.user}")
        self.message_user(request, f"Suspended {queryset.count()} account(s).", messages.SUCCESS)

    @admin.action(description="Lift suspension")
    def unsuspend(self, request, queryset):
        for user in queryset:
            services.user_unsuspend(user=user, actor=request.user, reason=f"Lifted in admin by @{request.user}")
        self.message_user(request, "Suspensions lifted.", messages.SUCCESS)

    @admin.action(description="Log out everywhere")
    def revoke_sessions(self, request, queryset):
        for user in queryset:
            services.session_revoke_others(user=user, current_session_id=None)
        self.message_user(request, "Sessions ended.", messages.SUCCESS)


@admin.register(AuthEvent)
class AuthEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "ip", "actor"]
    list_filter = ["kind"]
    search_fields = ["user__handle", "ip"]
    raw_id_fields = ["user", "actor", "session"]
    ordering = ["-id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DeviceSession)
class DeviceSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "device_name", "method", "ip", "created_at", "last_seen_at", "revoked_at"]
    search_fields = ["user__handle", "ip", "device_name"]
    raw_id_fields = ["user"]
    readonly_fields = ["refresh_jti", "refresh_generation"]
    ordering = ["-id"]


@admin.register(OtpChallenge)
class OtpChallengeAdmin(admin.ModelAdmin):
    list_display = ["phone", "purpose", "channel", "attempts", "created_at", "expires_at", "consumed_at"]
    list_filter = ["purpose", "channel"]
    search_fields = ["phone"]
    exclude = ["code_hash"]
    ordering = ["-id"]


@admin.register(DataExport)
class DataExportAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "status", "size", "created_at", "finished_at", "expires_at"]
    list_filter = ["status"]
    raw_id_fields = ["user"]
    ordering = ["-id"]
