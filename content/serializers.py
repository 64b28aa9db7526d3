"""Output shapes of content, shared by REST, feeds and anyone rendering posts.

Ids are strings (snowflakes exceed JavaScript's 2^53). Render lists with
`PostOutputSerializer(posts, many=True, context={"viewer": viewer})`: the list serializer
hydrates the whole page first (`selectors.posts_hydrate`: the viewer's reactions, saves,
reposts, quoted posts and data-saver setting in a fixed number of queries), so a page of
20 posts costs the same as a page of 2. Querysets must come from the content selectors
(which select/prefetch author profiles, media and sounds).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.serializers import avatar_urls
from content import selectors
from content.models import Comment, Post, ReactionType, Story
from daira.lib.drf import datetime_output, text_output
from media import selectors as media_selectors
from media.models import MediaAsset


# --- fast rendering --------------------------------------------------------------------------
# Cards are the bulk of every feed response, and DRF's generic field loop (get_attribute and
# to_representation per field, ~30 fields per card) cost more CPU than the page's queries.
# PostOutputSerializer and AuthorSerializer build the same dict directly; subclasses that
# declare other fields fall back to DRF. test_serializers.py renders cards both ways and
# requires identical output, so a field added to the declarations must be added here too.
def author_card(user) -> dict[str, Any]:
    """AuthorSerializer's output for `user` (with its profile loaded)."""
    return {
        "id": str(user.pk),
        "handle": text_output(user.handle),
        "display_name": text_output(user.profile.display_name),
        "avatar": avatar_urls(user.profile),
        "is_private": None if user.is_private is None else bool(user.is_private),
    }


class AuthorSerializer(serializers.Serializer):
    """A mini profile for cards."""

    id = serializers.SerializerMethodField()
    handle = serializers.CharField()
    display_name = serializers.CharField(source="profile.display_name")
    avatar = serializers.SerializerMethodField()
    is_private = serializers.BooleanField()

    def to_representation(self, instance):
        if type(self) is AuthorSerializer:
            return author_card(instance)
        return super().to_representation(instance)

    def get_id(self, user) -> str:
        return str(user.pk)

    def get_avatar(self, user) -> dict[str, str]:
        return avatar_urls(user.profile)


def _playback(viewer, asset: MediaAsset, data_saver: bool) -> dict[str, Any] | None:
    if asset.status != MediaAsset.Status.READY:
        return None
    try:
        return media_selectors.playback_for(viewer=viewer, asset=asset, data_saver=data_saver)
    except (KeyError, TypeError, IndexError):  # an asset whose renditions are incomplete
        return None


class ReactionCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField(source="reactions_count")
    by_type = serializers.SerializerMethodField()

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"},
                          "example": {"like": 3, "love": 1}})
    def get_by_type(self, obj) -> dict[str, int]:
        return obj.reaction_counts


class PostListSerializer(serializers.ListSerializer):
    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        selectors.posts_hydrate(viewer=self.context.get("viewer"), posts=items)
        return super().to_representation(items)


class PostOutputSerializer(serializers.Serializer):
    """One post card. `viewer` (in the context) decides the viewer fields and playback."""

    id = serializers.SerializerMethodField()
    author = AuthorSerializer()
    body = serializers.CharField()
    kind = serializers.ChoiceField(choices=Post.Kind.choices)
    status = serializers.ChoiceField(choices=Post.Status.choices)
    failure_reason = serializers.CharField()
    held_for_review = serializers.SerializerMethodField()
    audience = serializers.CharField()
    circle_id = serializers.SerializerMethodField()
    comments_policy = serializers.ChoiceField(choices=Post.CommentsPolicy.choices)
    language = serializers.CharField()
    media = serializers.SerializerMethodField()
    sound = serializers.SerializerMethodField()
    parent_id = serializers.SerializerMethodField()
    root_id = serializers.SerializerMethodField()
    depth = serializers.IntegerField()
    quote = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    viewer = serializers.SerializerMethodField()
    is_edited = serializers.BooleanField()
    edited_at = serializers.DateTimeField(allow_null=True)
    pinned = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)

    class Meta:
        list_serializer_class = PostListSerializer

    def to_representation(self, instance):
        if getattr(instance, "render", None) is None:
            selectors.posts_hydrate(viewer=self.context.get("viewer"), posts=[instance])
        if type(self) in _CARD_CLASSES:
            return self.card(instance)
        return super().to_representation(instance)

    def card(self, post) -> dict[str, Any]:
        """The declared fields of this class, in order, built directly (see "fast rendering")."""
        tz = timezone.get_current_timezone()
        return {
            "id": str(post.pk),
            "author": None if post.author is None else author_card(post.author),
            "body": text_output(post.body),
            "kind": text_output(post.kind),
            "status": text_output(post.status),
            "failure_reason": text_output(post.failure_reason),
            "held_for_review": self.get_held_for_review(post),
            "audience": text_output(post.audience),
            "circle_id": self.get_circle_id(post),
            "comments_policy": text_output(post.comments_policy),
            "language": text_output(post.language),
            "media": self.get_media(post),
            "sound": self.get_sound(post),
            "parent_id": self.get_parent_id(post),
            "root_id": self.get_root_id(post),
            "depth": None if post.depth is None else int(post.depth),
            "quote": self.get_quote(post),
            "counts": self.get_counts(post),
            "viewer": self.get_viewer(post),
            "is_edited": None if post.is_edited is None else bool(post.is_edited),
            "edited_at": datetime_output(post.edited_at, tz),
            "pinned": self.get_pinned(post),
            "created_at": datetime_output(post.created_at, tz),
            "published_at": datetime_output(post.published_at, tz),
        }

    def _viewer_id(self):
        viewer = self.context.get("viewer")
        return getattr(viewer, "pk", None) if getattr(viewer, "is_authenticated", False) else None

    def get_id(self, post) -> str:
        return str(post.pk)

    def get_held_for_review(self, post) -> bool:
        return post.moderation_state == "held"

    def get_circle_id(self, post) -> str | None:
        # Which circle a post went to is the author's business only.
        return str(post.circle_id) if post.circle_id and self._viewer_id() == post.author_id else None

    @extend_schema_field({"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "string"}, "position": {"type": "integer"}, "kind": {"type": "string"},
        "status": {"type": "string"}, "alt_text": {"type": "string"},
        "playback": {"type": "object", "nullable": True}}}})
    def get_media(self, post) -> list[dict[str, Any]]:
        # the prefetched list when there is one (a related manager per card costs more than
        # the card itself); the manager otherwise
        items = getattr(post, "_prefetched_objects_cache", {}).get("media_items")
        if items is None:
            items = post.media_items.all()
        viewer = self.context.get("viewer")
        data_saver = post.render.data_saver
        return [
            {
                "id": str(item.asset_id),
                "position": item.position,
                "kind": item.asset.kind,
                "status": item.asset.status,
                "alt_text": item.alt_text,
                "playback": _playback(viewer, item.asset, data_saver),
            }
            for item in items
        ]

    @extend_schema_field({"type": "object", "nullable": True, "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "artist": {"type": "string"}}})
    def get_sound(self, post) -> dict[str, str] | None:
        if post.sound is None:
            return None
        return {"id": str(post.sound.pk), "title": post.sound.title, "artist": post.sound.artist}

    def get_parent_id(self, post) -> str | None:
        return str(post.parent_id) if post.parent_id else None

    def get_root_id(self, post) -> str | None:
        return str(post.root_id) if post.root_id else None

    @extend_schema_field({"type": "object", "nullable": True, "description":
                          "The quoted post (same shape, without its own quote); "
                          "{\"unavailable\": true} when deleted or not visible to the viewer"})
    def get_quote(self, post) -> dict[str, Any] | None:
        if not post.quote_of_id:
            return None
        quoted = post.render.quote
        if quoted is None:
            return {"id": None, "unavailable": True}
        data = QuotedPostSerializer(quoted, context=self.context).data
        return data

    @extend_schema_field({"type": "object", "properties": {
        "reactions": {"type": "integer"}, "reactions_by_type": {"type": "object"}, "comments": {"type": "integer"},
        "replies": {"type": "integer"}, "reposts": {"type": "integer"}, "quotes": {"type": "integer"},
        "views": {"type": "integer"}, "saves": {"type": "integer"}}})
    def get_counts(self, post) -> dict[str, Any]:
        return {
            "reactions": post.reactions_count,
            "reactions_by_type": post.reaction_counts,
            "comments": post.comments_count,
            "replies": post.replies_count,
            "reposts": post.reposts_count,
            "quotes": post.quotes_count,
            "views": post.views_count,
            "saves": post.saves_count,
        }

    @extend_schema_field({"type": "object", "properties": {
        "reaction": {"type": "string", "nullable": True, "enum": ReactionType.values + [None]},
        "saved": {"type": "boolean"}, "reposted": {"type": "boolean"}}})
    def get_viewer(self, post) -> dict[str, Any]:
        render = post.render
        return {"reaction": render.viewer_reaction, "saved": render.saved, "reposted": render.reposted}

    def get_pinned(self, post) -> bool:
        return post.pinned_at is not None


class QuotedPostSerializer(PostOutputSerializer):
    """A quoted post inside another: same fields, its own quote reduced to an id."""

    def get_quote(self, post) -> dict[str, Any] | None:
        return {"id": str(post.quote_of_id)} if post.quote_of_id else None


_CARD_CLASSES = (PostOutputSerializer, QuotedPostSerializer)


class PostEditSerializer(serializers.Serializer):
    id = serializers.CharField()
    body = serializers.CharField()
    audience = serializers.CharField()
    created_at = serializers.DateTimeField(help_text="When this version was replaced")


class CommentOutputSerializer(serializers.Serializer):
    """A comment; `viewer_reactions` ({comment_id: reaction}) comes in the context."""

    id = serializers.SerializerMethodField()
    post_id = serializers.SerializerMethodField()
    parent_id = serializers.SerializerMethodField()
    author = AuthorSerializer()
    body = serializers.CharField()
    replies_count = serializers.IntegerField()
    reactions = ReactionCountsSerializer(source="*")
    liked_by_author = serializers.BooleanField()
    pinned = serializers.SerializerMethodField()
    held_for_review = serializers.SerializerMethodField()
    is_edited = serializers.SerializerMethodField()
    viewer_reaction = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_id(self, c: Comment) -> str:
        return str(c.pk)

    def get_post_id(self, c: Comment) -> str:
        return str(c.post_id)

    def get_parent_id(self, c: Comment) -> str | None:
        return str(c.parent_id) if c.parent_id else None

    def get_pinned(self, c: Comment) -> bool:
        return c.pinned_at is not None

    def get_held_for_review(self, c: Comment) -> bool:
        return c.moderation_state == "held"

    def get_is_edited(self, c: Comment) -> bool:
        return c.edited_at is not None

    def get_viewer_reaction(self, c: Comment) -> str | None:
        return (self.context.get("viewer_reactions") or {}).get(c.pk)


class PersonRowSerializer(serializers.Serializer):
    """A row of a likers / reposters / story viewers list."""

    class Meta:
        ref_name = "ContentPersonRow"

    id = serializers.SerializerMethodField()
    user = serializers.SerializerMethodField()
    reaction = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def _user(self, row):
        return getattr(row, "user", None) or getattr(row, "viewer")

    def get_id(self, row) -> str:
        return str(row.pk)

    @extend_schema_field(AuthorSerializer)
    def get_user(self, row) -> dict[str, Any]:
        return AuthorSerializer(self._user(row)).data

    def get_reaction(self, row) -> str | None:
        return getattr(row, "reaction", None)


class StoryOutputSerializer(serializers.Serializer):
    id = serializers.SerializerMethodField()
    author = AuthorSerializer()
    kind = serializers.CharField()
    text = serializers.CharField()
    overlays = serializers.JSONField()
    audience = serializers.CharField()
    status = serializers.ChoiceField(choices=Story.Status.choices)
    media = serializers.SerializerMethodField()
    sound = serializers.SerializerMethodField()
    seen = serializers.SerializerMethodField()
    views_count = serializers.SerializerMethodField()
    reactions = ReactionCountsSerializer(source="*")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()

    def get_id(self, s: Story) -> str:
        return str(s.pk)

    @extend_schema_field({"type": "object", "nullable": True})
    def get_media(self, s: Story) -> dict[str, Any] | None:
        return _playback(self.context.get("viewer"), s.asset, bool(self.context.get("data_saver", False)))

    @extend_schema_field({"type": "object", "nullable": True})
    def get_sound(self, s: Story) -> dict[str, str] | None:
        return {"id": str(s.sound.pk), "title": s.sound.title, "artist": s.sound.artist} if s.sound else None

    def get_seen(self, s: Story) -> bool:
        return bool(getattr(s, "seen", False))

    def get_views_count(self, s: Story) -> int | None:
        # Only the author sees how many people watched.
        viewer = self.context.get("viewer")
        return s.views_count if getattr(viewer, "pk", None) == s.author_id else None


class StoryRingSerializer(serializers.Serializer):
    author = AuthorSerializer()
    latest_story_id = serializers.SerializerMethodField()
    stories_count = serializers.IntegerField()
    unseen_count = serializers.IntegerField()
    has_unseen = serializers.BooleanField()

    def get_latest_story_id(self, ring) -> str:
        return str(ring.latest_story_id)


class SoundSerializer(serializers.Serializer):
    id = serializers.SerializerMethodField()
    title = serializers.CharField()
    artist = serializers.CharField()
    is_original = serializers.BooleanField()
    duration_ms = serializers.IntegerField(allow_null=True)
    uses_count = serializers.IntegerField()
    original_post_id = serializers.SerializerMethodField()

    def get_id(self, s) -> str:
        return str(s.pk)

    def get_original_post_id(self, s) -> str | None:
        return str(s.original_post_id) if s.original_post_id else None


class HashtagSerializer(serializers.Serializer):
    name = serializers.CharField()
    posts_count = serializers.IntegerField()


class CollectionSerializer(serializers.Serializer):
    id = serializers.SerializerMethodField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_id(self, c) -> str:
        return str(c.pk)


def thread_data(node, context: dict) -> dict[str, Any]:
    """A thread tree as JSON: {post, replies: [...], next_cursor} (posts already hydrated)."""
    return {
        "post": PostOutputSerializer(node.post, context=context).data,
        "replies": [thread_data(child, context) for child in node.replies],
        "next_cursor": node.next_cursor,
    }
