"""Content writes: posts, threads, quotes, reposts, reactions, comments, bookmarks, stories,
sounds, views; and the handlers of media and moderation events.

Every write is one transaction; counters move with F() expressions (exact under
concurrency); events go out after commit (daira/lib/events.py lists them and their payloads).
Every user text passes `moderation.services.text_enforce` first (a reject raises Invalid with
code "content_rejected"; a hold saves the row as `held`, visible only to its author, and
queues it with `case_open_for_hold`), and posts/comments count against velocity caps.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import User
from content import selectors
from content.models import (
    MAX_BODY_LENGTH,
    MAX_MEDIA_PER_POST,
    MAX_PINNED_POSTS,
    MAX_VIDEO_DURATION_MS,
    REACTION_EMOJI,
    STORY_LIFETIME,
    Bookmark,
    Collection,
    Comment,
    Hashtag,
    Mention,
    ModerationState,
    Post,
    PostEdit,
    PostHashtag,
    PostMedia,
    Reaction,
    ReactionType,
    Repost,
    Sound,
    Story,
    StoryView,
    reaction_column,
)
from daira.lib import events
from daira.lib.errors import Conflict, Invalid, NotFound, PermissionDenied
from daira.lib.redis import get_redis
from daira.lib.text import extract_hashtags, extract_mentions
from media import selectors as media_selectors
from media.models import Kind as MediaKind
from media.models import MediaAsset
from moderation import selectors as moderation_selectors
from moderation import services as moderation_services
from social import policy
from social.models import Circle

logger = logging.getLogger(__name__)

STORY_AUDIENCES = (policy.PUBLIC, policy.CLOSE_FRIENDS, policy.CIRCLE)
MAX_OVERLAYS = 20
MAX_COLLECTIONS = 100
VIEWS_PENDING_KEY = "content:views:pending"
VIEW_DEDUPE_SECONDS = 24 * 60 * 60
_ARABIC = re.compile("[\u0600-\u06ff]")
_LATIN = re.compile("[A-Za-z]")


# --- shared checks ----------------------------------------------------------------------------
def _require_can_post(actor: User) -> None:
    reason = moderation_selectors.account_post_block_reason(user=actor)
    if reason is not None:
        raise PermissionDenied("This account cannot post right now.", code=reason)


def _clean_text(text: Any, *, field: str, required: bool = False, max_length: int = MAX_BODY_LENGTH) -> str:
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise Invalid("Text expected.", field=field)
    text = text.strip()
    if required and not text:
        raise Invalid("This cannot be empty.", field=field)
    if len(text) > max_length:
        raise Invalid(f"Limited to {max_length} characters.", field=field)
    return text


def _moderate(*, actor: User, text: str, context: str, field: str):
    """text_enforce (raises on reject); returns the verdict (held or not)."""
    if not text:
        return None
    return moderation_services.text_enforce(actor=actor, text=text, context=context, field=field)


def _audience_checked(*, actor: User, audience: str, circle_id: Any, allowed: Sequence[str]) -> Circle | None:
    if audience not in allowed:
        raise Invalid(f"audience must be one of {', '.join(allowed)}.", field="audience")
    if audience != policy.CIRCLE:
        if circle_id not in (None, ""):
            raise Invalid("circle_id is only for the circle audience.", field="circle_id")
        return None
    try:
        circle = Circle.objects.filter(pk=int(circle_id), owner_id=actor.pk).first()
    except (TypeError, ValueError):
        circle = None
    if circle is None:
        raise Invalid("Choose one of your circles.", field="circle_id")
    return circle


def _guess_language(text: str) -> str:
    arabic = len(_ARABIC.findall(text))
    latin = len(_LATIN.findall(text))
    if not arabic and not latin:
        return ""
    return "ar" if arabic >= latin else "en"


def _add(model, pk: int, **deltas: int) -> None:
    """Add counter deltas to one row atomically (clamped at 0)."""
    updates = {name: Greatest(F(name) + delta, 0) if delta < 0 else F(name) + delta for name, delta in deltas.items()
               if delta}
    if updates:
        model.objects.filter(pk=pk).update(**updates)


def _insert_or_lock(fresh, **lookup):
    """INSERT `fresh` ... ON CONFLICT DO NOTHING, then lock the row for `lookup` (ours or the
    existing one: compare pks to know which). A concurrent delete can remove the row we
    conflicted with before we lock it; insert again in that case."""
    model = type(fresh)
    for _ in range(5):
        model.objects.bulk_create([fresh], ignore_conflicts=True)
        row = model.objects.select_for_update().filter(**lookup).first()
        if row is not None:
            return row
    raise Conflict("Please try again.", code="busy")  # pragma: no cover - five lost races in a row


# --- hashtags and mentions --------------------------------------------------------------------
def _hashtags_sync(*, post: Post, text: str) -> None:
    wanted = extract_hashtags(text)[:30]
    wanted = [t[:100] for t in wanted]
    current = dict(PostHashtag.objects.filter(post=post).values_list("hashtag__name", "id"))
    removed = [link_id for name, link_id in current.items() if name not in wanted]
    if removed:
        tag_ids = list(PostHashtag.objects.filter(pk__in=removed).values_list("hashtag_id", flat=True))
        PostHashtag.objects.filter(pk__in=removed).delete()
        Hashtag.objects.filter(pk__in=tag_ids).update(posts_count=Greatest(F("posts_count") - 1, 0))
    new = [name for name in wanted if name not in current]
    if not new:
        return
    Hashtag.objects.bulk_create([Hashtag(name=name) for name in new], ignore_conflicts=True)
    tags = list(Hashtag.objects.filter(name__in=new))
    PostHashtag.objects.bulk_create([PostHashtag(post=post, hashtag=tag) for tag in tags], ignore_conflicts=True)
    Hashtag.objects.filter(pk__in=[t.pk for t in tags]).update(
        posts_count=F("posts_count") + 1, last_used_at=timezone.now()
    )


def _hashtags_clear(*, post: Post) -> None:
    tag_ids = list(PostHashtag.objects.filter(post=post).values_list("hashtag_id", flat=True))
    PostHashtag.objects.filter(post=post).delete()
    Hashtag.objects.filter(pk__in=tag_ids).update(posts_count=Greatest(F("posts_count") - 1, 0))


def _mentions_sync(*, author: User, text: str, extra_handles: Sequence[str] = (), **target: Any) -> list[Mention]:
    """Store @mentions of `text` (+ `extra_handles`) on the target (post=/comment=/story=);
    unknown handles stay text; people whose who_can_mention refuses `author` are not linked.
    Removes mentions no longer present. Returns the new Mention rows."""
    handles = list(dict.fromkeys(extract_mentions(text) + [h.lower().lstrip("@") for h in extra_handles]))[:50]
    users = {
        u.handle: u for u in User.objects.filter(handle__in=handles).select_related("settings")
    } if handles else {}
    allowed = {u.pk: u for u in users.values() if policy.can_mention(author, u)}
    existing = set(Mention.objects.filter(**target).values_list("mentioned_id", flat=True))
    stale = existing - set(allowed)
    if stale:
        Mention.objects.filter(**target, mentioned_id__in=stale).delete()
    created = [Mention(author=author, mentioned=u, **target) for uid, u in allowed.items() if uid not in existing]
    if created:
        Mention.objects.bulk_create(created, ignore_conflicts=True)
    return created


def _emit_mentions(mentions: Sequence[Mention], *, target_type: str, target_id: int, author_id: int) -> None:
    for mention in mentions:
        if mention.mentioned_id == author_id:
            continue
        events.emit_on_commit(
            "mention.created", mention_id=mention.pk, target_type=target_type, target_id=target_id,
            author_id=author_id, mentioned_id=mention.mentioned_id,
        )


# --- posts ------------------------------------------------------------------------------------
def _post_kind(assets: Sequence[MediaAsset]) -> str:
    if not assets:
        return Post.Kind.TEXT
    if len(assets) > 1:
        return Post.Kind.CAROUSEL
    return Post.Kind.VIDEO if assets[0].kind == MediaKind.VIDEO else Post.Kind.PHOTO


def _counts_toward_profile(post: Post) -> bool:
    return post.parent_id is None and post.status == Post.Status.PUBLISHED and post.moderation_state != ModerationState.REMOVED


def _post_announce(post: Post) -> None:
    """Emit "post.published" (and the post's mentions) the first time it is published and
    visible; idempotent through `announced_at`."""
    if post.status != Post.Status.PUBLISHED or post.moderation_state != ModerationState.VISIBLE:
        return
    if post.deleted_at is not None or post.announced_at is not None:
        return
    updated = Post.objects.filter(pk=post.pk, announced_at__isnull=True).update(announced_at=timezone.now())
    if not updated:
        return
    post.announced_at = timezone.now()
    events.emit_on_commit(
        "post.published", post_id=post.pk, author_id=post.author_id, parent_id=post.parent_id, root_id=post.root_id
    )
    _emit_mentions(list(Mention.objects.filter(post=post)), target_type="post", target_id=post.pk,
                   author_id=post.author_id)


def _post_became_published(post: Post) -> None:
    now = timezone.now()
    post.status = Post.Status.PUBLISHED
    post.published_at = now
    Post.objects.filter(pk=post.pk).update(status=post.status, published_at=now, failure_reason="")
    if _counts_toward_profile(post):
        accounts_services.profile_counts_add(user_id=post.author_id, posts=1)
    if post.sound_id:
        _add(Sound, post.sound_id, uses_count=1)
    _post_announce(post)


@transaction.atomic
def post_create(
    *,
    author: User,
    body: str = "",
    media_ids: Sequence[int] = (),
    alt_texts: Sequence[str] = (),
    audience: str | None = None,
    circle_id: int | None = None,
    comments_policy: str = Post.CommentsPolicy.EVERYONE,
    sound_id: int | None = None,
    parent_id: int | None = None,
    quote_of_id: int | None = None,
    language: str | None = None,
) -> Post:
    """Create a post, a reply (`parent_id`) or a quote (`quote_of_id`) for `author`.

    Up to 10 media (a carousel; one video = a short video of ≤ 10 minutes, which may pick a
    `sound_id`). Media still processing → saved `pending` (the id is returned at once) and
    published by the "media.ready" handler; otherwise published now. `audience` defaults to
    the author's default_post_audience; "circle" needs one of the author's circles.

    Raises PermissionDenied (suspended/limited/throttled account; replies where the parent's
    comment controls refuse the author, code "comments_restricted"; quoting a non-public
    post, code "not_quotable"), Invalid (empty, >2,200 chars, bad media/audience/sound,
    text rejected by moderation: code "content_rejected"), NotFound (parent/quoted post not
    visible), RateLimited (velocity). Side effects after commit: "post.created"; for a
    published visible post "post.published" and "mention.created" per allowed mention;
    "quote.created" for quotes. A held text is queued for review (visible to the author only).
    """
    _require_can_post(author)
    body = _clean_text(body, field="body")
    media_ids = list(media_ids or [])
    if len(media_ids) > MAX_MEDIA_PER_POST:
        raise Invalid(f"A post has at most {MAX_MEDIA_PER_POST} media items.", field="media_ids")
    if not body and not media_ids and quote_of_id is None:
        raise Invalid("A post needs text or at least one photo or video.", field="body")
    if comments_policy not in Post.CommentsPolicy.values:
        raise Invalid("Unknown comments setting.", field="comments_policy")
    try:
        wanted_ids = [int(i) for i in media_ids]
    except (TypeError, ValueError):
        raise Invalid("Media ids must be numbers.", field="media_ids") from None
    if len(set(wanted_ids)) != len(wanted_ids):
        raise Invalid("The same media item is attached twice.", field="media_ids")
    assets = media_selectors.media_list_owned_by(owner=author, media_ids=wanted_ids)
    if len(assets) != len(wanted_ids):
        raise Invalid("One of the media items does not exist.", field="media_ids")
    for asset in assets:
        if asset.kind == MediaKind.VIDEO and asset.duration_ms and asset.duration_ms > MAX_VIDEO_DURATION_MS:
            raise Invalid("Videos are limited to 10 minutes.", field="media_ids")
    kind = _post_kind(assets)

    if audience is None:
        audience = getattr(getattr(author, "settings", None), "default_post_audience", None) or policy.PUBLIC
    circle = _audience_checked(actor=author, audience=audience, circle_id=circle_id, allowed=policy.audience_names())

    sound = None
    if sound_id is not None:
        if kind != Post.Kind.VIDEO:
            raise Invalid("Only a video can use a sound.", field="sound_id")
        try:
            sound = Sound.objects.filter(pk=int(sound_id)).first()
        except (TypeError, ValueError):
            sound = None
        if sound is None:
            raise Invalid("Sound not found.", field="sound_id")

    parent = root = None
    depth = 0
    if parent_id is not None:
        parent = selectors.post_get_visible(viewer=author, post_id=parent_id)
        if parent.status != Post.Status.PUBLISHED:
            raise NotFound("Post not found.")
        if not policy.can_comment(author, parent.author, parent.comments_policy):
            raise PermissionDenied("The author limited who can reply.", code="comments_restricted")
        root = parent.root if parent.root_id else parent
        depth = parent.depth + 1

    quoted = None
    if quote_of_id is not None:
        quoted = selectors.post_get_visible(viewer=author, post_id=quote_of_id)
        if quoted.status != Post.Status.PUBLISHED:
            raise NotFound("Post not found.")
        if quoted.audience != policy.PUBLIC and quoted.author_id != author.pk:
            raise PermissionDenied("Only public posts can be quoted.", code="not_quotable")

    alt_texts = [str(t)[:300] for t in (alt_texts or [])]
    moderation_services.velocity_check(actor=author, action="posts")
    # Captions (alt texts) are user text too: one check over everything the post shows.
    verdict = _moderate(actor=author, text="\n".join(t for t in (body, *alt_texts) if t), context="post",
                        field="body")
    held = bool(verdict and verdict.held)

    pending = any(a.status != MediaAsset.Status.READY for a in assets)
    post = Post.objects.create(
        author=author,
        body=body,
        kind=kind,
        status=Post.Status.PENDING,  # published just below when no media is processing, with its effects
        moderation_state=ModerationState.HELD if held else ModerationState.VISIBLE,
        audience=audience,
        circle=circle,
        comments_policy=comments_policy,
        sound=sound,
        parent=parent,
        root=root,
        depth=depth,
        quote_of=quoted,
        language=(language or _guess_language(body))[:8],
    )
    PostMedia.objects.bulk_create(
        [
            PostMedia(post=post, asset=asset, position=i, alt_text=alt_texts[i] if i < len(alt_texts) else "")
            for i, asset in enumerate(assets)
        ]
    )
    _hashtags_sync(post=post, text=body)
    _mentions_sync(author=author, text=body, post=post)
    if parent is not None:
        _add(Post, parent.pk, replies_count=1)
    if quoted is not None:
        _add(Post, quoted.pk, quotes_count=1)
        events.emit_on_commit(
            "quote.created", post_id=post.pk, author_id=author.pk, quoted_post_id=quoted.pk,
            quoted_author_id=quoted.author_id,
        )
    if held:
        moderation_services.case_open_for_hold(target_type="post", target_id=post.pk, verdict=verdict)
    events.emit_on_commit(
        "post.created", post_id=post.pk, author_id=author.pk, status=Post.Status.PENDING if pending else Post.Status.PUBLISHED,
        parent_id=post.parent_id, root_id=post.root_id, quote_of_id=post.quote_of_id,
    )
    if not pending:
        _post_became_published(post)
    logger.info("post.created", extra={"post_id": post.pk, "pending": pending, "held": held})
    return post


def _post_owned_locked(*, actor: User, post_id: Any) -> Post:
    try:
        post = Post.objects.select_for_update().filter(pk=int(post_id), author_id=actor.pk, deleted_at__isnull=True).first()
    except (TypeError, ValueError):
        post = None
    if post is None:
        raise NotFound("Post not found.")
    return post


@transaction.atomic
def post_update(
    *,
    actor: User,
    post_id: Any,
    body: str | None = None,
    audience: str | None = None,
    circle_id: Any = None,
    comments_policy: str | None = None,
) -> Post:
    """Edit the author's own post: text and audience (the previous version is kept in
    PostEdit and the post shows "edited"), and the comment controls (not an edit).

    Raises NotFound (not the actor's, or deleted), Invalid (as post_create), PermissionDenied
    (account cannot post). A held new text hides the post from others pending review.
    Emits "post.updated" {post_id, author_id} and "mention.created" for new mentions.
    """
    _require_can_post(actor)
    post = _post_owned_locked(actor=actor, post_id=post_id)
    new_body = post.body if body is None else _clean_text(body, field="body")
    if not new_body and not post.media_items.exists() and post.quote_of_id is None:
        raise Invalid("A post needs text or at least one photo or video.", field="body")
    new_audience = post.audience if audience is None else audience
    new_circle = post.circle
    if audience is not None or circle_id is not None:
        new_circle = _audience_checked(
            actor=actor, audience=new_audience,
            circle_id=circle_id if circle_id is not None else (post.circle_id if new_audience == policy.CIRCLE else None),
            allowed=policy.audience_names(),
        )
    if comments_policy is not None:
        if comments_policy not in Post.CommentsPolicy.values:
            raise Invalid("Unknown comments setting.", field="comments_policy")
        post.comments_policy = comments_policy

    changed = new_body != post.body or new_audience != post.audience or (new_circle and new_circle.pk) != post.circle_id
    new_mentions: list[Mention] = []
    if changed:
        verdict = _moderate(actor=actor, text=new_body, context="post", field="body") if new_body != post.body else None
        PostEdit.objects.create(post=post, body=post.body, audience=post.audience, circle_id=post.circle_id)
        post.body, post.audience, post.circle = new_body, new_audience, new_circle
        post.edited_at = timezone.now()
        post.language = _guess_language(new_body)[:8] or post.language
        if verdict is not None and verdict.held and post.moderation_state == ModerationState.VISIBLE:
            post.moderation_state = ModerationState.HELD
            post.save()
            moderation_services.case_open_for_hold(target_type="post", target_id=post.pk, verdict=verdict)
        _hashtags_sync(post=post, text=new_body)
        new_mentions = _mentions_sync(author=actor, text=new_body, post=post)
    post.save()
    if post.announced_at is not None and post.moderation_state == ModerationState.VISIBLE:
        _emit_mentions(new_mentions, target_type="post", target_id=post.pk, author_id=actor.pk)
    events.emit_on_commit("post.updated", post_id=post.pk, author_id=actor.pk)
    return post


@transaction.atomic
def post_delete(*, actor: User, post_id: Any) -> None:
    """Soft-delete the actor's own post: hidden at once everywhere (its comments with it),
    unpinned, counters of the parent/quoted post and the profile adjusted, hashtags
    unlinked. Raises NotFound. Emits "post.deleted" {post_id, author_id}."""
    post = _post_owned_locked(actor=actor, post_id=post_id)
    post.deleted_at = timezone.now()
    post.pinned_at = None
    post.save(update_fields=["deleted_at", "pinned_at"])
    if _counts_toward_profile(post):
        accounts_services.profile_counts_add(user_id=post.author_id, posts=-1)
    if post.parent_id:
        _add(Post, post.parent_id, replies_count=-1)
    if post.quote_of_id:
        _add(Post, post.quote_of_id, quotes_count=-1)
    if post.sound_id and post.status == Post.Status.PUBLISHED:
        _add(Sound, post.sound_id, uses_count=-1)
    _hashtags_clear(post=post)
    events.emit_on_commit("post.deleted", post_id=post.pk, author_id=post.author_id)


@transaction.atomic
def post_pin(*, actor: User, post_id: Any) -> Post:
    """Pin one of the actor's published top-level posts to their profile (at most 3).
    Raises NotFound, Invalid (a reply or unpublished post), Conflict(code="too_many_pins")."""
    User.objects.select_for_update().filter(pk=actor.pk).first()  # serialise pins of one profile
    post = _post_owned_locked(actor=actor, post_id=post_id)
    if post.parent_id is not None or post.status != Post.Status.PUBLISHED:
        raise Invalid("Only published posts (not replies) can be pinned.", field="post_id")
    if post.pinned_at is not None:
        return post
    pinned = Post.objects.filter(author_id=actor.pk, pinned_at__isnull=False, deleted_at__isnull=True).count()
    if pinned >= MAX_PINNED_POSTS:
        raise Conflict(f"You can pin up to {MAX_PINNED_POSTS} posts.", code="too_many_pins")
    post.pinned_at = timezone.now()
    post.save(update_fields=["pinned_at"])
    return post


@transaction.atomic
def post_unpin(*, actor: User, post_id: Any) -> Post:
    post = _post_owned_locked(actor=actor, post_id=post_id)
    post.pinned_at = None
    post.save(update_fields=["pinned_at"])
    return post


# --- media and moderation events -----------------------------------------------------------
@transaction.atomic
def posts_media_ready(*, asset_id: int) -> list[int]:
    """Publish the pending posts and stories waiting on `asset_id` once all their media is
    ready. Idempotent (a redelivered event finds nothing pending). Returns published post ids."""
    published: list[int] = []
    post_ids = PostMedia.objects.filter(asset_id=asset_id).values_list("post_id", flat=True)
    for post in Post.objects.select_for_update().filter(pk__in=list(post_ids), status=Post.Status.PENDING):
        assets = list(PostMedia.objects.filter(post=post).values_list("asset__status", "asset__kind",
                                                                       "asset__duration_ms"))
        if {status for status, _, _ in assets} != {MediaAsset.Status.READY}:
            continue
        # The length of a video is only known once media probed it.
        if any(kind == MediaKind.VIDEO and (ms or 0) > MAX_VIDEO_DURATION_MS for _, kind, ms in assets):
            Post.objects.filter(pk=post.pk).update(status=Post.Status.FAILED,
                                                   failure_reason="Videos are limited to 10 minutes.")
            continue
        _post_became_published(post)
        published.append(post.pk)
    for story in Story.objects.select_for_update().filter(asset_id=asset_id, status=Story.Status.PENDING):
        _story_became_published(story)
    return published


@transaction.atomic
def posts_media_failed(*, asset_id: int) -> list[int]:
    """Mark pending posts and stories using `asset_id` as failed (with the media's reason)."""
    asset = MediaAsset.objects.filter(pk=asset_id).first()
    reason = (asset.failure_message or asset.failure_code) if asset else "The media could not be processed."
    reason = (reason or "The media could not be processed.")[:300]
    post_ids = list(PostMedia.objects.filter(asset_id=asset_id).values_list("post_id", flat=True))
    failed = list(Post.objects.filter(pk__in=post_ids, status=Post.Status.PENDING).values_list("id", flat=True))
    Post.objects.filter(pk__in=failed).update(status=Post.Status.FAILED, failure_reason=reason)
    Story.objects.filter(asset_id=asset_id, status=Story.Status.PENDING).update(
        status=Story.Status.FAILED, failure_reason=reason
    )
    return failed


@transaction.atomic
def sound_from_video(*, asset_id: int) -> Sound | None:
    """Make the "original audio" sound of an uploaded video whose audio track media
    extracted; idempotent (one sound per source asset). The video's post (if any, and if it
    picked no other sound) uses it. Returns the sound, or None for an unknown asset."""
    asset = MediaAsset.objects.select_related("owner").filter(pk=asset_id).first()
    if asset is None or asset.kind != MediaKind.VIDEO:
        return None
    existing = Sound.objects.filter(source_asset=asset).first()
    if existing is not None:
        return existing
    link = PostMedia.objects.filter(asset=asset).select_related("post").order_by("id").first()
    post = link.post if link else None
    try:
        with transaction.atomic():
            sound = Sound.objects.create(
                title=f"Original audio — @{asset.owner.handle}"[:120],
                artist=asset.owner.handle,
                owner=asset.owner,
                audio_asset=asset,
                source_asset=asset,
                original_post=post,
                is_original=True,
                duration_ms=asset.duration_ms,
            )
    except IntegrityError:  # a concurrent delivery of the same event made it
        return Sound.objects.filter(source_asset=asset).first()
    if post is not None and post.sound_id is None and post.kind == Post.Kind.VIDEO:
        Post.objects.filter(pk=post.pk).update(sound=sound)
        if post.status == Post.Status.PUBLISHED:
            _add(Sound, sound.pk, uses_count=1)
    return sound


@transaction.atomic
def sound_create(*, actor: User, title: str, artist: str = "", audio_asset_id: Any = None) -> Sound:
    """A named sound from one of the actor's media assets (audio in renditions["audio"])."""
    _require_can_post(actor)
    title = _clean_text(title, field="title", required=True, max_length=120)
    artist = _clean_text(artist, field="artist", max_length=120)
    _moderate(actor=actor, text=f"{title} {artist}".strip(), context="sound", field="title")
    assets = media_selectors.media_list_owned_by(owner=actor, media_ids=[audio_asset_id]) if audio_asset_id else []
    if audio_asset_id and not assets:
        raise Invalid("Media not found.", field="audio_asset_id")
    return Sound.objects.create(title=title, artist=artist, owner=actor, audio_asset=assets[0] if assets else None,
                                duration_ms=assets[0].duration_ms if assets else None)


_MODELS = {"post": Post, "comment": Comment, "story": Story}


def _target_model(app_label: str, model: str):
    if app_label != "content":
        return None
    return _MODELS.get(model)


@transaction.atomic
def moderation_hide(*, content_type: str, object_id: int) -> bool:
    """Hide a post/comment/story pending review ("moderation.target_hidden"). Idempotent.
    Returns True when something changed."""
    app_label, _, model_name = str(content_type).partition(".")
    model = _target_model(app_label, model_name)
    if model is None:
        return False
    return bool(
        model.objects.filter(pk=object_id, moderation_state__in=[ModerationState.VISIBLE, ModerationState.HELD]).update(
            moderation_state=ModerationState.HIDDEN
        )
    )


@transaction.atomic
def moderation_apply(*, target_app_label: str, target_model: str, target_id: int, decision: str) -> bool:
    """Apply a moderator's decision to content ("moderation.decided"): "remove" removes it;
    every other decision (dismiss, warn, limit, suspensions, "restored") makes it visible
    again — the case is closed and the text itself was not found at fault. A held post
    made visible is announced then ("post.published"). Idempotent."""
    model = _target_model(target_app_label, target_model)
    if model is None:
        return False
    row = model.objects.select_for_update().filter(pk=target_id).first()
    if row is None:
        return False
    before = row.moderation_state
    after = ModerationState.REMOVED if decision == "remove" else ModerationState.VISIBLE
    if before == after:
        return False
    row.moderation_state = after
    row.save(update_fields=["moderation_state"])
    if model is Post and row.parent_id is None and row.status == Post.Status.PUBLISHED and row.deleted_at is None:
        if after == ModerationState.REMOVED:
            accounts_services.profile_counts_add(user_id=row.author_id, posts=-1)
        elif before == ModerationState.REMOVED:
            accounts_services.profile_counts_add(user_id=row.author_id, posts=1)
    if model is Post:
        _post_announce(row)
    return True


# --- views ------------------------------------------------------------------------------------
def post_view_record(*, viewer, post_id: Any) -> bool:
    """Count a view of a visible post, buffered in Redis (flushed by `post_views_flush`).
    A logged-in viewer counts once a day per post; the author's own views do not count.
    Raises NotFound. Returns True when the view was counted."""
    post = selectors.post_get_visible(viewer=viewer, post_id=post_id)
    vid = policy.viewer_id(viewer)
    if vid == post.author_id:
        return False
    client = get_redis()
    if vid is not None and not client.set(f"content:viewed:{post.pk}:{vid}", 1, nx=True, ex=VIEW_DEDUPE_SECONDS):
        return False
    client.hincrby(VIEWS_PENDING_KEY, str(post.pk), 1)
    return True


def post_views_flush() -> int:
    """Move buffered view counts into Post.views_count. The buffer is renamed atomically
    first, so views arriving during the flush go to the next one. Returns posts updated."""
    client = get_redis()
    batch_key = f"{VIEWS_PENDING_KEY}:flushing"
    if not client.exists(batch_key):  # a crashed earlier flush left one: finish it first
        try:
            client.rename(VIEWS_PENDING_KEY, batch_key)
        except Exception:  # no such key: nothing buffered
            return 0
    pending = client.hgetall(batch_key)
    updated = 0
    with transaction.atomic():
        for raw_id, raw_count in pending.items():
            updated += Post.objects.filter(pk=int(raw_id)).update(views_count=F("views_count") + int(raw_count))
    client.delete(batch_key)
    return updated


# --- reactions --------------------------------------------------------------------------------
def _reaction_normalised(reaction: Any) -> str:
    reaction = REACTION_EMOJI.get(str(reaction), str(reaction)) if reaction is not None else ""
    if reaction not in ReactionType.values:
        raise Invalid(f"reaction must be one of {', '.join(ReactionType.values)}.", field="reaction")
    return reaction


def _reaction_target(*, actor: User, target_type: str, target_id: Any):
    if target_type == "post":
        target = selectors.post_get_visible(viewer=actor, post_id=target_id)
        if target.status != Post.Status.PUBLISHED:
            raise NotFound("Post not found.")
        return target, target.author_id
    if target_type == "comment":
        target = selectors.comment_get_visible(viewer=actor, comment_id=target_id)
        return target, target.author_id
    if target_type == "story":
        target = selectors.story_get_visible(viewer=actor, story_id=target_id)
        return target, target.author_id
    raise Invalid("target_type must be post, comment or story.", field="target_type")


@transaction.atomic
def reaction_set(*, actor: User, target_type: str, target_id: Any, reaction: str) -> Reaction:
    """Set the actor's one reaction on a post, comment or story (add, or change its type).

    Idempotent for the same type. Counters (total and per type) change atomically, exact
    under any concurrency (a unique row per user and target + F() updates). Raises
    NotFound for targets the actor may not see, Invalid for an unknown reaction. Emits
    "reaction.added" {target_type, target_id, user_id, owner_id, reaction} for a new
    reaction. A post author's reaction on a comment of their post sets its marker.
    """
    reaction = _reaction_normalised(reaction)
    target, owner_id = _reaction_target(actor=actor, target_type=target_type, target_id=target_id)
    if actor.status != User.Status.ACTIVE:
        raise PermissionDenied("This account cannot react right now.")
    fresh = Reaction(user=actor, reaction=reaction, **{target_type: target})
    row = _insert_or_lock(fresh, user=actor, **{f"{target_type}_id": target.pk})
    model = type(target)
    if row.pk == fresh.pk:
        _add(model, target.pk, reactions_count=1, **{reaction_column(reaction): 1})
        if target_type == "comment" and target.post.author_id == actor.pk:
            Comment.objects.filter(pk=target.pk).update(liked_by_author=True)
        events.emit_on_commit(
            "reaction.added", target_type=target_type, target_id=target.pk, user_id=actor.pk, owner_id=owner_id,
            reaction=reaction,
        )
    elif row.reaction != reaction:
        _add(model, target.pk, **{reaction_column(row.reaction): -1, reaction_column(reaction): 1})
        row.reaction = reaction
        row.updated_at = timezone.now()
        row.save(update_fields=["reaction", "updated_at"])
    return row


@transaction.atomic
def reaction_remove(*, actor: User, target_type: str, target_id: Any) -> bool:
    """Remove the actor's reaction from a target (no-op when there is none). Returns True
    when one was removed."""
    if target_type not in _MODELS:
        raise Invalid("target_type must be post, comment or story.", field="target_type")
    try:
        target_id = int(target_id)
    except (TypeError, ValueError):
        raise NotFound("Not found.") from None
    row = Reaction.objects.select_for_update().filter(user=actor, **{f"{target_type}_id": target_id}).first()
    if row is None:
        return False
    row.delete()
    _add(_MODELS[target_type], target_id, reactions_count=-1, **{reaction_column(row.reaction): -1})
    if target_type == "comment":
        comment = Comment.objects.select_related("post").filter(pk=target_id).first()
        if comment is not None and comment.post.author_id == actor.pk:
            Comment.objects.filter(pk=target_id).update(liked_by_author=False)
    return True


# --- reposts and bookmarks ---------------------------------------------------------------------
@transaction.atomic
def repost_create(*, actor: User, post_id: Any) -> Repost:
    """Share a visible public post without comment (idempotent). Raises NotFound,
    PermissionDenied(code="not_repostable") for non-public posts. Emits "repost.created"
    {post_id, user_id, author_id} the first time."""
    _require_can_post(actor)
    post = selectors.post_get_visible(viewer=actor, post_id=post_id)
    if post.status != Post.Status.PUBLISHED:
        raise NotFound("Post not found.")
    if post.audience != policy.PUBLIC:
        raise PermissionDenied("Only public posts can be reposted.", code="not_repostable")
    fresh = Repost(user=actor, post=post)
    row = _insert_or_lock(fresh, user=actor, post=post)
    if row.pk == fresh.pk:
        _add(Post, post.pk, reposts_count=1)
        events.emit_on_commit("repost.created", post_id=post.pk, user_id=actor.pk, author_id=post.author_id)
    return row


@transaction.atomic
def repost_delete(*, actor: User, post_id: Any) -> bool:
    """Undo a repost (no-op when there is none)."""
    try:
        post_id = int(post_id)
    except (TypeError, ValueError):
        raise NotFound("Post not found.") from None
    deleted, _ = Repost.objects.filter(user=actor, post_id=post_id).delete()
    if deleted:
        _add(Post, post_id, reposts_count=-1)
    return bool(deleted)


@transaction.atomic
def collection_create(*, actor: User, name: str) -> Collection:
    name = _clean_text(name, field="name", required=True, max_length=60)
    if Collection.objects.filter(owner=actor).count() >= MAX_COLLECTIONS:
        raise Conflict(f"You can have up to {MAX_COLLECTIONS} collections.", code="too_many_collections")
    try:
        with transaction.atomic():
            return Collection.objects.create(owner=actor, name=name)
    except IntegrityError:
        raise Conflict("You already have a collection with this name.", code="collection_exists") from None


@transaction.atomic
def collection_delete(*, actor: User, collection_id: Any) -> None:
    """Delete a collection; its bookmarks stay saved (outside any collection)."""
    selectors.collection_get_owned(actor=actor, collection_id=collection_id).delete()


@transaction.atomic
def bookmark_add(*, actor: User, post_id: Any, collection_id: Any = None) -> Bookmark:
    """Save a visible post, optionally into one of the actor's collections (saving again
    moves it). Raises NotFound. Counts toward the post's saves once."""
    post = selectors.post_get_visible(viewer=actor, post_id=post_id)
    collection = selectors.collection_get_owned(actor=actor, collection_id=collection_id) if collection_id else None
    fresh = Bookmark(user=actor, post=post, collection=collection)
    row = _insert_or_lock(fresh, user=actor, post=post)
    if row.pk == fresh.pk:
        _add(Post, post.pk, saves_count=1)
    elif row.collection_id != (collection.pk if collection else None):
        row.collection = collection
        row.save(update_fields=["collection"])
    return row


@transaction.atomic
def bookmark_remove(*, actor: User, post_id: Any) -> bool:
    try:
        post_id = int(post_id)
    except (TypeError, ValueError):
        raise NotFound("Post not found.") from None
    deleted, _ = Bookmark.objects.filter(user=actor, post_id=post_id).delete()
    if deleted:
        _add(Post, post_id, saves_count=-1)
    return bool(deleted)


# --- comments ---------------------------------------------------------------------------------
@transaction.atomic
def comment_create(*, actor: User, post_id: Any, body: str, parent_id: Any = None) -> Comment:
    """Comment on a visible published post, or reply to one of its comments (`parent_id`).

    Raises NotFound, PermissionDenied(code="comments_restricted") when the post's comment
    controls refuse the actor (off / followers / following / friends), Invalid (empty,
    too long, rejected text), RateLimited (velocity "comments"). Counts on the post (all
    comments) and the parent (its replies). Emits "comment.created" {comment_id, post_id,
    author_id, post_author_id, parent_id, parent_author_id} and mentions, unless held.
    """
    _require_can_post(actor)
    body = _clean_text(body, field="body", required=True)
    post = selectors.post_get_visible(viewer=actor, post_id=post_id)
    if post.status != Post.Status.PUBLISHED:
        raise NotFound("Post not found.")
    if not policy.can_comment(actor, post.author, post.comments_policy):
        raise PermissionDenied("The author limited who can comment.", code="comments_restricted")
    parent = None
    if parent_id not in (None, ""):
        parent = selectors.comment_get_visible(viewer=actor, comment_id=parent_id)
        if parent.post_id != post.pk:
            raise Invalid("That comment belongs to another post.", field="parent_id")
    moderation_services.velocity_check(actor=actor, action="comments")
    verdict = _moderate(actor=actor, text=body, context="comment", field="body")
    held = bool(verdict and verdict.held)
    comment = Comment.objects.create(
        post=post, author=actor, parent=parent, body=body,
        moderation_state=ModerationState.HELD if held else ModerationState.VISIBLE,
    )
    _add(Post, post.pk, comments_count=1)
    if parent is not None:
        _add(Comment, parent.pk, replies_count=1)
    mentions = _mentions_sync(author=actor, text=body, comment=comment)
    if held:
        moderation_services.case_open_for_hold(target_type="comment", target_id=comment.pk, verdict=verdict)
    else:
        events.emit_on_commit(
            "comment.created", comment_id=comment.pk, post_id=post.pk, author_id=actor.pk,
            post_author_id=post.author_id, parent_id=parent.pk if parent else None,
            parent_author_id=parent.author_id if parent else None,
        )
        _emit_mentions(mentions, target_type="comment", target_id=comment.pk, author_id=actor.pk)
    return comment


def _comment_locked(*, comment_id: Any) -> Comment:
    try:
        comment = (
            Comment.objects.select_for_update(of=("self",)).select_related("post")
            .filter(pk=int(comment_id), deleted_at__isnull=True).first()
        )
    except (TypeError, ValueError):
        comment = None
    if comment is None:
        raise NotFound("Comment not found.")
    return comment


@transaction.atomic
def comment_update(*, actor: User, comment_id: Any, body: str) -> Comment:
    """Edit the actor's own comment (marked edited). Raises NotFound, Invalid."""
    comment = _comment_locked(comment_id=comment_id)
    if comment.author_id != actor.pk:
        raise NotFound("Comment not found.")
    body = _clean_text(body, field="body", required=True)
    verdict = _moderate(actor=actor, text=body, context="comment", field="body")
    comment.body = body
    comment.edited_at = timezone.now()
    if verdict is not None and verdict.held and comment.moderation_state == ModerationState.VISIBLE:
        comment.moderation_state = ModerationState.HELD
        comment.save()
        moderation_services.case_open_for_hold(target_type="comment", target_id=comment.pk, verdict=verdict)
    comment.save()
    new = _mentions_sync(author=actor, text=body, comment=comment)
    if comment.moderation_state == ModerationState.VISIBLE:
        _emit_mentions(new, target_type="comment", target_id=comment.pk, author_id=actor.pk)
    return comment


@transaction.atomic
def comment_delete(*, actor: User, comment_id: Any) -> None:
    """Soft-delete a comment: by its author or by the post's author. Raises NotFound."""
    comment = _comment_locked(comment_id=comment_id)
    if actor.pk not in (comment.author_id, comment.post.author_id):
        raise NotFound("Comment not found.")
    comment.deleted_at = timezone.now()
    comment.pinned_at = None
    comment.save(update_fields=["deleted_at", "pinned_at"])
    _add(Post, comment.post_id, comments_count=-1)
    if comment.parent_id:
        _add(Comment, comment.parent_id, replies_count=-1)


@transaction.atomic
def comment_pin(*, actor: User, comment_id: Any) -> Comment:
    """The post's author pins one top-level comment (replacing any pinned one)."""
    comment = _comment_locked(comment_id=comment_id)
    if comment.post.author_id != actor.pk or comment.post.deleted_at is not None:
        raise NotFound("Comment not found.")
    if comment.parent_id is not None:
        raise Invalid("Only top-level comments can be pinned.", field="comment_id")
    if comment.moderation_state != ModerationState.VISIBLE:
        raise Invalid("This comment cannot be pinned.", field="comment_id")
    Comment.objects.filter(post_id=comment.post_id, pinned_at__isnull=False).exclude(pk=comment.pk).update(pinned_at=None)
    comment.pinned_at = timezone.now()
    comment.save(update_fields=["pinned_at"])
    return comment


@transaction.atomic
def comment_unpin(*, actor: User, comment_id: Any) -> Comment:
    comment = _comment_locked(comment_id=comment_id)
    if comment.post.author_id != actor.pk:
        raise NotFound("Comment not found.")
    comment.pinned_at = None
    comment.save(update_fields=["pinned_at"])
    return comment


# --- stories ----------------------------------------------------------------------------------
_OVERLAY_TYPES = ("text", "mention", "hashtag", "sticker", "link")


def _overlays_clean(overlays: Any) -> tuple[list[dict], list[str], str]:
    """Validate overlays; returns (clean overlays, mentioned handles, overlay text to moderate)."""
    if overlays in (None, ""):
        return [], [], ""
    if not isinstance(overlays, list) or len(overlays) > MAX_OVERLAYS:
        raise Invalid(f"overlays must be a list of at most {MAX_OVERLAYS} items.", field="overlays")
    clean: list[dict] = []
    handles: list[str] = []
    texts: list[str] = []
    for index, item in enumerate(overlays):
        if not isinstance(item, dict) or item.get("type") not in _OVERLAY_TYPES:
            raise Invalid(f"Overlay {index} needs a type among {', '.join(_OVERLAY_TYPES)}.", field="overlays")
        text = item.get("text", "")
        if not isinstance(text, str) or len(text) > 300:
            raise Invalid(f"Overlay {index} text must be at most 300 characters.", field="overlays")
        out: dict[str, Any] = {"type": item["type"], "text": text}
        for axis in ("x", "y", "rotation", "scale"):
            value = item.get(axis)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise Invalid(f"Overlay {index} {axis} must be a number.", field="overlays")
            out[axis] = float(value)
        if item["type"] == "mention":
            handle = str(item.get("handle") or text).lstrip("@").lower()[:30]
            out["handle"] = handle
            handles.append(handle)
        if text:
            texts.append(text)
        clean.append(out)
    return clean, handles, "\n".join(texts)


def _story_became_published(story: Story) -> None:
    now = timezone.now()
    story.status = Story.Status.PUBLISHED
    story.expires_at = now + STORY_LIFETIME  # the 24 hours run from when others can see it
    Story.objects.filter(pk=story.pk).update(status=story.status, expires_at=story.expires_at, failure_reason="")
    if story.moderation_state == ModerationState.VISIBLE:
        events.emit_on_commit("story.created", story_id=story.pk, author_id=story.author_id)
        _emit_mentions(list(Mention.objects.filter(story=story)), target_type="story", target_id=story.pk,
                       author_id=story.author_id)


@transaction.atomic
def story_create(
    *,
    author: User,
    media_id: Any,
    text: str = "",
    overlays: Any = None,
    audience: str = policy.PUBLIC,
    circle_id: Any = None,
    sound_id: Any = None,
) -> Story:
    """Post an image or video story for 24 hours to public, close friends or one circle.

    Text and overlay texts are moderated; mention overlays (and @handles in the text) are
    stored as mentions when allowed. A still-processing asset makes the story `pending`
    (published by "media.ready", its 24 hours starting then). Raises PermissionDenied,
    Invalid, RateLimited (velocity "posts"). Emits "story.created" {story_id, author_id}
    when published and visible.
    """
    _require_can_post(author)
    text = _clean_text(text, field="text")
    clean_overlays, handles, overlay_text = _overlays_clean(overlays)
    circle = _audience_checked(actor=author, audience=audience, circle_id=circle_id, allowed=STORY_AUDIENCES)
    try:
        assets = media_selectors.media_list_owned_by(owner=author, media_ids=[int(media_id)])
    except (TypeError, ValueError):
        assets = []
    if not assets:
        raise Invalid("Media not found.", field="media_id")
    asset = assets[0]
    sound = None
    if sound_id not in (None, ""):
        try:
            sound = Sound.objects.filter(pk=int(sound_id)).first()
        except (TypeError, ValueError):
            sound = None
        if sound is None:
            raise Invalid("Sound not found.", field="sound_id")
    moderation_services.velocity_check(actor=author, action="posts")
    verdict = _moderate(actor=author, text="\n".join(t for t in (text, overlay_text) if t), context="story", field="text")
    held = bool(verdict and verdict.held)
    now = timezone.now()
    story = Story.objects.create(
        author=author, asset=asset, kind=asset.kind, text=text, overlays=clean_overlays, audience=audience,
        circle=circle, sound=sound, status=Story.Status.PENDING,
        moderation_state=ModerationState.HELD if held else ModerationState.VISIBLE,
        created_at=now, expires_at=now + STORY_LIFETIME,
    )
    _mentions_sync(author=author, text=text, extra_handles=handles, story=story)
    if held:
        moderation_services.case_open_for_hold(target_type="story", target_id=story.pk, verdict=verdict)
    if asset.status == MediaAsset.Status.READY:
        _story_became_published(story)
    return story


@transaction.atomic
def story_delete(*, actor: User, story_id: Any) -> None:
    try:
        updated = Story.objects.filter(pk=int(story_id), author_id=actor.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now()
        )
    except (TypeError, ValueError):
        updated = 0
    if not updated:
        raise NotFound("Story not found.")


@transaction.atomic
def story_view_record(*, viewer: User, story_id: Any) -> bool:
    """Record that `viewer` saw an active story they may see; once per viewer (idempotent).
    The author's own views are not recorded. Raises NotFound. Emits "story.viewed"
    {story_id, author_id, viewer_id} the first time. Returns True when newly recorded."""
    story = selectors.story_get_visible(viewer=viewer, story_id=story_id)
    if story.author_id == viewer.pk:
        return False
    fresh = StoryView(story=story, viewer=viewer)
    StoryView.objects.bulk_create([fresh], ignore_conflicts=True)
    if not StoryView.objects.filter(pk=fresh.pk).exists():
        return False
    _add(Story, story.pk, views_count=1)
    events.emit_on_commit("story.viewed", story_id=story.pk, author_id=story.author_id, viewer_id=viewer.pk)
    return True


@transaction.atomic
def story_reply(*, actor: User, story_id: Any, text: str) -> None:
    """Reply privately to a story: messaging turns "story.replied" {story_id, author_id,
    replier_id, text} into a direct message. Raises NotFound, Invalid (empty, rejected),
    PermissionDenied (own story; the author's who_can_message refuses the actor),
    RateLimited (velocity "dms")."""
    story = selectors.story_get_visible(viewer=actor, story_id=story_id)
    text = _clean_text(text, field="text", required=True, max_length=1000)
    if story.author_id == actor.pk:
        raise PermissionDenied("You cannot reply to your own story.", code="own_story")
    if not policy.can_message(actor, story.author):
        raise PermissionDenied("This account does not accept messages from you.", code="messages_restricted")
    moderation_services.velocity_check(actor=actor, action="dms")
    verdict = _moderate(actor=actor, text=text, context="dm", field="text")
    if verdict is not None and verdict.held:
        raise Invalid("This reply cannot be sent.", code="content_held", field="text")
    _add(Story, story.pk, replies_count=1)
    events.emit_on_commit("story.replied", story_id=story.pk, author_id=story.author_id, replier_id=actor.pk, text=text)


def stories_purge_expired(*, now=None, batch: int = 1000) -> int:
    """Delete stories whose 24 hours are over (they stopped showing at expiry already).
    Returns how many were deleted; safe to run at any time and twice."""
    now = now or timezone.now()
    total = 0
    while True:
        ids = list(Story.objects.filter(expires_at__lte=now).values_list("id", flat=True)[:batch])
        if not ids:
            return total
        with transaction.atomic():
            Mention.objects.filter(story_id__in=ids).delete()
            total += Story.objects.filter(pk__in=ids).delete()[1].get("content.Story", 0)
