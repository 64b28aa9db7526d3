"""Ops views of the search index and search history (read-mostly; the index is rebuilt
with `manage.py search_reindex`, feeds with `manage.py feeds_rebuild`)."""

from django.contrib import admin

from feeds.models import SearchDocument, SearchHistory


@admin.register(SearchDocument)
class SearchDocumentAdmin(admin.ModelAdmin):
    list_display = ["kind", "object_id", "key", "popularity", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["key", "=object_id"]
    readonly_fields = ["kind", "object_id", "owner_id", "key", "text", "tsv", "popularity", "updated_at"]


@admin.register(SearchHistory)
class SearchHistoryAdmin(admin.ModelAdmin):
    list_display = ["user", "query", "kind", "searched_at"]
    raw_id_fields = ["user"]
    readonly_fields = ["user", "query", "normalized", "kind", "searched_at"]
