"""Admin screens for the relations of a user (moderators, support).

Search any screen by handle (`@mona` or `mona`) or filter with `?follower__id__exact=`
style links. Graph rows are read-only here: edits go through the services (actions
below), so the profile counts stay exact and events are emitted; the stock "delete
selected" action is replaced for the same reason.
"""

from __future__ import annotations

from django.contrib import admin, messages

from social import services
from social.models import (
    AccountFlag,
    Block,
    Circle,
    CircleMember,
    CloseFriend,
    Follow,
    FollowRequest,
    FriendRequest,
    Friendship,
    Mute,
)


class _ReadOnlyRelationAdmin(admin.ModelAdmin):
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is slow

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_moderate_permission(self, request) -> bool:
        """Actions that change the graph need the model's "change" permission, although
        the change form itself is disabled (edits go through services)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.strip().lstrip("@").lower())


@admin.register(Follow)
class FollowAdmin(_ReadOnlyRelationAdmin):
    list_display = ("id", "follower", "followee", "created_at")
    search_fields = ("follower__handle", "followee__handle")
    raw_id_fields = ("follower", "followee")
    list_select_related = ("follower", "followee")
    actions = ["remove_follows"]

    @admin.action(description="Remove selected follows (keeps counts exact)", permissions=["moderate"])
    def remove_follows(self, request, queryset):
        removed = 0
        for follow in queryset.select_related("follower", "followee"):
            services.follow_delete(actor=follow.follower, target=follow.followee)
            removed += 1
        self.message_user(request, f"Removed {removed} follows.", messages.SUCCESS)


@admin.register(FollowRequest)
class FollowRequestAdmin(_ReadOnlyRelationAdmin):
    list_display = ("id", "requester", "target", "created_at")
    search_fields = ("requester__handle", "target__handle")
    raw_id_fields = ("requester", "target")
    list_select_related = ("requester", "target")


@admin.register(FriendRequest)
class FriendRequestAdmin(_ReadOnlyRelationAdmin):
    list_display = ("id", "from_user", "to_user", "created_at")
    search_fields = ("from_user__handle", "to_user__handle")
    raw_id_fields = ("from_user", "to_user")
    list_select_related = ("from_user", "to_user")


@admin.register(Friendship)
class FriendshipAdmin(_ReadOnlyRelationAdmin):
    list_display = ("id", "user", "friend", "created_at")
    search_fields = ("user__handle", "friend__handle")
    raw_id_fields = ("user", "friend")
    list_select_related = ("user", "friend")
    actions = ["remove_friendships"]

    @admin.action(description="Unfriend selected pairs (keeps counts exact)", permissions=["moderate"])
    def remove_friendships(self, request, queryset):
        for row in queryset.select_related("user", "friend"):
            services.friendship_delete(actor=row.user, friend=row.friend)
        self.message_user(request, "Done.", messages.SUCCESS)


@admin.register(CloseFriend)
class CloseFriendAdmin(_ReadOnlyRelationAdmin):
    list_display = ("id", "owner", "member", "created_at")
    search_fields = ("owner__handle", "member__handle")
    raw_id_fields = ("owner", "member")
    list_select_related = ("owner", "member")


@admin.register(Circle)
class CircleAdmin(_ReadOnlyRelationAdmin):
    list_display = ("id", "owner", "name", "member_count", "created_at")
    search_fields = ("owner__handle", "name")
    raw_id_fields = ("owner",)
    list_select_related = ("owner",)


@admin.register(CircleMember)
class CircleMemberAdmin(_ReadOnlyRelationAdmin):
    list_display = ("id", "circle", "member", "created_at")
    search_fields = ("circle__owner__handle", "member__handle", "circle__name")
    raw_id_fields = ("circle", "member")
    list_select_related = ("circle", "member")


@admin.register(Block)
class BlockAdmin(_ReadOnlyRelationAdmin):
    list_display = ("id", "blocker", "blocked", "created_at")
    search_fields = ("blocker__handle", "blocked__handle")
    raw_id_fields = ("blocker", "blocked")
    list_select_related = ("blocker", "blocked")


@admin.register(Mute)
class MuteAdmin(_ReadOnlyRelationAdmin):
    list_display = ("id", "muter", "muted", "posts", "stories", "created_at")
    search_fields = ("muter__handle", "muted__handle")
    raw_id_fields = ("muter", "muted")
    list_select_related = ("muter", "muted")


@admin.register(AccountFlag)
class AccountFlagAdmin(_ReadOnlyRelationAdmin):
    """Shadowban state. Changes go through `shadowban_set` (moderation normally calls it)."""

    list_display = ("user", "shadowbanned", "shadowbanned_at", "shadowban_reason", "updated_by", "updated_at")
    list_filter = ("shadowbanned",)
    search_fields = ("user__handle",)
    raw_id_fields = ("user", "updated_by")
    list_select_related = ("user", "updated_by")
    actions = ["shadowban", "lift_shadowban"]

    @admin.action(description="Shadowban selected accounts", permissions=["moderate"])
    def shadowban(self, request, queryset):
        for flag in queryset:
            services.shadowban_set(user_id=flag.user_id, active=True, actor=request.user, reason="admin action")
        self.message_user(request, "Shadowbanned.", messages.SUCCESS)

    @admin.action(description="Lift the shadowban of selected accounts", permissions=["moderate"])
    def lift_shadowban(self, request, queryset):
        for flag in queryset:
            services.shadowban_set(user_id=flag.user_id, active=False, actor=request.user)
        self.message_user(request, "Shadowban lifted.", messages.SUCCESS)
