"""Feeds reads: home (Redis timeline + fan-in, or the pull query), circle feeds, trending,
explore. Every post returned has passed the visibility policy at read time
(`content.selectors.posts_visible_by_ids` / `posts_filter_visible`, which apply
social.policy's blocks, private accounts, audiences incl. circles, shadowbans, plus deleted /
moderation state, from facts loaded with the rows in the same query), with mutes excluded and,
on discovery surfaces, shadowbanned authors dropped (the rules of `policy.exclude_muted_q`
and `policy.discovery_q`; lists built in SQL, e.g. circle feeds, use those directly).

Pages are `FeedPage`s of `FeedItem`s (a post and, for a repost, who shared it), newest
first; the cursor is the snowflake score of the last item (REST also takes `max_id`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import zip_longest

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db.models import BooleanField, Count, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import User
from content import selectors as content_selectors
from content.models import Comment, Post, Reaction
from daira.lib import ids
from daira.lib.errors import Invalid
from daira.lib.pagination import decode_cursor, encode_cursor
from daira.lib.redis import get_redis
from feeds import services, timelines
from feeds.timelines import Entry
from social import policy
from social import selectors as social_selectors
from social.models import CircleMember, Follow

RANKINGS = ("chronological", "ranked")
RANKED_CANDIDATES = 300
RANKED_TTL = 600
MAX_ROUNDS = 8


@dataclass
class FeedItem:
    post: Post
    score: int
    reposted_by: User | None = None


@dataclass
class FeedPage:
    items: list[FeedItem]
    next_cursor: str | None
    source: str = "redis"  # redis | pull | ranked (useful to clients debugging and to tests)
    extra: dict = field(default_factory=dict)

    @property
    def posts(self) -> list[Post]:
        return [item.post for item in self.items]


def _vid(viewer) -> int | None:
    return policy.viewer_id(viewer)


def _parse_max_id(cursor: str | None, max_id) -> int | None:
    if max_id not in (None, ""):
        try:
            value = int(max_id)
        except (TypeError, ValueError):
            raise Invalid("max_id must be a post id.", field="max_id") from None
        if not 0 < value < 1 << 63:
            raise Invalid("max_id must be a post id.", field="max_id")
        return value
    return decode_cursor(cursor)


def visible_posts_by_ids(*, viewer, post_ids, discovery: bool = False) -> dict[int, Post]:
    """{id: post} for the ids `viewer` may see in a feed: one primary-key query with the
    policy, mutes excluded (and shadowbanned authors for discovery surfaces)."""
    posts = content_selectors.posts_visible_by_ids(
        viewer=viewer, post_ids=post_ids, exclude_muted=True, discovery=discovery
    )
    return {post.pk: post for post in posts}


def _visible_users_by_ids(viewer, user_ids, *, exclude_muted: bool = False, discovery: bool = False) -> dict[int, User]:
    """{id: user (with profile)} of the people `viewer` may see (`policy.visible_users_q`;
    + not muted for posts; + `policy.discovery_q`): one primary-key query carrying the
    policy's facts (`policy.content_facts_sql`), decided in Python by the policy."""
    user_ids = list(dict.fromkeys(int(i) for i in user_ids))
    if not user_ids:
        return {}
    sql, params = policy.content_facts_sql(viewer, f'"{User._meta.db_table}"."id"', "NULL")
    users = User.objects.filter(pk__in=user_ids).select_related("profile").annotate(
        policy_facts=RawSQL(sql, params, output_field=ArrayField(BooleanField()))
    )
    visible = {}
    for user in users:
        rel = policy.relationship_from_facts(viewer, user.pk, user.policy_facts)
        if policy.can_view_user_in_list(viewer, user, rel=rel, discovery=discovery) and not (
            exclude_muted and rel.muting_posts
        ):
            visible[user.pk] = user
    return visible


def _visible_reposters(viewer, reposter_ids) -> dict[int, User]:
    return _visible_users_by_ids(viewer, reposter_ids, exclude_muted=True)


def _resolve(viewer, entries: list[Entry], seen: set[int], discovery: bool = False) -> list[FeedItem]:
    """Entries → visible FeedItems in order (a post shown once, at its newest entry)."""
    posts = visible_posts_by_ids(viewer=viewer, post_ids=[e.post_id for e in entries], discovery=discovery)
    reposters = _visible_reposters(viewer, [e.reposter_id for e in entries if e.reposter_id is not None])
    items: list[FeedItem] = []
    for entry in entries:
        post = posts.get(entry.post_id)
        if post is None or entry.post_id in seen:
            continue
        reposter = None
        if entry.reposter_id is not None:
            reposter = reposters.get(entry.reposter_id)
            if reposter is None:
                continue
        seen.add(entry.post_id)
        items.append(FeedItem(post=post, score=entry.score, reposted_by=reposter))
    return items


# --- home feed ------------------------------------------------------------------------------------
_NOT_READ = object()


def big_following_ids(user_id: int, *, cached=_NOT_READ) -> list[int]:
    """Big accounts (fan-in) `user_id` follows, cached in Redis for a few minutes.
    `cached`: the cache key's value when the caller already read it (None: not cached)."""
    client = get_redis()
    key = timelines.big_following_key(user_id)
    if cached is _NOT_READ:
        cached = client.get(key)
    if cached is not None:
        return [int(x) for x in cached.decode().split(",") if x]
    found = list(
        Follow.objects.filter(
            follower_id=user_id, followee__profile__followers_count__gt=settings.FANOUT_MAX_FOLLOWERS
        ).values_list("followee_id", flat=True)
    )
    client.set(key, ",".join(str(i) for i in found), ex=timelines.BIG_FOLLOWING_TTL)
    return found


def _fetch_entries(client, key: str, big: list[int], upper: int | None, batch: int,
                   merged: list | None = None) -> tuple[list[Entry], bool]:
    """The newest `batch` entries below `upper` of the home feed merged with the sets of
    the big accounts followed (by snowflake score), merged inside Redis in one round trip
    (`timelines.merge_newest_script`). `merged`: that script's reply for these arguments
    when the caller already has it (from `timelines.home_first_read_script`).
    Returns (entries, exhausted)."""
    def merge() -> list:
        keys = [key] + [timelines.author_key(author_id) for author_id in big]
        return timelines.merge_newest_script()(keys=keys, args=[timelines.scores_below(upper), batch],
                                               client=client)

    exhausted, missing, *flat = merge() if merged is None else merged
    if missing:
        # Author sets lost with Redis: refill them from Postgres once, then merge again (a set
        # still missing then, evicted again at once, counts as empty for this read).
        for index in missing:
            services.author_recent_refill(author_id=big[int(index) - 1])
        exhausted, _, *flat = merge()
    entries = []
    for position in range(0, len(flat), 2):
        entry = timelines.parse_member(flat[position], float(flat[position + 1]))
        if entry is not None:
            entries.append(entry)
    return entries, bool(exhausted)


def home_pull_page(*, viewer, max_id: int | None = None, limit: int = 20) -> FeedPage:
    """The home feed straight from Postgres (cold feeds, rebuilds, deep pages past the
    Redis window): top-level posts by the accounts `viewer` follows and their own,
    newest first, through the policy, mutes excluded. Reposts are not in this view."""
    vid = _vid(viewer)
    mine = Q(author_id__in=policy.following_subquery(vid)) | Q(author_id=vid)
    # Ids first, like the Redis path: newest top-level candidates by the people followed
    # (primary-key index walked backwards) carrying the policy's facts, decided in Python
    # (`posts_filter_visible`); over-fetch while filtering eats into the page.
    candidates = Post.objects.filter(content_selectors.post_state_q(viewer), mine, parent__isnull=True)
    want = limit + 1
    found: list[Post] = []
    upper = max_id
    batch = want + 4
    exhausted = False
    for _ in range(MAX_ROUNDS):
        rows = candidates if upper is None else candidates.filter(pk__lt=upper)
        rows = list(content_selectors.with_policy_facts(
            viewer, content_selectors.post_rows_for_render(rows)).order_by("-id")[:batch])
        found += content_selectors.posts_filter_visible(viewer=viewer, posts=rows, exclude_muted=True)
        exhausted = len(rows) < batch
        if rows:
            upper = rows[-1].pk
        if len(found) >= want or exhausted:
            break
        batch = min(batch * 2, 1_000)
    if len(found) < want and not exhausted:
        # Filtering ate MAX_ROUNDS batches: finish the page with the policy in SQL.
        rest = (
            content_selectors.post_list_visible_to(viewer=viewer, top_level_only=True)
            .filter(mine).filter(policy.exclude_muted_q(viewer)).filter(pk__lt=upper)
        )
        found += list(rest.order_by("-id")[: want - len(found)])
    page = content_selectors.posts_prefetch_media(found[:limit])
    items = [FeedItem(post=post, score=post.pk) for post in page]
    next_cursor = encode_cursor(items[-1].score) if len(found) > limit and items else None
    return FeedPage(items=items, next_cursor=next_cursor, source="pull")


def _home_chronological(viewer, vid: int, max_id: int | None, limit: int) -> FeedPage:
    client = get_redis()
    key = timelines.home_key(vid)
    want = limit + 1
    # Most pages lose nothing to the policy (blocks, mutes, unfollows and deletions also take
    # entries out of the feeds when they happen): ask for exactly one page (+1, to know whether
    # there is more) first, and double only when filtering ate into it, so a normal page loads
    # limit + 1 rows. The first window comes with the feed's state in one round trip.
    batch = want
    state, *reply = timelines.home_first_read_script()(
        keys=[key, timelines.rebuild_lock_key(vid), timelines.big_following_key(vid)],
        args=[timelines.feed_ttl_seconds(), timelines.scores_below(max_id), batch,
              timelines.AUTHOR_KEY_PREFIX],
        client=client,
    )
    if state in (b"cold", b"locked"):
        if state == b"cold":
            services.home_feed_request_rebuild(user_id=vid)
        return home_pull_page(viewer=viewer, max_id=max_id, limit=limit)
    size = int(reply[0])
    if state == b"ok":
        big, merged = big_following_ids(vid, cached=reply[1]), reply[2:]
    else:  # "no-big": the list of big accounts followed expired; compute it, then merge
        big, merged = big_following_ids(vid, cached=None), None
    items: list[FeedItem] = []
    seen: set[int] = set()
    upper = max_id
    exhausted = False
    for _ in range(MAX_ROUNDS):
        entries, exhausted = _fetch_entries(client, key, big, upper, batch, merged)
        merged = None
        if not entries:
            exhausted = True
            break
        items += _resolve(viewer, entries, seen)
        upper = entries[-1].score
        if len(items) >= want or exhausted:
            break
        batch = min(batch * 2, 1_000)  # most of the window was filtered out: look further
    pulled_more = False
    if len(items) < want and exhausted and size >= timelines.MAX_ITEMS:
        # The Redis window (trimmed to MAX_ITEMS) is used up but older posts may exist:
        # continue below it with the pull query, so a page is never short by accident.
        rest = home_pull_page(viewer=viewer, max_id=upper, limit=want - len(items))
        for item in rest.items:
            if item.post.pk not in seen:
                seen.add(item.post.pk)
                items.append(item)
        pulled_more = rest.next_cursor is not None
    page_items = items[:limit]
    more = len(items) > limit or pulled_more
    return FeedPage(items=page_items, next_cursor=encode_cursor(page_items[-1].score) if more and page_items else None)


def _rank(viewer, vid: int, items: list[FeedItem]) -> list[FeedItem]:
    """Order candidates by the seeds' score
    0.35·affinity + 0.35·quality + 0.15·freshness + 0.10·diversity − 0.40·negatives.

    affinity: the viewer's reactions and comments on the author's posts in 30 days, n/(n+3);
    quality: log(1 + reactions + 2·comments + 3·reposts + quotes), scaled to the best
    candidate; freshness: e^(−age/24 h); diversity: 1/(k+1) for the author's k-th post
    already placed (greedy). negatives is 0 for now: no app records "not interested" /
    "show less" signals yet (recommendations' interaction events are the intended source).
    """
    if not items:
        return []
    authors = {item.post.author_id for item in items}
    since = ids.min_id_at(timezone.now() - timedelta(days=30))
    touches = Counter(
        dict(
            Reaction.objects.filter(user_id=vid, post__author_id__in=authors, id__gte=since)
            .values_list("post__author_id").annotate(n=Count("id")).values_list("post__author_id", "n")
        )
    )
    touches.update(
        dict(
            Comment.objects.filter(author_id=vid, post__author_id__in=authors, id__gte=since)
            .values_list("post__author_id").annotate(n=Count("id")).values_list("post__author_id", "n")
        )
    )

    def engagement(p: Post) -> float:
        return math.log1p(p.reactions_count + 2 * p.comments_count + 3 * p.reposts_count + p.quotes_count)

    best = max(engagement(item.post) for item in items) or 1.0
    now = timezone.now()
    base = {}
    for item in items:
        n = touches.get(item.post.author_id, 0)
        age_hours = max(0.0, (now - ids.id_timestamp(item.score)).total_seconds() / 3600)
        base[id(item)] = 0.35 * (n / (n + 3)) + 0.35 * (engagement(item.post) / best) + 0.15 * math.exp(-age_hours / 24)
    placed: list[FeedItem] = []
    per_author: Counter = Counter()
    remaining = list(items)
    while remaining:
        pick = max(remaining, key=lambda it: (base[id(it)] + 0.10 / (1 + per_author[it.post.author_id]), it.score))
        remaining.remove(pick)
        per_author[pick.post.author_id] += 1
        placed.append(pick)
    return placed


def _home_ranked(viewer, vid: int, cursor: str | None, limit: int) -> FeedPage:
    """Ranked pages from one cached ordering of the top candidates; the cursor is an offset
    into it (bounded by RANKED_CANDIDATES, never a table offset)."""
    client = get_redis()
    offset = decode_cursor(cursor) or 0
    key = timelines.ranked_key(vid)
    raw = client.get(key) if offset else None
    if raw is None:
        # First page, or the cached order expired mid-scroll: rank afresh and continue at
        # the same position (a few posts may repeat or be skipped; nothing is lost for good,
        # the chronological feed still has everything).
        candidates = _home_chronological(viewer, vid, None, RANKED_CANDIDATES).items
        ordered = _rank(viewer, vid, candidates)
        encoded = ",".join(f"{i.post.pk}:{i.score}:{i.reposted_by.pk if i.reposted_by else ''}" for i in ordered)
        client.set(key, encoded, ex=RANKED_TTL)
        window = ordered[offset: offset + limit]
        more = len(ordered) > offset + limit
        return FeedPage(items=window, next_cursor=encode_cursor(offset + limit) if more else None, source="ranked")
    rows = [r.split(":") for r in raw.decode().split(",") if r]
    window = rows[offset: offset + limit]
    posts = visible_posts_by_ids(viewer=viewer, post_ids=[int(r[0]) for r in window])
    reposters = _visible_reposters(viewer, [int(r[2]) for r in window if r[2]])
    items = []
    for pid, score, reposter in window:
        post = posts.get(int(pid))
        if post is None or (reposter and int(reposter) not in reposters):
            continue
        by = reposters.get(int(reposter)) if reposter else None
        items.append(FeedItem(post=post, score=int(score), reposted_by=by))
    more = len(rows) > offset + limit
    return FeedPage(items=items, next_cursor=encode_cursor(offset + limit) if more else None, source="ranked")


def home_feed(*, viewer, cursor: str | None = None, max_id=None, limit: int = 20,
              ranking: str = "chronological") -> FeedPage:
    """The "Circle" tab of `viewer` (logged in).

    chronological (default): the Redis timeline merged with the big accounts followed,
    below `max_id` / `cursor`, resolved with one primary-key query + the policy per round,
    over-fetching until the page is full or the feed is exhausted (then the pull query
    continues below the Redis window). A cold feed (new, expired or lost) is answered by
    the pull query while a worker rebuilds it. ranked: the top candidates re-ordered by
    the seeds' score (see `_rank`). Raises Invalid for a bad cursor or ranking.
    """
    if ranking not in RANKINGS:
        raise Invalid("ranking must be chronological or ranked.", field="ranking")
    vid = _vid(viewer)
    if ranking == "ranked":
        return _home_ranked(viewer, vid, cursor, limit)
    return _home_chronological(viewer, vid, _parse_max_id(cursor, max_id), limit)


# --- circle feeds ---------------------------------------------------------------------------------
def circle_feed(*, viewer, circle_id, cursor: str | None = None, limit: int = 20) -> FeedPage:
    """Posts by the members of one of `viewer`'s circles, newest first, through the policy
    (a member's circle-only post shows only if the viewer is in that member's circle),
    mutes excluded. NotFound when the circle is not the viewer's."""
    circle = social_selectors.circle_get_owned(actor=viewer, circle_id=circle_id)
    upper = decode_cursor(cursor)
    posts = (
        content_selectors.post_list_visible_to(viewer=viewer, top_level_only=True)
        .filter(author_id__in=CircleMember.objects.filter(circle_id=circle.pk).values("member_id"))
        .filter(policy.exclude_muted_q(viewer))
    )
    if upper is not None:
        posts = posts.filter(pk__lt=upper)
    rows = list(posts.order_by("-id")[: limit + 1])
    items = [FeedItem(post=p, score=p.pk) for p in rows[:limit]]
    return FeedPage(items=items, next_cursor=encode_cursor(items[-1].score) if len(rows) > limit and items else None,
                    source="pull", extra={"circle": circle})


# --- trending ---------------------------------------------------------------------------------------
TRENDING_DEPTH = 500


@dataclass
class TrendingEntry:
    """A hashtag or sound with its decayed score now."""

    object: object
    score: float


def trending_posts(*, viewer, kind: str = "posts", window: str = "24h", cursor: str | None = None,
                   limit: int = 20) -> FeedPage:
    """Trending posts or videos (`kind` posts|videos) for a window (1h|24h|7d), best first,
    each re-checked through the policy (+ discovery: no shadowbanned authors, + mutes).
    The cursor is a position in the ranked list (bounded by TRENDING_DEPTH)."""
    from feeds import trending

    if kind not in ("posts", "videos"):
        raise Invalid("kind must be posts or videos here.", field="kind")
    top = trending.trending_top(kind=kind, window=window, limit=TRENDING_DEPTH)
    offset = decode_cursor(cursor) or 0
    return _walk_ranked(viewer, [(pid, score) for pid, score in top], offset, limit, source="trending")


def _walk_ranked(viewer, ranked: list[tuple[int, float]], offset: int, limit: int, *, source: str) -> FeedPage:
    """A page of visible posts from a ranked id list, starting at `offset`, over-fetching
    so the page is full whenever enough visible posts remain."""
    items: list[FeedItem] = []
    positions: list[int] = []
    position = offset
    chunk = 2 * (limit + 1)
    while position < len(ranked) and len(items) <= limit:
        window = ranked[position: position + chunk]
        posts = visible_posts_by_ids(viewer=viewer, post_ids=[pid for pid, _ in window], discovery=True)
        for index, (pid, score) in enumerate(window):
            post = posts.get(pid)
            if post is not None:
                items.append(FeedItem(post=post, score=pid))
                positions.append(position + index)
                if len(items) > limit:
                    break
        position += len(window)
        chunk *= 2
    more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(positions[limit - 1] + 1) if more and items else None
    return FeedPage(items=items, next_cursor=next_cursor, source=source)


def trending_tags(*, kind: str = "hashtags", window: str = "24h", limit: int = 20) -> list[TrendingEntry]:
    """Trending hashtags or sounds (`kind` hashtags|sounds) with their decayed scores.
    Their scores only count eligible posts (public, visible, non-shadowbanned authors)."""
    from feeds import trending

    if kind not in ("hashtags", "sounds"):
        raise Invalid("kind must be hashtags or sounds here.", field="kind")
    top = trending.trending_top(kind=kind, window=window, limit=limit)
    load = trending.hashtags_by_ids if kind == "hashtags" else trending.sounds_by_ids
    rows = load(i for i, _ in top)
    return [TrendingEntry(object=rows[i], score=score) for i, score in top if i in rows]


# --- explore ----------------------------------------------------------------------------------------
EXPLORE_TRENDING = 200
EXPLORE_FRESH = 200
EXPLORE_FRESH_DAYS = 3
EXPLORE_TTL = 300
EXPLORE_AUTHOR_GAP = 4  # at least this many other authors between two posts by one author


def _explore_order(viewer) -> list[int]:
    """Candidate post ids: trending (24 h) interleaved with fresh public posts from
    accounts the viewer does not follow, then diversified by author."""
    from feeds import trending

    vid = _vid(viewer)
    hot = [pid for pid, _ in trending.trending_top(kind="posts", window="24h", limit=EXPLORE_TRENDING)]
    fresh = (
        Post.objects.filter(
            parent__isnull=True, audience="public",
            pk__gte=ids.min_id_at(timezone.now() - timedelta(days=EXPLORE_FRESH_DAYS)),
        )
        .filter(content_selectors.post_visible_q(viewer))
        .filter(policy.discovery_q(viewer))
    )
    if vid is not None:
        fresh = fresh.exclude(author_id__in=policy.following_subquery(vid)).exclude(author_id=vid)
    fresh_ids = list(fresh.order_by("-id").values_list("id", flat=True)[:EXPLORE_FRESH])
    merged: list[int] = []
    for pair in zip_longest(hot, fresh_ids):
        for pid in pair:
            if pid is not None and pid not in merged:
                merged.append(pid)
    authors = dict(Post.objects.filter(pk__in=merged).values_list("id", "author_id"))
    order: list[int] = []
    pending = [pid for pid in merged if pid in authors]
    while pending:
        recent = {authors[pid] for pid in order[-EXPLORE_AUTHOR_GAP:]}
        pick = next((pid for pid in pending if authors[pid] not in recent), pending[0])
        pending.remove(pick)
        order.append(pick)
    return order


def explore(*, viewer, cursor: str | None = None, limit: int = 20) -> FeedPage:
    """Explore: trending plus fresh posts from accounts the viewer does not follow,
    diversified by author, through the policy and discovery filter. Works logged out.
    The candidate order is cached a few minutes per viewer so pages do not overlap."""
    client = get_redis()
    vid = _vid(viewer)
    key = f"feed:explore:{vid or 'anon'}"
    offset = decode_cursor(cursor) or 0
    raw = client.get(key) if offset else None
    if raw is None:
        offset = 0
        order = _explore_order(viewer)
        client.set(key, ",".join(str(i) for i in order), ex=EXPLORE_TTL)
    else:
        order = [int(i) for i in raw.decode().split(",") if i]
    return _walk_ranked(viewer, [(pid, 0.0) for pid in order], offset, limit, source="explore")


# --- search -----------------------------------------------------------------------------------------
SEARCH_TYPES = ("all", "users", "hashtags", "posts", "sounds")
SEARCH_CANDIDATES = 200
SEARCH_ALL_EACH = 5


@dataclass
class SearchResults:
    users: list = field(default_factory=list)
    hashtags: list = field(default_factory=list)
    posts: list = field(default_factory=list)
    sounds: list = field(default_factory=list)
    next_cursor: str | None = None


def _visible_search_objects(viewer, kind: str, object_ids: list[int]) -> dict[int, object]:
    from content.models import Hashtag, Sound

    if not object_ids:
        return {}
    if kind == "user":
        return _visible_users_by_ids(viewer, object_ids, discovery=True)
    if kind == "post":
        # Public posts by public accounts only (or the viewer's own): privacy can change
        # after indexing, so it is checked here, on the rows just loaded.
        vid = _vid(viewer)
        posts = content_selectors.posts_visible_by_ids(viewer=viewer, post_ids=object_ids, discovery=True)
        return {
            p.pk: p for p in posts
            if p.audience == policy.PUBLIC and (not p.author.is_private or p.author_id == vid)
        }
    if kind == "hashtag":
        return {h.pk: h for h in Hashtag.objects.filter(pk__in=object_ids)}
    sounds = Sound.objects.filter(pk__in=object_ids).filter(
        Q(owner__isnull=True) | Q(owner__in=User.objects.filter(policy.visible_users_q(viewer)))
    )
    return {s.pk: s for s in sounds}


def _search_kind(viewer, kind: str, query: str, offset: int, limit: int) -> tuple[list, str | None]:
    from feeds import search as search_backends

    wanted = min(SEARCH_CANDIDATES, 2 * (offset + limit + 1))  # enough for this page after filtering
    candidates = search_backends.get_backend().candidates(kind=kind, query=query, limit=wanted)
    found: list = []
    positions: list[int] = []
    position = offset
    chunk = limit + 1 + 4  # most candidates pass the policy: one page and a margin, doubled if not
    while position < len(candidates) and len(found) <= limit:
        window = candidates[position: position + chunk]
        visible = _visible_search_objects(viewer, kind, window)
        for index, object_id in enumerate(window):
            if object_id in visible:
                found.append(visible[object_id])
                positions.append(position + index)
                if len(found) > limit:
                    break
        position += len(window)
        chunk *= 2
    more = len(found) > limit
    found = found[:limit]
    return found, encode_cursor(positions[limit - 1] + 1) if more and found else None


def search(*, viewer, query: str, type: str = "all", cursor: str | None = None, limit: int = 20) -> SearchResults:
    """Search users (handle, display name, bio), hashtags, posts and sounds.

    Typo-tolerant and prefix matching over normalised text (Arabic, Arabizi, Latin; see
    feeds/search.py), ranked by match then popularity; every hit passes the policy: blocked
    or inactive accounts never appear, shadowbanned ones only to themselves, posts only when
    public by a public account (or the viewer's own). `type=all` gives the top few of each
    kind and no cursor; one kind pages by a cursor over its candidates. Raises Invalid.
    """
    if type not in SEARCH_TYPES:
        raise Invalid(f"type must be one of {', '.join(SEARCH_TYPES)}.", field="type")
    query = (query or "").strip()
    results = SearchResults()
    if not query:
        return results
    kinds = {"users": "user", "hashtags": "hashtag", "posts": "post", "sounds": "sound"}
    if type == "all":
        for name, kind in kinds.items():
            setattr(results, name, _search_kind(viewer, kind, query, 0, SEARCH_ALL_EACH)[0])
        return results
    items, next_cursor = _search_kind(viewer, kinds[type], query, decode_cursor(cursor) or 0, limit)
    setattr(results, type, items)
    results.next_cursor = next_cursor
    return results


def search_recent(*, user, limit: int = 10) -> list:
    """`user`'s most recent distinct searches, newest first."""
    from feeds.models import SearchHistory

    return list(SearchHistory.objects.filter(user_id=user.pk).order_by("-searched_at")[:limit])
