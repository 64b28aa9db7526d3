"""Feeds tables: the search index (owned here so feeds never forces other apps' schemas)
and per-user search history.

Timelines, per-author recent sets and trending scores live in Redis (feeds/timelines.py);
nothing here is needed to rebuild them: Postgres (content, social) is the source of truth.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone

from daira.lib.models import SnowflakeModel


class SearchKind(models.TextChoices):
    USER = "user", "User"
    HASHTAG = "hashtag", "Hashtag"
    POST = "post", "Post"
    SOUND = "sound", "Sound"


class SearchDocument(models.Model):
    """One searchable object, in normalised form (daira/lib/text.py `search_variants`).

    `key` is the object's name form (handle, hashtag, sound title) for exact and prefix
    hits; `text` holds every variant of everything searchable about it (trigram index:
    typos), `tsv` the same as a 'simple' tsvector (prefix queries). `popularity` breaks
    ties between equally good text matches. `owner_id` is the user whose visibility
    decides whether a viewer may see the hit (the author; the user themself for users).
    Rows are written only by feeds.services (indexers) and read only by feeds.search.
    """

    kind = models.CharField(max_length=8, choices=SearchKind.choices)
    object_id = models.BigIntegerField()
    owner_id = models.BigIntegerField(null=True, blank=True)
    key = models.CharField(max_length=200, blank=True, default="")
    text = models.TextField(blank=True, default="")
    tsv = SearchVectorField(null=True)
    popularity = models.FloatField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="search_doc_kind_object_unique")]
        indexes = [
            GinIndex(fields=["tsv"], name="search_doc_tsv_idx"),
            GinIndex(fields=["text"], name="search_doc_text_trgm_idx", opclasses=["gin_trgm_ops"]),
            GinIndex(fields=["key"], name="search_doc_key_trgm_idx", opclasses=["gin_trgm_ops"]),
            models.Index(fields=["kind", "key"], name="search_doc_kind_key_idx"),
            # Hits of one tier are read in popularity order (LIMIT walks this index).
            models.Index(fields=["kind", "-popularity", "-object_id"], name="search_doc_popular_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_id}"


class SearchHistory(SnowflakeModel):
    """A user's past search (one row per distinct normalised query; searching again
    moves it to the top). Private to the user; cleared by them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    query = models.CharField(max_length=200)
    normalized = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, blank=True, default="")
    searched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "search history"
        constraints = [models.UniqueConstraint(fields=["user", "normalized"], name="search_history_user_query_unique")]
        indexes = [models.Index(fields=["user", "-searched_at"], name="search_history_recent_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.query}"


class SearchTerm(models.Model):
    """Every distinct normalised word of the index (the vocabulary), with a trigram index:
    typos are corrected against this small table first ("mohamad" → "mohamed"), then the
    documents are searched by full text, which stays fast at any index size (the pg_trgm
    documentation's recipe for spelling suggestions)."""

    word = models.CharField(max_length=100, unique=True)

    class Meta:
        indexes = [GinIndex(fields=["word"], name="search_term_word_trgm_idx", opclasses=["gin_trgm_ops"])]

    def __str__(self) -> str:
        return self.word
