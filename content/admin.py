"""Admin for support and moderators: read content, see its state and history, and act
through the services (so counters stay exact and events go out). Moderation decisions
themselves are taken in the moderation queue; these screens show their effect
(`moderation_state`). Counters and states are read-only here; the stock "delete selected"
action is removed (a hard delete would skip counters: soft-delete with the action).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from content import services
from content.models import (
    Bookmark,
    Collection,
    Comment,
    Hashtag,
    Mention,
    Post,
    PostEdit,
    PostMedia,
    Reaction,
    Repost,
    Sound,
    Story,
    StoryView,
)


class _ContentAdmin(admin.ModelAdmin):
    list_per_page = 50
    show_full_result_count = False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_add_permission(self, request):
        return False


class PostMediaInline(admin.TabularInline):
    model = PostMedia
    extra = 0
    raw_id_fields = ("asset",)
    readonly_fields = ("asset", "position", "alt_text")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        # A post's kind is fixed from its media at creation; attaching media later would
        # leave a "text" post whose media no card shows (content.selectors.posts_prefetch_media).
        return False


class PostEditInline(admin.TabularInline):
    model = PostEdit
    extra = 0
    readonly_fields = ("body", "audience", "circle_id", "created_at")
    can_delete = False


@admin.register(Post)
class PostAdmin(_ContentAdmin):
    list_display = ("id", "author", "kind", "status", "moderation_state", "audience", "reactions_count",
                    "comments_count", "created_at", "deleted_at")
    list_filter = ("kind", "status", "moderation_state", "audience")
    search_fields = ("=id", "author__handle", "body")
    raw_id_fields = ("author", "parent", "root", "quote_of", "sound", "circle")
    readonly_fields = [f.name for f in Post._meta.fields if f.name not in ("comments_policy",)]
    inlines = [PostMediaInline, PostEditInline]
    actions = ["soft_delete", "turn_comments_off"]

    @admin.action(description="Delete (soft) as the author would")
    def soft_delete(self, request, queryset):
        for post in queryset.filter(deleted_at__isnull=True).select_related("author"):
            services.post_delete(actor=post.author, post_id=post.pk)
        self.message_user(request, "Deleted.", level=messages.SUCCESS)

    @admin.action(description="Turn comments off")
    def turn_comments_off(self, request, queryset):
        queryset.update(comments_policy=Post.CommentsPolicy.OFF)


@admin.register(Comment)
class CommentAdmin(_ContentAdmin):
    list_display = ("id", "post", "author", "moderation_state", "replies_count", "created_at", "deleted_at")
    list_filter = ("moderation_state",)
    search_fields = ("=id", "=post__id", "author__handle", "body")
    raw_id_fields = ("post", "author", "parent")
    readonly_fields = [f.name for f in Comment._meta.fields]
    actions = ["soft_delete"]

    @admin.action(description="Delete (soft) as the post's author would")
    def soft_delete(self, request, queryset):
        for comment in queryset.filter(deleted_at__isnull=True).select_related("post__author"):
            services.comment_delete(actor=comment.post.author, comment_id=comment.pk)


@admin.register(Story)
class StoryAdmin(_ContentAdmin):
    list_display = ("id", "author", "kind", "status", "moderation_state", "audience", "views_count", "created_at",
                    "expires_at")
    list_filter = ("status", "moderation_state", "audience")
    search_fields = ("=id", "author__handle", "text")
    raw_id_fields = ("author", "asset", "circle", "sound")
    readonly_fields = [f.name for f in Story._meta.fields]
    actions = ["expire_now"]

    @admin.action(description="Expire now (stops showing at once; purged by beat)")
    def expire_now(self, request, queryset):
        with transaction.atomic():
            queryset.update(expires_at=timezone.now())


@admin.register(Sound)
class SoundAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "artist", "is_original", "uses_count", "created_at")
    list_filter = ("is_original",)
    search_fields = ("=id", "title", "artist")
    raw_id_fields = ("owner", "audio_asset", "source_asset", "original_post")
    readonly_fields = ("uses_count", "source_asset", "original_post", "is_original")


@admin.register(Hashtag)
class HashtagAdmin(_ContentAdmin):
    list_display = ("name", "posts_count", "last_used_at")
    search_fields = ("name",)
    readonly_fields = ("name", "posts_count", "last_used_at")


@admin.register(Reaction)
class ReactionAdmin(_ContentAdmin):
    list_display = ("id", "user", "reaction", "post", "comment", "story", "created_at")
    list_filter = ("reaction",)
    search_fields = ("user__handle", "=post__id")
    raw_id_fields = ("user", "post", "comment", "story")
    readonly_fields = [f.name for f in Reaction._meta.fields]


@admin.register(Repost)
class RepostAdmin(_ContentAdmin):
    list_display = ("id", "user", "post", "created_at")
    search_fields = ("user__handle", "=post__id")
    raw_id_fields = ("user", "post")
    readonly_fields = [f.name for f in Repost._meta.fields]


@admin.register(Mention)
class MentionAdmin(_ContentAdmin):
    list_display = ("id", "author", "mentioned", "post", "comment", "story", "created_at")
    search_fields = ("author__handle", "mentioned__handle")
    raw_id_fields = ("author", "mentioned", "post", "comment", "story")
    readonly_fields = [f.name for f in Mention._meta.fields]


@admin.register(Bookmark)
class BookmarkAdmin(_ContentAdmin):
    list_display = ("id", "user", "post", "collection", "created_at")
    search_fields = ("user__handle",)
    raw_id_fields = ("user", "post", "collection")
    readonly_fields = [f.name for f in Bookmark._meta.fields]


@admin.register(Collection)
class CollectionAdmin(_ContentAdmin):
    list_display = ("id", "owner", "name", "created_at")
    search_fields = ("owner__handle", "name")
    raw_id_fields = ("owner",)


@admin.register(StoryView)
class StoryViewAdmin(_ContentAdmin):
    list_display = ("id", "story", "viewer", "created_at")
    raw_id_fields = ("story", "viewer")
    readonly_fields = ("story", "viewer", "created_at")
