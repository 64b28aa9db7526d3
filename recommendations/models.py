"""Recommendations: interaction events, item and user vectors, per-item counters.

- `Interaction` sits over a table partitioned by day (native Postgres RANGE partitioning on
  `created_at`, created in migration 0001 with RunSQL); beat creates partitions ahead and drops
  those past `RECS_EVENTS_RETENTION_DAYS`. Append-only: nothing updates or deletes rows one by one.
- `EventReceipt` makes client batches idempotent by `client_event_id` (a partitioned table cannot
  hold a unique constraint without the partition key, so the receipt lives in its own table).
- `ItemVector` holds the content embedding (384-d, HNSW cosine index) and, once the hourly
  factorisation has seen the item, its collaborative vector (small space, HNSW inner product).
- `UserInterest` holds up to RECS_MAX_INTERESTS interest vectors per user (cached in Redis).
- `ItemCounters` are the per-item engagement counters the ranker reads.
- `NotInterested` remembers items and authors a user asked not to see.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from pgvector.django import HnswIndex, VectorField

from daira.lib.models import SnowflakeIdField

CONTENT_DIM = 384
COLLAB_DIM = 32  # settings.RECS_COLLAB_DIM must match (the column is fixed-width)


class EventType(models.TextChoices):
    VIEW = "VIEW", "View"
    WATCH = "WATCH", "Watch"
    LIKE = "LIKE", "Like"
    COMMENT = "COMMENT", "Comment"
    SHARE = "SHARE", "Share"
    SKIP = "SKIP", "Skip"
    FOLLOW = "FOLLOW", "Follow"
    SEARCH = "SEARCH", "Search"
    PROFILE_VISIT = "PROFILE_VISIT", "Profile visit"
    NOT_INTERESTED = "NOT_INTERESTED", "Not interested"


class EventSource(models.TextChoices):
    CIRCLE = "CIRCLE", "Circle tab"
    DISCOVER = "DISCOVER", "Discover (For-You)"
    SEARCH = "SEARCH", "Search"
    PROFILE = "PROFILE", "Profile"
    EXPLORE = "EXPLORE", "Explore"
    SERVER = "SERVER", "Server-side action"


class TargetType(models.TextChoices):
    POST = "post", "Post"
    USER = "user", "User"
    HASHTAG = "hashtag", "Hashtag"
    QUERY = "query", "Search query"


class Interaction(models.Model):
    """One interaction event (client- or server-reported). Partitioned by `created_at` (day).

    The table's primary key is (id, created_at) because Postgres requires the partition key in
    every unique index; Django only needs `id` to be unique, which snowflakes guarantee.
    """

    id = SnowflakeIdField()
    user_id = models.BigIntegerField()
    type = models.CharField(max_length=16, choices=EventType.choices)
    target_type = models.CharField(max_length=8, choices=TargetType.choices)
    target_id = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=EventSource.choices)
    origin = models.CharField(max_length=6, default="client", help_text="client | server")
    client_event_id = models.CharField(max_length=64, null=True, blank=True)
    watch_ms = models.IntegerField(null=True, blank=True)
    duration_ms = models.IntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(help_text="When it happened (client clock, bounded)")
    created_at = models.DateTimeField(default=timezone.now, help_text="When we stored it (partition key)")

    class Meta:
        # The table, its partitions and indexes are created by RunSQL in 0001 (partitioning).
        managed = False
        db_table = "recommendations_interaction"

    def __str__(self) -> str:
        return f"{self.type} {self.target_type}:{self.target_id} by {self.user_id}"


class EventReceipt(models.Model):
    """`client_event_id`s already accepted per user (idempotency); pruned with the partitions."""

    user_id = models.BigIntegerField()
    client_event_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id", "client_event_id"], name="recs_receipt_unique")]
        indexes = [models.Index(fields=["created_at"], name="recs_receipt_created_idx")]


class ItemVector(models.Model):
    """The embedding of one post. `source` says where the vector came from ("text", or
    "author"/"sound"/"profile" for items with no text of their own: never a zero vector)."""

    post = models.OneToOneField("content.Post", on_delete=models.CASCADE, primary_key=True, related_name="+")
    author_id = models.BigIntegerField()
    sound_id = models.BigIntegerField(null=True, blank=True)
    language = models.CharField(max_length=8, blank=True, default="")
    embedding = VectorField(dimensions=CONTENT_DIM)
    collab = VectorField(dimensions=COLLAB_DIM, null=True, blank=True)
    source = models.CharField(max_length=8, default="text")
    encoder = models.CharField(max_length=40)
    # Cheap eligibility for ANN pre-filtering (public, published, visible, alive, top-level);
    # every result is still re-checked through the full visibility policy before it is shown.
    eligible = models.BooleanField(default=True)
    published_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # m=32/ef_construction=128: bench/recs.py at 200k vectors measured recall@50 0.79 with
            # m=16/64 and 0.96 with these (ef_search 80), at ~2x the build time.
            HnswIndex(name="recs_item_embedding_hnsw", fields=["embedding"], m=32, ef_construction=128,
                      opclasses=["vector_cosine_ops"]),
            HnswIndex(name="recs_item_collab_hnsw", fields=["collab"], m=16, ef_construction=64,
                      opclasses=["vector_ip_ops"]),
            models.Index(fields=["author_id", "-published_at"], name="recs_item_author_idx"),
            models.Index(fields=["sound_id", "-published_at"], name="recs_item_sound_idx"),
            models.Index(fields=["-published_at"], name="recs_item_fresh_idx", condition=models.Q(eligible=True)),
        ]

    def __str__(self) -> str:
        return f"vector of post {self.post_id} ({self.source})"


class ItemCounters(models.Model):
    """Engagement counters per post, from the interaction stream (client and server)."""

    post_id = models.BigIntegerField(primary_key=True)
    views = models.PositiveIntegerField(default=0)
    watches = models.PositiveIntegerField(default=0)
    completions = models.PositiveIntegerField(default=0, help_text="Watches of ≥ 80% of the duration")
    likes = models.PositiveIntegerField(default=0)
    comments = models.PositiveIntegerField(default=0)
    shares = models.PositiveIntegerField(default=0)
    skips = models.PositiveIntegerField(default=0)
    not_interested = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    # the columns `engagement_rate` reads, in its argument order (for values_list reads)
    ENGAGEMENT_FIELDS = ("views", "completions", "likes", "comments", "shares", "skips", "not_interested")

    def engagement(self) -> float:
        """Smoothed positive-engagement rate in [0, 1) (see `engagement_rate`)."""
        return engagement_rate(*(getattr(self, name) for name in self.ENGAGEMENT_FIELDS))


def engagement_rate(views: int, completions: int, likes: int, comments: int, shares: int, skips: int,
                    not_interested: int) -> float:
    """Smoothed positive-engagement rate in [0, 1): weighted positives net of negatives over
    all signals plus views, with 10 pseudo-views so a post with 1 like of 1 view is not 1.0."""
    positive = likes + 2 * comments + 3 * shares + completions
    negative = skips + 3 * not_interested
    return max(0.0, positive - negative) / (positive + negative + views + 10)


class UserInterest(models.Model):
    """One of a user's interest vectors (slot 0..RECS_MAX_INTERESTS-1)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    slot = models.PositiveSmallIntegerField()
    vector = VectorField(dimensions=CONTENT_DIM)
    weight = models.FloatField(default=1.0, help_text="Signals assigned so far (decays on merge)")
    label = models.CharField(max_length=120, blank=True, default="", help_text="Onboarding topics or a hashtag")
    last_post_id = models.BigIntegerField(null=True, blank=True, help_text="Last strong signal assigned here")
    # The nearest-neighbour query of this interest. A centre of several items sits between
    # them, where HNSW search often stalls (bench/recs.py: recall@50 0.73 for centres, 0.997
    # for items); one of the items themselves is in the index's own distribution.
    anchor_post_id = models.BigIntegerField(
        null=True, blank=True, help_text="The recent signal nearest the interest's centre (set by the refit)")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "slot"], name="recs_interest_slot_unique")]

    def __str__(self) -> str:
        return f"interest {self.slot} of {self.user_id}"


class UserCollab(models.Model):
    """A user's vector in the collaborative space (from the hourly factorisation)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+")
    vector = VectorField(dimensions=COLLAB_DIM)
    updated_at = models.DateTimeField(default=timezone.now)


class NotInterested(models.Model):
    """"Not interested" in one post (post_id set) or in a whole author (post_id null)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    author_id = models.BigIntegerField()
    post_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "post_id"], name="recs_notint_post_unique",
                                    condition=models.Q(post_id__isnull=False)),
            models.UniqueConstraint(fields=["user", "author_id"], name="recs_notint_author_unique",
                                    condition=models.Q(post_id__isnull=True)),
        ]
