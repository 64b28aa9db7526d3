"""Content reads, every one already filtered by the visibility policy (social/policy.py).

The rule for a post, in one place (`post_visible_q`):
- alive (not soft-deleted), published and moderation-visible; the author also sees their
  own pending, failed and held posts (never hidden or removed ones... except that they
  stay visible to the author as "held" only while held);
- AND `policy.content_visible_q` (blocks, suspended/deactivated authors, private accounts,
  audiences incl. circles and registered ones, shadowbans).

Lists return `daira.lib.pagination.Page`s, newest first by snowflake id unless stated.
Everything a post card renders (author + profile, media + assets, sound) is loaded with
`select_related`/`prefetch_related`; the viewer's own reaction, bookmark and repost flags,
quoted posts and data-saver playback are added by `posts_hydrate` in a fixed number of
queries (the PostOutputSerializer list calls it for you).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db.models import BooleanField, Exists, F, OuterRef, Prefetch, Q, QuerySet, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber
from django.utils import timezone

from content.models import (
    Bookmark,
    Collection,
    Comment,
    Hashtag,
    Mention,
    ModerationState,
    Post,
    PostEdit,
    PostMedia,
    Reaction,
    ReactionType,
    Repost,
    Sound,
    Story,
    StoryView,
)
from daira.lib.errors import Invalid, NotFound
from daira.lib.pagination import Page, encode_cursor, paginate_by_id
from daira.lib.prepared import PreparedQuery, Slots, execute_prepared
from daira.lib.text import normalize_hashtag
from social import policy

MAX_THREAD_DEPTH = 5
HASHTAG_TOP_WINDOW = timedelta(days=30)
HASHTAG_TOP_MAX = 200  # the "top" tab ranks at most this many recent posts


def _vid(viewer) -> int | None:
    return policy.viewer_id(viewer)


# --- posts: the visibility rule ---------------------------------------------------------------
def post_visible_q(viewer, prefix: str = "") -> Q:
    """The full rule for Post rows as one Q; `prefix` is the path to the post ("post__")."""
    return post_state_q(viewer, prefix) & policy.content_visible_q(
        viewer, author_field=f"{prefix}author", audience_field=f"{prefix}audience", circle_field=f"{prefix}circle"
    )


def post_state_q(viewer, prefix: str = "") -> Q:
    """The post's own state part of `post_visible_q` (columns of the row only): alive,
    published and moderation-visible, or the viewer's own visible / held post."""

    def f(name: str) -> str:
        return f"{prefix}{name}"

    live = Q(**{f("deleted_at__isnull"): True})
    public_state = Q(**{f("status"): Post.Status.PUBLISHED, f("moderation_state"): ModerationState.VISIBLE})
    vid = _vid(viewer)
    if vid is not None:
        public_state |= Q(
            **{f("author_id"): vid, f("moderation_state__in"): [ModerationState.VISIBLE, ModerationState.HELD]}
        )
    return live & public_state


def posts_filter_visible(*, viewer, posts: Iterable[Post], exclude_muted: bool = False,
                         discovery: bool = False) -> list[Post]:
    """The loaded `posts` (already filtered by `post_state_q`, authors selected) that
    `viewer` may see, in order: the policy decided in Python from the facts about their
    authors, the same rules as `post_visible_q` (social/tests/test_policy_matrix.py).
    Rows from `with_policy_facts` carry the facts; others cost one facts query
    (`policy.content_relationships`). `exclude_muted` drops authors muted for posts;
    `discovery` drops shadowbanned authors (as `policy.discovery_q`)."""
    posts = list(posts)
    if not posts:
        return []
    muted = "posts" if exclude_muted else None
    if all(hasattr(p, "policy_facts") for p in posts):
        return [
            p for p in posts
            if policy.can_view_content_in_list(
                viewer, p.author, p.audience, p.circle_id,
                rel=policy.relationship_from_facts(viewer, p.author_id, p.policy_facts, p.circle_id),
                exclude_muted=muted, discovery=discovery,
            )
        ]
    rels = policy.content_relationships(
        viewer, [p.author_id for p in posts], [p.circle_id for p in posts if p.audience == policy.CIRCLE]
    )
    return [
        p for p in posts
        if policy.can_view_content_in_list(
            viewer, p.author, p.audience, p.circle_id, rel=rels[p.author_id], exclude_muted=muted,
            discovery=discovery,
        )
    ]


def with_policy_facts(viewer, posts: QuerySet[Post]) -> QuerySet[Post]:
    """`posts` annotated with `policy_facts` (`policy.content_facts_sql` over the row's
    author and circle), so `posts_filter_visible` decides them without another query."""
    table = Post._meta.db_table
    sql, params = policy.content_facts_sql(viewer, f'"{table}"."author_id"', f'"{table}"."circle_id"')
    return posts.annotate(policy_facts=RawSQL(sql, params, output_field=ArrayField(BooleanField())))


def _media_prefetch() -> Prefetch:
    return Prefetch("media_items", queryset=PostMedia.objects.select_related("asset").order_by("position"))


# Author columns a card and the policy never read (they read id, handle, status, is_private,
# the profile's display name and avatar): left out of the joined rows, because turning a row
# into models was the biggest share of a feed page's CPU and eight of these are timestamps.
# Reading one of them on a card's author still works (Django loads it with one query).
_AUTHOR_COLUMNS_NOT_RENDERED = tuple(
    f"author__{name}" for name in (
        "password", "last_login", "is_superuser", "phone", "email", "last_active_at", "date_joined",
        "phone_verified_at", "email_verified_at", "suspension_reason", "deactivated_at",
    )
) + tuple(f"author__profile__{name}" for name in ("bio", "links", "governorate"))


def _render_related(queryset: QuerySet[Post]) -> QuerySet[Post]:
    return post_rows_for_render(queryset).prefetch_related(_media_prefetch())


def post_rows_for_render(queryset: QuerySet[Post]) -> QuerySet[Post]:
    """`queryset` with author + profile and sound joined (what a card and the policy read;
    `_AUTHOR_COLUMNS_NOT_RENDERED` left out), media NOT yet prefetched: filter the rows
    first, then `posts_prefetch_media`."""
    return queryset.select_related("author__profile", "sound").defer(*_AUTHOR_COLUMNS_NOT_RENDERED)


def _in_ids_slot(model, column: str, slots: Slots) -> RawSQL:
    """`<model's table>.<column> = ANY(<the array slot "ids">)`, for prepared queries (an
    `__in` lookup would expand the list into the SQL)."""
    return RawSQL(f'"{model._meta.db_table}"."{column}" = ANY(%s::bigint[])', [slots.value("ids", array=True)],
                  output_field=BooleanField())


def _media_rows_by_posts(slots: Slots) -> QuerySet[PostMedia]:
    by_posts = _in_ids_slot(PostMedia, "post_id", slots)
    return PostMedia.objects.select_related("asset").filter(by_posts).order_by("post_id", "position")


# The media of a page's posts, as a prepared statement: Django's prefetch machinery cost about
# 2.5 ms of CPU for 20 video posts (building the lookup, the query and the per-instance caches).
_MEDIA_ROWS = PreparedQuery(lambda _variant, slots: _media_rows_by_posts(slots))


def _evaluated_media(post: Post, items: list[PostMedia]) -> QuerySet[PostMedia]:
    """What `post.media_items.all()` returns once prefetched: `items` as an evaluated
    queryset that, like the related manager's, is still filtered to this post when chained
    (`.filter()`, `.exists()` on a clone...): the filter is deferred, as the manager defers it."""
    queryset = QuerySet(model=PostMedia)
    queryset._deferred_filter = (False, (), {"post_id": post.pk})  # applied on first .query access
    queryset._result_cache = items
    queryset._prefetch_done = True
    return queryset


def posts_prefetch_media(posts: list[Post]) -> list[Post]:
    """Load the media (with assets) of already-filtered posts in one query, for those not
    prefetched yet; `post.media_items.all()` then reads them without a query.

    Text posts have none: a post's kind is fixed from its media when it is created and media
    are never attached later (content.services.post_create; the admin inline is read-only),
    so they get an empty list without a query, and a page of text posts (threads, most
    replies) costs no media query at all."""
    todo = [p for p in posts if "media_items" not in p.__dict__.get("_prefetched_objects_cache", {})]
    with_media = [p.pk for p in todo if p.__dict__.get("kind") != Post.Kind.TEXT]
    by_post: dict[int, list[PostMedia]] = {}
    if with_media:
        for item in _MEDIA_ROWS.run(None, ids=with_media):
            by_post.setdefault(item.post_id, []).append(item)
    cache_post = PostMedia.post.field.set_cached_value
    for post in todo:
        items = by_post.get(post.pk, [])
        for item in items:
            cache_post(item, post)  # item.post without a query, as a prefetch leaves it
        post.__dict__.setdefault("_prefetched_objects_cache", {})["media_items"] = _evaluated_media(post, items)
    return posts


def post_list_visible_to(
    *, viewer, author_id: int | None = None, kind: str | None = None, top_level_only: bool = False
) -> QuerySet[Post]:
    """Posts `viewer` may see, newest first, with everything a post card renders.

    Filters: `author_id`, `kind` (text/photo/carousel/video), `top_level_only` (no replies).
    Mutes are not applied (feeds AND `policy.exclude_muted_q` themselves).
    """
    posts = Post.objects.filter(post_visible_q(viewer))
    if author_id is not None:
        posts = posts.filter(author_id=author_id)
    if kind is not None:
        posts = posts.filter(kind=kind)
    if top_level_only:
        posts = posts.filter(parent__isnull=True)
    return _render_related(posts).order_by("-id")


def post_get_visible(*, viewer, post_id: Any) -> Post:
    """One post `viewer` may see, or NotFound: missing, deleted, hidden, removed, pending for
    someone else and out-of-audience all look the same on purpose."""
    try:
        post_id = int(post_id)
    except (TypeError, ValueError):
        raise NotFound("Post not found.") from None
    post = post_list_visible_to(viewer=viewer).filter(pk=post_id).first()
    if post is None:
        raise NotFound("Post not found.")
    return post


def posts_visible_by_ids(*, viewer, post_ids: Sequence[int], exclude_muted: bool = False,
                         discovery: bool = False) -> list[Post]:
    """The posts among `post_ids` that `viewer` may see, in the order given (duplicates
    once; unknown, deleted and invisible ids dropped; with `exclude_muted`, also posts by
    authors the viewer muted for posts — what a home feed wants; with `discovery`, also shadowbanned authors', as
    `policy.discovery_q` — what trending, explore and search want).

    One primary-key query carrying the policy's facts (`with_policy_facts`, decided by
    `posts_filter_visible`; a prepared statement, see `_RENDER_ROWS_WITH_FACTS`) and the
    fixed prefetch query for media, so a feed page costs the same however its ids were
    chosen. Render with `PostOutputSerializer(posts, many=True, context={"viewer": viewer})`.
    """
    # Ids first: a primary-key query with the row's own state, then the policy over the
    # page's authors from the facts loaded with the rows (cheaper than the policy's subqueries).
    return _posts_for_render_by_ids(viewer, post_ids, _RENDER_ROWS_WITH_FACTS, lambda rows: posts_filter_visible(
        viewer=viewer, posts=rows, exclude_muted=exclude_muted, discovery=discovery))


def _render_rows_by_ids(signed_in: bool, slots: Slots, *, facts: bool) -> QuerySet[Post]:
    """The rows among the array `slots.value("ids")` that pass `post_state_q` for the viewer
    `slots.value("viewer")` (a logged-out one when not `signed_in`), loaded for rendering
    (`post_rows_for_render`), with the policy's facts when `facts`."""
    from accounts.models import User

    viewer = User(pk=slots.value("viewer")) if signed_in else None
    by_ids = _in_ids_slot(Post, "id", slots)
    rows = post_rows_for_render(Post.objects.filter(post_state_q(viewer)).filter(by_ids))
    return with_policy_facts(viewer, rows) if facts else rows


# Built once per process and run as prepared statements: for a 20-card page this saves about
# 1 ms of Django's query building and Postgres' parsing and planning of the statement.
_RENDER_ROWS_WITH_FACTS = PreparedQuery(lambda signed_in, slots: _render_rows_by_ids(signed_in, slots, facts=True))
_RENDER_ROWS = PreparedQuery(lambda signed_in, slots: _render_rows_by_ids(signed_in, slots, facts=False))


def _posts_for_render_by_ids(viewer, post_ids: Sequence[int], rows_query: PreparedQuery, decide) -> list[Post]:
    """The posts among `post_ids` in the order given (duplicates once) whose rows pass
    `post_state_q` (loaded by `rows_query`, one of the two above) and then
    `decide(rows) -> posts`, loaded for rendering (media prefetched)."""
    # Ids outside bigint's range name no post (and would not bind as bigint[]).
    wanted = [i for i in dict.fromkeys(int(i) for i in post_ids) if 0 < i < 1 << 63]
    if not wanted:
        return []
    vid = _vid(viewer)
    rows = rows_query.run(vid is not None, viewer=vid, ids=wanted)
    found = {post.pk: post for post in posts_prefetch_media(list(decide(rows)))}
    return [found[i] for i in wanted if i in found]


def posts_for_render_after_policy(*, viewer, post_ids: Sequence[int]) -> list[Post]:
    """The posts among `post_ids` loaded for rendering, in the order given, for ids that
    THIS request has just passed through the visibility policy (For-You's first page, ranked
    from candidates that `discoverable_q`'s rule let through moments earlier): the row's own
    state is checked again (`post_state_q`, a few columns), the policy facts about the
    authors are not computed a second time (about 40% of `posts_visible_by_ids`' cost).
    Ids from a cache, a cursor or the client must go through `posts_visible_by_ids`."""
    return _posts_for_render_by_ids(viewer, post_ids, _RENDER_ROWS, list)


def post_ids_visible(*, viewer, post_ids: Iterable[int]) -> set[int]:
    """The ids among `post_ids` that `viewer` may see (`post_visible_q`'s rule), for writes
    that only need a yes/no per target (event batches): one primary-key query loading the
    row's state, its author's status and privacy and the policy's facts, decided in Python
    by `posts_filter_visible` (tested to agree with `post_visible_q` over the policy matrix);
    cheaper than compiling the policy's subqueries for every call."""
    # Ids outside bigint's range name no post (and would not bind as bigint[]).
    wanted = [i for i in dict.fromkeys(int(i) for i in post_ids) if 0 < i < 1 << 63]
    if not wanted:
        return set()
    vid = _vid(viewer)
    rows = _VISIBILITY_ROWS.run(vid is not None, viewer=vid, ids=wanted)
    return {post.pk for post in posts_filter_visible(viewer=viewer, posts=rows)}


def _visibility_rows_by_ids(signed_in: bool, slots: Slots) -> QuerySet[Post]:
    """What `posts_filter_visible` reads of the rows among `slots.value("ids")` passing
    `post_state_q` for the viewer `slots.value("viewer")`, with the policy's facts."""
    from accounts.models import User

    viewer = User(pk=slots.value("viewer")) if signed_in else None
    by_ids = _in_ids_slot(Post, "id", slots)
    rows = (Post.objects.filter(post_state_q(viewer)).filter(by_ids).select_related("author")
            .only("id", "author_id", "audience", "circle_id",
                  "author__id", "author__status", "author__is_private"))
    return with_policy_facts(viewer, rows)


# Event batches check a hundred targets at a time: built once per process, run prepared.
_VISIBILITY_ROWS = PreparedQuery(_visibility_rows_by_ids)


def post_ids_recent_by_author(*, author_id: int, limit: int) -> list[int]:
    """Ids of the author's most recent published, visible, live top-level posts (newest first).

    For feeds' fan-in of big accounts and cold-feed rebuilds: no viewer filter here, the
    feed applies `posts_visible_by_ids` when it renders.
    """
    return list(
        Post.objects.filter(
            author_id=author_id,
            deleted_at__isnull=True,
            status=Post.Status.PUBLISHED,
            moderation_state=ModerationState.VISIBLE,
            parent__isnull=True,
        )
        .order_by("-id")
        .values_list("id", flat=True)[: max(0, int(limit))]
    )


def post_edits_list(*, viewer, post_id: Any) -> list[PostEdit]:
    """Earlier versions of a visible post, newest first (the "edited" history)."""
    post = post_get_visible(viewer=viewer, post_id=post_id)
    return list(PostEdit.objects.filter(post=post).order_by("-id"))


# --- rendering helpers ------------------------------------------------------------------------
@dataclass
class PostRender:
    """What a post card needs beyond the row, computed for a whole page at once."""

    viewer_reaction: str | None = None
    saved: bool = False
    reposted: bool = False
    quote: Post | None = None
    data_saver: bool = False
    extra: dict = field(default_factory=dict)


def _data_saver(viewer) -> bool:
    vid = _vid(viewer)
    if vid is None:
        return False
    from accounts.models import UserSettings

    row = UserSettings.objects.filter(user_id=vid).values_list("data_saver", flat=True).first()
    return True if row is None else bool(row)


_VIEWER_MARKS_SQL: str | None = None


def _viewer_marks(vid: int, post_ids: list[int]) -> tuple[dict[int, str], set[int], set[int], bool]:
    """The viewer's reactions, bookmarks and reposts among `post_ids`, and their data-saver
    setting (True when they have no settings row), in ONE round trip (a prepared statement:
    every card page runs it)."""
    global _VIEWER_MARKS_SQL
    from accounts.models import UserSettings

    if _VIEWER_MARKS_SQL is None:
        r, b, p, u = (m._meta.db_table for m in (Reaction, Bookmark, Repost, UserSettings))
        _VIEWER_MARKS_SQL = f"""
            SELECT 'r', post_id, reaction FROM "{r}" WHERE user_id = %s::bigint AND post_id = ANY(%s::bigint[])
            UNION ALL SELECT 'b', post_id, NULL FROM "{b}" WHERE user_id = %s::bigint AND post_id = ANY(%s::bigint[])
            UNION ALL SELECT 'p', post_id, NULL FROM "{p}" WHERE user_id = %s::bigint AND post_id = ANY(%s::bigint[])
            UNION ALL SELECT 's', NULL, CASE WHEN data_saver THEN 't' ELSE 'f' END FROM "{u}" WHERE user_id = %s::bigint
        """
    reactions: dict[int, str] = {}
    saved: set[int] = set()
    reposted: set[int] = set()
    data_saver = True
    ids = list(post_ids)
    for kind, post_id, value in execute_prepared(_VIEWER_MARKS_SQL, [vid, ids, vid, ids, vid, ids, vid]):
        if kind == "r":
            reactions[post_id] = value
        elif kind == "b":
            saved.add(post_id)
        elif kind == "p":
            reposted.add(post_id)
        else:
            data_saver = value == "t"
    return reactions, saved, reposted, data_saver


def posts_hydrate(*, viewer, posts: Iterable[Post]) -> list[Post]:
    """Attach `post.render` (a PostRender) to each post and to any post it quotes.

    Fixed cost for any page size: quoted posts (through `posts_visible_by_ids`, so a quote
    of something the viewer may not see renders as unavailable), the viewer's reactions,
    bookmarks and reposts and the viewer's data-saver setting (one query together).
    """
    posts = [p for p in posts if getattr(p, "render", None) is None]
    if not posts:
        return []
    quote_ids = [p.quote_of_id for p in posts if p.quote_of_id]
    quoted = {q.pk: q for q in posts_visible_by_ids(viewer=viewer, post_ids=quote_ids)} if quote_ids else {}
    everything = posts + [q for q in quoted.values() if getattr(q, "render", None) is None]
    ids = [p.pk for p in everything]
    vid = _vid(viewer)
    reactions: dict[int, str] = {}
    saved: set[int] = set()
    reposted: set[int] = set()
    data_saver = False
    if vid is not None:
        reactions, saved, reposted, data_saver = _viewer_marks(vid, ids)
    for post in everything:
        post.render = PostRender(
            viewer_reaction=reactions.get(post.pk),
            saved=post.pk in saved,
            reposted=post.pk in reposted,
            quote=quoted.get(post.quote_of_id) if post.quote_of_id else None,
            data_saver=data_saver,
        )
    return posts


# --- pagination helpers -----------------------------------------------------------------------
def _pair_cursor_encode(score: int, pk: int) -> str:
    return encode_cursor(f"{score}:{pk}")


def _pair_cursor_decode(cursor: str | None) -> tuple[int, int] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        score, pk = raw.split(":")
        return int(score), int(pk)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Invalid("The cursor is not valid.", field="cursor") from None


# --- pages: profile tabs, hashtags, sounds ------------------------------------------------------
PROFILE_TABS = ("posts", "videos", "reposts", "tagged")


@dataclass
class ProfilePage:
    items: list[Post]
    next_cursor: str | None
    pinned: list[Post]


def profile_posts(*, viewer, user, tab: str = "posts", cursor: str | None = None, limit: int = 20) -> ProfilePage:
    """A profile tab of `user` as `viewer` sees it.

    posts: top-level posts, pinned ones on the first page's `pinned` (not repeated);
    videos: video posts; reposts: posts `user` reposted (newest repost first; the cursor is
    the repost id); tagged: posts mentioning `user`. Raises Invalid for an unknown tab and
    NotFound when `viewer` may not see the profile; a private wall gives an empty page.
    """
    if tab not in PROFILE_TABS:
        raise Invalid(f"tab must be one of {', '.join(PROFILE_TABS)}.", field="tab")
    if not policy.can_view_profile(viewer, user):
        raise NotFound("User not found.")
    if tab == "reposts":
        rows = Repost.objects.filter(user_id=user.pk).filter(post_visible_q(viewer, prefix="post__"))
        page = paginate_by_id(rows, cursor=cursor, limit=limit)
        by_id = {p.pk: p for p in _render_related(Post.objects.filter(pk__in=[r.post_id for r in page.items]))}
        return ProfilePage(items=[by_id[r.post_id] for r in page.items if r.post_id in by_id],
                           next_cursor=page.next_cursor, pinned=[])
    if tab == "tagged":
        posts = post_list_visible_to(viewer=viewer).filter(
            Exists(Mention.objects.filter(post_id=OuterRef("pk"), mentioned_id=user.pk))
        )
        page = paginate_by_id(posts, cursor=cursor, limit=limit)
        return ProfilePage(items=page.items, next_cursor=page.next_cursor, pinned=[])
    posts = post_list_visible_to(
        viewer=viewer, author_id=user.pk, kind=Post.Kind.VIDEO if tab == "videos" else None, top_level_only=True
    )
    pinned: list[Post] = []
    if tab == "posts":
        if not cursor:
            pinned = list(posts.filter(pinned_at__isnull=False).order_by("-pinned_at"))
        posts = posts.filter(pinned_at__isnull=True)
    page = paginate_by_id(posts, cursor=cursor, limit=limit)
    return ProfilePage(items=page.items, next_cursor=page.next_cursor, pinned=pinned)


def hashtag_get(*, name: str) -> Hashtag:
    """The hashtag by any spelling (#مَصر finds مصر), or NotFound."""
    hashtag = Hashtag.objects.filter(name=normalize_hashtag(str(name))[:100]).first()
    if hashtag is None:
        raise NotFound("Hashtag not found.")
    return hashtag


def hashtag_posts(*, viewer, name: str, sort: str = "recent", cursor: str | None = None, limit: int = 20) -> tuple[Hashtag, Page]:
    """A hashtag page: `recent` (newest first) or `top` (most engaged in the last 30 days;
    score = reactions + 2 × comments + 3 × reposts + quotes, ties newest first).

    A discovery surface: shadowbanned authors are dropped (policy.discovery_q)."""
    if sort not in ("recent", "top"):
        raise Invalid("sort must be recent or top.", field="sort")
    hashtag = hashtag_get(name=name)
    posts = post_list_visible_to(viewer=viewer).filter(
        policy.discovery_q(viewer), Exists(hashtag.post_links.filter(post_id=OuterRef("pk")))
    )
    if sort == "recent":
        return hashtag, paginate_by_id(posts, cursor=cursor, limit=limit)
    from daira.lib import ids

    since = ids.min_id_at(timezone.now() - HASHTAG_TOP_WINDOW)
    posts = posts.filter(pk__gte=since).annotate(
        score=F("reactions_count") + 2 * F("comments_count") + 3 * F("reposts_count") + F("quotes_count")
    )
    after = _pair_cursor_decode(cursor)
    if after is not None:
        score, pk = after
        posts = posts.filter(Q(score__lt=score) | Q(score=score, pk__lt=pk))
    rows = list(posts.order_by("-score", "-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _pair_cursor_encode(rows[-1].score, rows[-1].pk) if more and rows else None
    return hashtag, Page(items=rows, next_cursor=next_cursor)


def sound_get(*, sound_id: Any) -> Sound:
    try:
        sound = Sound.objects.filter(pk=int(sound_id)).first()
    except (TypeError, ValueError):
        sound = None
    if sound is None:
        raise NotFound("Sound not found.")
    return sound


def sound_videos(*, viewer, sound_id: Any, cursor: str | None = None, limit: int = 20) -> tuple[Sound, Page]:
    """Visible published videos that use the sound, newest first (a discovery surface)."""
    sound = sound_get(sound_id=sound_id)
    posts = post_list_visible_to(viewer=viewer, kind=Post.Kind.VIDEO).filter(policy.discovery_q(viewer), sound=sound)
    return sound, paginate_by_id(posts, cursor=cursor, limit=limit)


# --- threads ----------------------------------------------------------------------------------
@dataclass
class ThreadNode:
    post: Post
    replies: list[ThreadNode]
    next_cursor: str | None  # continue this level with post_replies(post_id=post.pk, cursor=...)


def post_replies(*, viewer, post_id: Any, cursor: str | None = None, limit: int = 20) -> Page:
    """Direct replies to a visible post, oldest first (conversation order), by cursor."""
    parent = post_get_visible(viewer=viewer, post_id=post_id)
    replies = post_list_visible_to(viewer=viewer).filter(parent=parent)
    return paginate_by_id(replies, cursor=cursor, limit=limit, descending=False)


def post_thread(*, viewer, post_id: Any, depth: int = 2, limit: int = 10, cursor: str | None = None) -> ThreadNode:
    """A post with its replies down to `depth` levels (1..5): the first level paginated by
    `cursor`, each deeper node with its first `limit` replies and its own next_cursor.

    One query per level however wide (a window function ranks replies per parent), so a
    thread costs 1 + depth queries plus the fixed prefetches of each level.
    """
    depth = max(1, min(int(depth), MAX_THREAD_DEPTH))
    root = post_get_visible(viewer=viewer, post_id=post_id)
    first = post_replies(viewer=viewer, post_id=root.pk, cursor=cursor, limit=limit)
    root_node = ThreadNode(post=root, replies=[ThreadNode(p, [], None) for p in first.items],
                           next_cursor=first.next_cursor)
    level = root_node.replies
    for _ in range(depth - 1):
        if not level:
            break
        by_parent = {node.post.pk: node for node in level}
        ranked = (
            Post.objects.filter(post_visible_q(viewer), parent_id__in=list(by_parent))
            .annotate(rank=Window(RowNumber(), partition_by=[F("parent_id")], order_by=F("id").asc()))
            .filter(rank__lte=limit + 1)
        )
        rows = list(_render_related(ranked).order_by("parent_id", "id"))
        next_level: list[ThreadNode] = []
        for row in rows:
            node = by_parent[row.parent_id]
            if row.rank > limit:
                node.next_cursor = encode_cursor(node.replies[-1].post.pk)
                continue
            child = ThreadNode(row, [], None)
            node.replies.append(child)
            next_level.append(child)
        level = next_level
    return root_node


def thread_posts(node: ThreadNode) -> list[Post]:
    """Every post in a thread tree (for hydration)."""
    found = [node.post]
    for child in node.replies:
        found.extend(thread_posts(child))
    return found


# --- who reacted / reposted -------------------------------------------------------------------
def post_reactions_list(*, viewer, post_id: Any, reaction: str | None = None, cursor: str | None = None,
                        limit: int = 20) -> Page:
    """Reaction rows (with `user.profile`) on a visible post, newest first; people the
    viewer may not see (blocked either way, inactive) never appear."""
    post = post_get_visible(viewer=viewer, post_id=post_id)
    if reaction is not None and reaction not in ReactionType.values:
        raise Invalid("Unknown reaction.", field="reaction")
    rows = Reaction.objects.filter(post=post).filter(policy.visible_users_q(viewer, "user"))
    if reaction:
        rows = rows.filter(reaction=reaction)
    return paginate_by_id(rows.select_related("user__profile"), cursor=cursor, limit=limit)


def post_reposters_list(*, viewer, post_id: Any, cursor: str | None = None, limit: int = 20) -> Page:
    """Repost rows (with `user.profile`) of a visible post, newest first, visible people only."""
    post = post_get_visible(viewer=viewer, post_id=post_id)
    rows = Repost.objects.filter(post=post).filter(policy.visible_users_q(viewer, "user"))
    return paginate_by_id(rows.select_related("user__profile"), cursor=cursor, limit=limit)


def post_quotes_list(*, viewer, post_id: Any, cursor: str | None = None, limit: int = 20) -> Page:
    """Visible posts quoting a visible post, newest first."""
    post = post_get_visible(viewer=viewer, post_id=post_id)
    return paginate_by_id(post_list_visible_to(viewer=viewer).filter(quote_of=post), cursor=cursor, limit=limit)


# --- comments ---------------------------------------------------------------------------------
def comment_visible_q(viewer, prefix: str = "") -> Q:
    """Comments `viewer` may see: alive, moderation-visible (authors also see their held
    ones), by someone the viewer may see, on a post the viewer may see."""
    vid = _vid(viewer)
    state = Q(**{f"{prefix}moderation_state": ModerationState.VISIBLE})
    if vid is not None:
        state |= Q(**{f"{prefix}author_id": vid, f"{prefix}moderation_state": ModerationState.HELD})
    return (
        Q(**{f"{prefix}deleted_at__isnull": True})
        & state
        & policy.visible_users_q(viewer, f"{prefix}author")
        & post_visible_q(viewer, prefix=f"{prefix}post__")
    )


def _comments_rendered(rows: QuerySet[Comment]) -> QuerySet[Comment]:
    return rows.select_related("author__profile")


def comment_get_visible(*, viewer, comment_id: Any) -> Comment:
    try:
        comment_id = int(comment_id)
    except (TypeError, ValueError):
        raise NotFound("Comment not found.") from None
    comment = _comments_rendered(Comment.objects.filter(comment_visible_q(viewer), pk=comment_id)).select_related(
        "post"
    ).first()
    if comment is None:
        raise NotFound("Comment not found.")
    return comment


@dataclass
class CommentPage:
    items: list[Comment]
    next_cursor: str | None
    pinned: list[Comment]


def comment_list(*, viewer, post_id: Any, cursor: str | None = None, limit: int = 20) -> CommentPage:
    """Top-level comments of a visible post, newest first, each with `replies_count`; the
    pinned one (at most one) on the first page's `pinned`, not repeated in `items`."""
    post = post_get_visible(viewer=viewer, post_id=post_id)
    rows = _comments_rendered(Comment.objects.filter(comment_visible_q(viewer), post=post, parent__isnull=True))
    pinned = list(rows.filter(pinned_at__isnull=False)) if not cursor else []
    page = paginate_by_id(rows.filter(pinned_at__isnull=True), cursor=cursor, limit=limit)
    return CommentPage(items=page.items, next_cursor=page.next_cursor, pinned=pinned)


def comment_replies(*, viewer, comment_id: Any, cursor: str | None = None, limit: int = 20) -> Page:
    """Replies to a visible comment, oldest first."""
    parent = comment_get_visible(viewer=viewer, comment_id=comment_id)
    rows = _comments_rendered(Comment.objects.filter(comment_visible_q(viewer), parent=parent))
    return paginate_by_id(rows, cursor=cursor, limit=limit, descending=False)


def comments_viewer_reactions(*, viewer, comments: Iterable[Comment]) -> dict[int, str]:
    """{comment_id: reaction} of the viewer over a page of comments (one query)."""
    vid = _vid(viewer)
    ids = [c.pk for c in comments]
    if vid is None or not ids:
        return {}
    return dict(Reaction.objects.filter(user_id=vid, comment_id__in=ids).values_list("comment_id", "reaction"))


# --- bookmarks --------------------------------------------------------------------------------
def bookmark_list(*, actor, collection_id: Any = None, cursor: str | None = None, limit: int = 20) -> Page:
    """The actor's bookmarks (newest first; optionally one collection's), whose posts the
    actor may still see (deleted or now-invisible posts drop out). Items are Posts; the
    cursor is the bookmark id."""
    rows = Bookmark.objects.filter(user_id=actor.pk).filter(post_visible_q(actor, prefix="post__"))
    if collection_id is not None:
        collection = collection_get_owned(actor=actor, collection_id=collection_id)
        rows = rows.filter(collection=collection)
    page = paginate_by_id(rows, cursor=cursor, limit=limit)
    by_id = {p.pk: p for p in _render_related(Post.objects.filter(pk__in=[b.post_id for b in page.items]))}
    return Page(items=[by_id[b.post_id] for b in page.items if b.post_id in by_id], next_cursor=page.next_cursor)


def collection_get_owned(*, actor, collection_id: Any) -> Collection:
    try:
        collection = Collection.objects.filter(pk=int(collection_id), owner_id=actor.pk).first()
    except (TypeError, ValueError):
        collection = None
    if collection is None:
        raise NotFound("Collection not found.")
    return collection


def collection_list(*, actor) -> list[Collection]:
    return list(Collection.objects.filter(owner_id=actor.pk).order_by("name"))


# --- stories ----------------------------------------------------------------------------------
def story_visible_q(viewer, prefix: str = "", *, now=None) -> Q:
    """Active stories `viewer` may see: not expired (strictly before expires_at), alive,
    published and moderation-visible (the author sees their own pending/held ones), and
    allowed by `policy.content_visible_q`."""
    now = now or timezone.now()
    vid = _vid(viewer)
    state = Q(**{f"{prefix}status": Story.Status.PUBLISHED, f"{prefix}moderation_state": ModerationState.VISIBLE})
    if vid is not None:
        state |= Q(**{f"{prefix}author_id": vid, f"{prefix}moderation_state__in": [ModerationState.VISIBLE,
                                                                                    ModerationState.HELD]})
    return (
        Q(**{f"{prefix}expires_at__gt": now, f"{prefix}deleted_at__isnull": True})
        & state
        & policy.content_visible_q(
            viewer, author_field=f"{prefix}author", audience_field=f"{prefix}audience", circle_field=f"{prefix}circle"
        )
    )


def _stories_rendered(rows: QuerySet[Story], viewer) -> QuerySet[Story]:
    vid = _vid(viewer)
    rows = rows.select_related("author__profile", "asset", "sound")
    if vid is not None:
        rows = rows.annotate(seen=Exists(StoryView.objects.filter(story_id=OuterRef("pk"), viewer_id=vid)))
    return rows


def story_get_visible(*, viewer, story_id: Any) -> Story:
    """One active story `viewer` may see, or NotFound (expired looks missing)."""
    try:
        story_id = int(story_id)
    except (TypeError, ValueError):
        raise NotFound("Story not found.") from None
    story = _stories_rendered(Story.objects.filter(story_visible_q(viewer), pk=story_id), viewer).first()
    if story is None:
        raise NotFound("Story not found.")
    return story


def story_list_for_author(*, viewer, author_id: Any) -> list[Story]:
    """`author`'s active stories that `viewer` may see, oldest first, each with `seen`."""
    try:
        author_id = int(author_id)
    except (TypeError, ValueError):
        raise NotFound("User not found.") from None
    rows = Story.objects.filter(story_visible_q(viewer), author_id=author_id)
    return list(_stories_rendered(rows, viewer).order_by("id"))


@dataclass
class StoryRing:
    author: Any
    latest_story_id: int
    stories_count: int
    unseen_count: int

    @property
    def has_unseen(self) -> bool:
        return self.unseen_count > 0


def story_rings(*, viewer, limit: int = 100) -> list[StoryRing]:
    """The rings bar: accounts `viewer` follows with active stories `viewer` may see, those
    with unseen stories first, then by their latest story (newest first). Authors the
    viewer muted for stories, and anyone blocked either way, are left out.

    Two queries: the grouped stories, then the authors with profiles.
    """
    vid = _vid(viewer)
    if vid is None:
        return []
    from django.db.models import Count, Max

    from accounts.models import User

    seen = Exists(StoryView.objects.filter(story_id=OuterRef("pk"), viewer_id=vid))
    groups = list(
        Story.objects.filter(
            story_visible_q(viewer),
            policy.exclude_muted_q(viewer, "author", kind="stories"),
            author_id__in=policy.following_subquery(vid),
        )
        .annotate(is_seen=seen)
        .values("author_id")
        .annotate(latest=Max("id"), total=Count("id"), unseen=Count("id", filter=Q(is_seen=False)))
        .order_by()
    )
    groups.sort(key=lambda g: (g["unseen"] > 0, g["latest"]), reverse=True)
    groups = groups[:limit]
    authors = User.objects.select_related("profile").in_bulk([g["author_id"] for g in groups])
    return [
        StoryRing(author=authors[g["author_id"]], latest_story_id=g["latest"], stories_count=g["total"],
                  unseen_count=g["unseen"])
        for g in groups
        if g["author_id"] in authors
    ]


def story_viewers(*, actor, story_id: Any, cursor: str | None = None, limit: int = 50) -> Page:
    """StoryView rows (with viewer profiles) of the actor's own story, newest first; people
    blocked either way are left out. Stories stay listable for their author until purged."""
    try:
        story = Story.objects.filter(pk=int(story_id), author_id=actor.pk, deleted_at__isnull=True).first()
    except (TypeError, ValueError):
        story = None
    if story is None:
        raise NotFound("Story not found.")
    rows = StoryView.objects.filter(story=story).filter(policy.visible_users_q(actor, "viewer"))
    return paginate_by_id(rows.select_related("viewer__profile"), cursor=cursor, limit=limit)


# --- export -----------------------------------------------------------------------------------
def posts_for_export(*, user) -> list[dict[str, Any]]:
    """The user's own posts (not deleted) for the data export, oldest first."""
    rows = Post.objects.filter(author_id=user.pk, deleted_at__isnull=True).prefetch_related("media_items").order_by("id")
    return [
        {
            "id": str(p.pk),
            "created_at": p.created_at.isoformat(),
            "kind": p.kind,
            "status": p.status,
            "body": p.body,
            "audience": p.audience,
            "parent_id": str(p.parent_id) if p.parent_id else None,
            "quote_of_id": str(p.quote_of_id) if p.quote_of_id else None,
            "media_ids": [str(m.asset_id) for m in p.media_items.all()],
            "edited_at": p.edited_at.isoformat() if p.edited_at else None,
            "counts": {"reactions": p.reactions_count, "comments": p.comments_count, "reposts": p.reposts_count},
        }
        for p in rows
    ]
