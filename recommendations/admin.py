"""Admin screens for operators: item vectors, counters, interests, not-interested marks."""

from django.contrib import admin

from recommendations.models import ItemCounters, ItemVector, NotInterested, UserInterest


@admin.register(ItemVector)
class ItemVectorAdmin(admin.ModelAdmin):
    list_display = ("post_id", "author_id", "source", "encoder", "eligible", "published_at", "updated_at")
    list_filter = ("source", "eligible", "encoder")
    search_fields = ("post__id", "author_id")
    exclude = ("embedding", "collab")
    readonly_fields = ("post", "author_id", "sound_id", "language", "source", "encoder", "eligible", "published_at")


@admin.register(ItemCounters)
class ItemCountersAdmin(admin.ModelAdmin):
    list_display = ("post_id", "views", "watches", "completions", "likes", "comments", "shares", "skips",
                    "not_interested", "updated_at")
    search_fields = ("post_id",)


@admin.register(UserInterest)
class UserInterestAdmin(admin.ModelAdmin):
    list_display = ("user", "slot", "label", "weight", "last_post_id", "anchor_post_id", "updated_at")
    search_fields = ("user__handle", "label")
    exclude = ("vector",)
    raw_id_fields = ("user",)


@admin.register(NotInterested)
class NotInterestedAdmin(admin.ModelAdmin):
    list_display = ("user", "author_id", "post_id", "created_at")
    search_fields = ("user__handle",)
    raw_id_fields = ("user",)
