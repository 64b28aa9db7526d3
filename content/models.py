"""Content: posts (text, photo, carousel, short video), threads, quotes and reposts, mentions
and hashtags, threaded comments, reactions, bookmarks and collections, stories and views,
sounds.

Lifecycles
----------
Post.status:            pending ──(every media asset ready)──▶ published
                               ╰──(an asset failed)──────────▶ failed(reason)
                        (a post without processing media is published at once)
Post.moderation_state:  visible · held (seen only by its author until a moderator
                        approves) · hidden (reported past the threshold, pending review) ·
                        removed (a moderator removed it). Comments and stories share it.
Soft delete:            `deleted_at` hides a post (and, through the selectors, its comments)
                        at once; rows stay for moderation and the data export.

Counters (reactions by type, comments, replies, reposts, quotes, views, saves) are
denormalised and changed only with F() expressions inside the services, so concurrent
writers never lose an increment. View counts are buffered in Redis and flushed by beat.

Audiences are stored as strings validated against `social.policy.audience_names()` (wallet
registers "subscribers" later), with a circle FK for the "circle" audience. Who may see a
row is decided by `social.policy`, never here.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from daira.lib.models import SnowflakeModel

USER = settings.AUTH_USER_MODEL

MAX_BODY_LENGTH = 2_200
MAX_MEDIA_PER_POST = 10
MAX_VIDEO_DURATION_MS = 10 * 60 * 1000
MAX_PINNED_POSTS = 3
STORY_LIFETIME = timedelta(hours=24)


class ReactionType(models.TextChoices):
    """One reaction per user per target: like plus a small emoji set."""

    LIKE = "like", "👍 Like"
    LOVE = "love", "❤️"
    HAHA = "haha", "😂"
    WOW = "wow", "😮"
    SAD = "sad", "😢"
    ANGRY = "angry", "😡"
    CLAP = "clap", "👏"
    FIRE = "fire", "🔥"


# Emoji a client may send instead of the name.
REACTION_EMOJI = {
    "❤️": "love", "❤": "love", "😂": "haha", "😮": "wow", "😢": "sad", "😡": "angry", "👏": "clap", "🔥": "fire",
    "👍": "like",
}


def reaction_column(reaction: str) -> str:
    """The counter column of a reaction type (e.g. "love" → "love_count")."""
    return f"{reaction}_count"


# (type, counter column) pairs, computed once: TextChoices.values builds a new list on every
# access, and every card reads reaction_counts.
_REACTION_COLUMNS = tuple((r, reaction_column(r)) for r in ReactionType.values)


class ModerationState(models.TextChoices):
    VISIBLE = "visible", "Visible"
    HELD = "held", "Held for review (author only)"
    HIDDEN = "hidden", "Hidden pending review"
    REMOVED = "removed", "Removed by a moderator"


class ReactionCounters(models.Model):
    """Per-type reaction counters plus their total (kept equal by the services)."""

    reactions_count = models.PositiveIntegerField(default=0)
    like_count = models.PositiveIntegerField(default=0)
    love_count = models.PositiveIntegerField(default=0)
    haha_count = models.PositiveIntegerField(default=0)
    wow_count = models.PositiveIntegerField(default=0)
    sad_count = models.PositiveIntegerField(default=0)
    angry_count = models.PositiveIntegerField(default=0)
    clap_count = models.PositiveIntegerField(default=0)
    fire_count = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def reaction_counts(self) -> dict[str, int]:
        """{type: count} for every reaction type with a non-zero count."""
        return {r: n for r, column in _REACTION_COLUMNS if (n := getattr(self, column))}


class Sound(SnowflakeModel):
    """A reusable audio track. Made by staff/creators, or automatically from the audio of an
    uploaded video (`source_asset` set, `is_original`); videos pick one with `Post.sound`."""

    title = models.CharField(max_length=120)
    artist = models.CharField(max_length=120, blank=True, default="", help_text="Artist credit")
    owner = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="sounds")
    # The audio file lives in media: an audio-only asset, or the video asset whose
    # renditions["audio"] holds its extracted track (original sounds).
    audio_asset = models.ForeignKey(
        "media.MediaAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The uploaded video the audio came from; unique so a redelivered event makes one sound.
    source_asset = models.OneToOneField(
        "media.MediaAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="original_sound"
    )
    original_post = models.ForeignKey(
        "content.Post", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_original = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    uses_count = models.PositiveIntegerField(default=0, help_text="Published videos using it")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.title} — {self.artist}" if self.artist else self.title


class PostQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)


class Post(ReactionCounters, SnowflakeModel):
    """A post, a reply in a thread (`parent`), or a quote (`quote_of`).

    `root` is the first post of the thread (None for a top-level post), `depth` its
    distance from the root. `kind` follows the media: text (none), photo (one image),
    carousel (2-10 items), video (one video, optionally with a `sound`).
    """

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        PHOTO = "photo", "Photo"
        CAROUSEL = "carousel", "Carousel"
        VIDEO = "video", "Short video"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (media processing)"
        PUBLISHED = "published", "Published"
        FAILED = "failed", "Failed"

    class CommentsPolicy(models.TextChoices):
        EVERYONE = "everyone", "Everyone"
        FOLLOWERS = "followers", "Followers"
        FOLLOWING = "following", "People I follow"
        FRIENDS = "friends", "Friends"
        OFF = "off", "Off"

    author = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="posts")
    body = models.CharField(max_length=MAX_BODY_LENGTH, blank=True, default="")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PUBLISHED)
    failure_reason = models.CharField(max_length=300, blank=True, default="")
    moderation_state = models.CharField(
        max_length=10, choices=ModerationState.choices, default=ModerationState.VISIBLE
    )
    audience = models.CharField(max_length=32, default="public", help_text="One of social.policy.audience_names()")
    circle = models.ForeignKey("social.Circle", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Reserved for wallet's subscriber tiers; always null for now.
    audience_min_tier = models.PositiveIntegerField(null=True, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    root = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    depth = models.PositiveSmallIntegerField(default=0)
    quote_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="quotes")
    sound = models.ForeignKey(Sound, null=True, blank=True, on_delete=models.SET_NULL, related_name="posts")
    comments_policy = models.CharField(max_length=10, choices=CommentsPolicy.choices, default=CommentsPolicy.EVERYONE)
    language = models.CharField(max_length=8, blank=True, default="")
    pinned_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Set once "post.published" went out (published and visible), so it is announced once.
    announced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    comments_count = models.PositiveIntegerField(default=0)
    replies_count = models.PositiveIntegerField(default=0)
    reposts_count = models.PositiveIntegerField(default=0)
    quotes_count = models.PositiveIntegerField(default=0)
    views_count = models.PositiveBigIntegerField(default=0)
    saves_count = models.PositiveIntegerField(default=0)

    objects = PostQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["author", "-id"], name="post_author_idx"),
            models.Index(fields=["parent", "id"], name="post_parent_idx"),
            models.Index(fields=["quote_of", "-id"], name="post_quote_idx"),
            models.Index(fields=["sound", "-id"], name="post_sound_idx"),
            models.Index(fields=["author", "pinned_at"], name="post_pinned_idx", condition=Q(pinned_at__isnull=False)),
            models.Index(fields=["status"], name="post_pending_idx", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"post {self.pk} by {self.author_id}"

    @property
    def is_edited(self) -> bool:
        return self.edited_at is not None


class PostMedia(SnowflakeModel):
    """One media item of a post, in carousel order (`position` 0..9)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="media_items")
    # RESTRICT, not PROTECT: an account purge deletes the assets and the posts together.
    asset = models.ForeignKey("media.MediaAsset", on_delete=models.RESTRICT, related_name="+")
    position = models.PositiveSmallIntegerField()
    alt_text = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["post", "position"], name="post_media_position_unique")]
        indexes = [models.Index(fields=["asset"], name="post_media_asset_idx")]


class PostEdit(SnowflakeModel):
    """A previous version of a post, saved by every edit (the "edited" history)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="edits")
    body = models.CharField(max_length=MAX_BODY_LENGTH, blank=True, default="")
    audience = models.CharField(max_length=32)
    circle_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, help_text="When this version was replaced")

    class Meta:
        indexes = [models.Index(fields=["post", "-id"], name="post_edit_post_idx")]


class Hashtag(SnowflakeModel):
    """A hashtag by its normalised name (daira.lib.text.extract_hashtags): #مصر and #مَصر are one."""

    name = models.CharField(max_length=100, unique=True)
    posts_count = models.PositiveIntegerField(default=0)
    last_used_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"#{self.name}"


class PostHashtag(SnowflakeModel):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="hashtag_links")
    hashtag = models.ForeignKey(Hashtag, on_delete=models.CASCADE, related_name="post_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "hashtag"], name="post_hashtag_unique")]
        indexes = [models.Index(fields=["hashtag", "-post"], name="post_hashtag_recent_idx")]


class Mention(SnowflakeModel):
    """`mentioned` was @mentioned (and allowed to be, per their who_can_mention) in a post,
    comment or story by `author`. Exactly one target is set."""

    author = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    mentioned = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="mentions")
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.CASCADE, related_name="mentions")
    comment = models.ForeignKey("content.Comment", null=True, blank=True, on_delete=models.CASCADE, related_name="mentions")
    story = models.ForeignKey("content.Story", null=True, blank=True, on_delete=models.CASCADE, related_name="mentions")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(post__isnull=False, comment__isnull=True, story__isnull=True)
                    | Q(post__isnull=True, comment__isnull=False, story__isnull=True)
                    | Q(post__isnull=True, comment__isnull=True, story__isnull=False)
                ),
                name="mention_one_target",
            ),
            models.UniqueConstraint(fields=["post", "mentioned"], name="mention_post_unique", condition=Q(post__isnull=False)),
            models.UniqueConstraint(
                fields=["comment", "mentioned"], name="mention_comment_unique", condition=Q(comment__isnull=False)
            ),
            models.UniqueConstraint(fields=["story", "mentioned"], name="mention_story_unique", condition=Q(story__isnull=False)),
        ]
        indexes = [models.Index(fields=["mentioned", "-id"], name="mention_mentioned_idx")]


class Comment(ReactionCounters, SnowflakeModel):
    """A comment on a post, or a reply to another comment (`parent`; threaded)."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    body = models.CharField(max_length=MAX_BODY_LENGTH)
    moderation_state = models.CharField(
        max_length=10, choices=ModerationState.choices, default=ModerationState.VISIBLE
    )
    replies_count = models.PositiveIntegerField(default=0)
    liked_by_author = models.BooleanField(default=False, help_text="The post's author reacted to it")
    pinned_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["post", "-id"], name="comment_post_idx", condition=Q(parent__isnull=True)),
            models.Index(fields=["parent", "id"], name="comment_parent_idx"),
            models.Index(fields=["author", "-id"], name="comment_author_idx"),
        ]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.post_id}"


class Story(ReactionCounters, SnowflakeModel):
    """An image or video story, visible for 24 hours (`expires_at`), to public, close friends
    or one of the author's circles. `overlays` holds text/mention/sticker positions."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (media processing)"
        PUBLISHED = "published", "Published"
        FAILED = "failed", "Failed"

    class Audience(models.TextChoices):
        PUBLIC = "public", "Public"
        CLOSE_FRIENDS = "close_friends", "Close friends"
        CIRCLE = "circle", "Circle"

    author = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="stories")
    # RESTRICT, not PROTECT: an account purge deletes the assets and the posts together.
    asset = models.ForeignKey("media.MediaAsset", on_delete=models.RESTRICT, related_name="+")
    kind = models.CharField(max_length=8, default="image")
    text = models.CharField(max_length=MAX_BODY_LENGTH, blank=True, default="")
    overlays = models.JSONField(default=list, blank=True)
    audience = models.CharField(max_length=32, default="public")
    circle = models.ForeignKey("social.Circle", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sound = models.ForeignKey(Sound, null=True, blank=True, on_delete=models.SET_NULL, related_name="stories")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PUBLISHED)
    failure_reason = models.CharField(max_length=300, blank=True, default="")
    moderation_state = models.CharField(
        max_length=10, choices=ModerationState.choices, default=ModerationState.VISIBLE
    )
    views_count = models.PositiveIntegerField(default=0)
    replies_count = models.PositiveIntegerField(default=0)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "stories"
        indexes = [
            models.Index(fields=["author", "expires_at"], name="story_author_active_idx"),
            models.Index(fields=["expires_at"], name="story_expires_idx"),
        ]

    def __str__(self) -> str:
        return f"story {self.pk} by {self.author_id}"


class StoryView(SnowflakeModel):
    """`viewer` saw `story` (once: unique pair)."""

    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="views")
    viewer = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["story", "viewer"], name="story_view_unique")]
        indexes = [models.Index(fields=["viewer", "story"], name="story_view_viewer_idx")]


class Reaction(SnowflakeModel):
    """`user`'s one reaction on a post, a comment or a story (exactly one target set)."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="reactions")
    reaction = models.CharField(max_length=8, choices=ReactionType.choices)
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.CASCADE, related_name="reactions")
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="reactions")
    story = models.ForeignKey(Story, null=True, blank=True, on_delete=models.CASCADE, related_name="reactions")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(post__isnull=False, comment__isnull=True, story__isnull=True)
                    | Q(post__isnull=True, comment__isnull=False, story__isnull=True)
                    | Q(post__isnull=True, comment__isnull=True, story__isnull=False)
                ),
                name="reaction_one_target",
            ),
            models.UniqueConstraint(fields=["post", "user"], name="reaction_post_user_unique", condition=Q(post__isnull=False)),
            models.UniqueConstraint(
                fields=["comment", "user"], name="reaction_comment_user_unique", condition=Q(comment__isnull=False)
            ),
            models.UniqueConstraint(fields=["story", "user"], name="reaction_story_user_unique", condition=Q(story__isnull=False)),
        ]
        indexes = [
            models.Index(fields=["post", "-id"], name="reaction_post_idx", condition=Q(post__isnull=False)),
            models.Index(fields=["comment", "-id"], name="reaction_comment_idx", condition=Q(comment__isnull=False)),
            models.Index(fields=["story", "-id"], name="reaction_story_idx", condition=Q(story__isnull=False)),
            models.Index(fields=["user", "-id"], name="reaction_user_idx"),
        ]


class Repost(SnowflakeModel):
    """`user` shared `post` without comment (undo deletes the row)."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="reposts")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reposts")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "post"], name="repost_unique")]
        indexes = [
            models.Index(fields=["post", "-id"], name="repost_post_idx"),
            models.Index(fields=["user", "-id"], name="repost_user_idx"),
        ]


class Collection(SnowflakeModel):
    """A named set of bookmarks (private to its owner)."""

    owner = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=60)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="collection_owner_name_unique")]


class Bookmark(SnowflakeModel):
    """`user` saved `post`, optionally into one of their collections."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="bookmarks")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="bookmarks")
    collection = models.ForeignKey(Collection, null=True, blank=True, on_delete=models.SET_NULL, related_name="bookmarks")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "post"], name="bookmark_unique")]
        indexes = [models.Index(fields=["user", "-id"], name="bookmark_user_idx")]
