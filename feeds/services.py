"""Feeds writes: home timelines in Redis (fan-out on write, backfill, removal, rebuild),
trending scores, the search index and search history.

Every function here is idempotent (tasks are at-least-once): ZADD of the same member is a
no-op, removals of missing members are no-ops, index upserts overwrite.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from itertools import islice

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from content import selectors as content_selectors
from content.models import ModerationState, Post, Repost
from daira.lib.redis import get_redis
from feeds import timelines
from feeds.timelines import Entry
from social import selectors as social_selectors

logger = logging.getLogger(__name__)

BACKFILL_POSTS = 20
REBUILD_REPOSTS = 200


def _batched(iterable: Iterable[int], size: int):
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


def _fanout_eligible(post: Post) -> bool:
    """Top-level, published, moderation-visible and alive: what a home feed may carry."""
    return (
        post.parent_id is None
        and post.deleted_at is None
        and post.status == Post.Status.PUBLISHED
        and post.moderation_state == ModerationState.VISIBLE
    )


def is_big_account(user_id: int) -> bool:
    """Authors above FANOUT_MAX_FOLLOWERS are not fanned out; readers pull them in."""
    return social_selectors.follower_count(user_id) > settings.FANOUT_MAX_FOLLOWERS


def active_since():
    return timezone.now() - timedelta(days=settings.FEED_ACTIVE_DAYS)


# --- fan-out ------------------------------------------------------------------------------
def _deliver(*, entry: Entry, owner_id: int) -> int:
    """Push `entry` into the owner's author set and, unless the owner is a big account,
    into the existing home feeds of the owner's active followers and the owner's own feed.
    Returns the number of home feeds that received it."""
    client = get_redis()
    with client.pipeline(transaction=False) as pipe:
        pipe.zadd(timelines.author_key(owner_id), {entry.member: entry.score})
        pipe.zremrangebyrank(timelines.author_key(owner_id), 0, -timelines.AUTHOR_ITEMS - 1)
        pipe.execute()
    script = timelines.push_if_exists_script()
    delivered = int(script(keys=[timelines.home_key(owner_id)], args=[entry.score, entry.member, timelines.MAX_ITEMS]))
    if is_big_account(owner_id):
        return delivered
    followers = social_selectors.active_follower_ids(owner_id, since=active_since())
    for batch in _batched(followers, timelines.FANOUT_BATCH):
        # One Lua call per batch of 1,000 feeds; the calls of a batch share one round trip.
        with client.pipeline(transaction=False) as pipe:
            for chunk in _batched(batch, 250):
                script(
                    keys=[timelines.home_key(uid) for uid in chunk],
                    args=[entry.score, entry.member, timelines.MAX_ITEMS],
                    client=pipe,
                )
            delivered += sum(int(n) for n in pipe.execute())
    return delivered


def home_feeds_push(*, post_id: int) -> int:
    """Fan a newly published post out to home feeds (event "post.published").

    Skips replies and anything not published/visible/alive; big authors get only their
    author set (fan-in). Returns the number of home feeds written."""
    post = Post.objects.filter(pk=post_id).only(
        "id", "author_id", "parent_id", "deleted_at", "status", "moderation_state"
    ).first()
    if post is None or not _fanout_eligible(post):
        return 0
    delivered = _deliver(entry=Entry(score=post.pk, post_id=post.pk, author_id=post.author_id), owner_id=post.author_id)
    logger.info("feeds.fanout", extra={"post_id": post.pk, "delivered": delivered})
    return delivered


def home_feeds_push_repost(*, post_id: int, user_id: int) -> int:
    """Fan a repost out to the reposter's followers (event "repost.created"); score is the
    repost's id so it appears when it was shared."""
    repost = Repost.objects.filter(post_id=post_id, user_id=user_id).select_related("post").first()
    if repost is None or not _fanout_eligible(repost.post):
        return 0
    entry = Entry(score=repost.pk, post_id=repost.post_id, author_id=repost.post.author_id, reposter_id=user_id)
    return _deliver(entry=entry, owner_id=user_id)


def home_feeds_remove_post(*, post_id: int, author_id: int) -> None:
    """Drop a deleted post from its author's set and the home feeds of the author's
    followers (event "post.deleted"). Reposts of it in other feeds are filtered at read
    (the visibility check drops deleted posts) and age out with trimming."""
    member = f"{post_id}:{author_id}"
    client = get_redis()
    client.zrem(timelines.author_key(author_id), member)
    client.zrem(timelines.home_key(author_id), member)
    for batch in _batched(social_selectors.follower_ids(author_id), timelines.FANOUT_BATCH):
        with client.pipeline(transaction=False) as pipe:
            for uid in batch:
                pipe.zrem(timelines.home_key(uid), member)
            pipe.execute()


# --- keeping feeds right when relations change -------------------------------------------------
def _recent_entries_of(author_id: int, *, posts: int, reposts: int) -> list[Entry]:
    """The author's latest top-level posts and reposts from Postgres (no viewer filter;
    readers apply the policy)."""
    entries = [
        Entry(score=pid, post_id=pid, author_id=author_id)
        for pid in content_selectors.post_ids_recent_by_author(author_id=author_id, limit=posts)
    ]
    if reposts:
        rows = (
            Repost.objects.filter(user_id=author_id, post__deleted_at__isnull=True)
            .order_by("-id")
            .values_list("id", "post_id", "post__author_id")[:reposts]
        )
        entries += [Entry(score=rid, post_id=pid, author_id=aid, reposter_id=author_id) for rid, pid, aid in rows]
    return entries


def home_feed_backfill(*, user_id: int, followee_id: int) -> int:
    """`user_id` started following `followee_id` (events "follow.created",
    "follow_request.accepted"): add the followee's recent posts to the user's feed if
    the feed is warm (a cold one is rebuilt with them anyway). A big account is not
    copied; the user's cached list of big accounts is dropped so reads merge it in."""
    client = get_redis()
    client.delete(timelines.big_following_key(user_id), timelines.ranked_key(user_id))
    key = timelines.home_key(user_id)
    if is_big_account(followee_id) or not client.exists(key):
        return 0
    entries = _recent_entries_of(followee_id, posts=BACKFILL_POSTS, reposts=BACKFILL_POSTS // 2)
    if not entries:
        return 0
    with client.pipeline(transaction=False) as pipe:
        pipe.zadd(key, {e.member: e.score for e in entries})
        pipe.zremrangebyrank(key, 0, -timelines.MAX_ITEMS - 1)
        pipe.execute()
    return len(entries)


def home_feed_remove_author(*, user_id: int, author_id: int) -> int:
    """Drop every entry by `author_id` (posts, and posts they reposted) from `user_id`'s
    feed (events "follow.removed", "block.created" both ways, "mute.created")."""
    client = get_redis()
    client.delete(timelines.big_following_key(user_id), timelines.ranked_key(user_id))
    key = timelines.home_key(user_id)
    doomed = []
    for member, score in client.zrange(key, 0, -1, withscores=True):
        entry = timelines.parse_member(member, score)
        if entry is not None and entry.involves(author_id):
            doomed.append(member)
    if doomed:
        client.zrem(key, *doomed)
    return len(doomed)


# --- cold and lost feeds ---------------------------------------------------------------------
def home_feed_rebuild(*, user_id: int, force: bool = False) -> int | None:
    """Rebuild `user_id`'s home feed from Postgres under the rebuild lock.

    The key is made to exist (empty marker) *before* Postgres is read, so a fan-out that
    runs during the rebuild lands in it; readers see the lock and use the pull query until
    it is released. Returns the number of entries written, or None when another rebuild
    holds the lock. `force` rebuilds a warm feed too (operators, `feeds_rebuild`)."""
    client = get_redis()
    key, lock = timelines.home_key(user_id), timelines.rebuild_lock_key(user_id)
    if not client.set(lock, "1", nx=True, ex=timelines.REBUILD_LOCK_SECONDS):
        return None
    try:
        if client.exists(key) and not force:
            return 0
        if force:
            client.delete(key)
        client.zadd(key, {timelines.EMPTY_MARKER: 0})
        following = list(social_selectors.following_ids(user_id))
        authors = following + [user_id]
        post_rows = (
            Post.objects.filter(
                author_id__in=authors,
                parent__isnull=True,
                deleted_at__isnull=True,
                status=Post.Status.PUBLISHED,
                moderation_state=ModerationState.VISIBLE,
            )
            .order_by("-id")
            .values_list("id", "author_id")[: timelines.MAX_ITEMS]
        )
        entries = [Entry(score=pid, post_id=pid, author_id=aid) for pid, aid in post_rows]
        repost_rows = (
            Repost.objects.filter(user_id__in=authors, post__deleted_at__isnull=True)
            .order_by("-id")
            .values_list("id", "post_id", "post__author_id", "user_id")[:REBUILD_REPOSTS]
        )
        entries += [Entry(score=rid, post_id=pid, author_id=aid, reposter_id=uid) for rid, pid, aid, uid in repost_rows]
        with client.pipeline(transaction=False) as pipe:
            if entries:
                pipe.zadd(key, {e.member: e.score for e in entries})
            pipe.zremrangebyrank(key, 0, -timelines.MAX_ITEMS - 1)
            pipe.expire(key, timelines.feed_ttl_seconds())
            pipe.delete(timelines.big_following_key(user_id), timelines.ranked_key(user_id))
            pipe.execute()
        return len(entries)
    finally:
        client.delete(lock)


def home_feed_request_rebuild(*, user_id: int) -> None:
    """Ask a fanout worker to rebuild a cold feed (readers call this; the lock in
    `home_feed_rebuild` makes duplicates harmless)."""
    from feeds.tasks import home_feed_rebuild_task

    try:
        transaction.on_commit(lambda: home_feed_rebuild_task.delay(user_id=user_id))
    except Exception:  # a lost broker must not fail the read; the next read asks again
        logger.exception("feeds.rebuild_request_failed", extra={"user_id": user_id})


def author_recent_refill(*, author_id: int) -> list[Entry]:
    """Refill a lost per-author set from Postgres (fan-in reads after Redis lost data)."""
    entries = _recent_entries_of(author_id, posts=timelines.AUTHOR_ITEMS, reposts=timelines.AUTHOR_ITEMS // 4)
    client = get_redis()
    with client.pipeline(transaction=False) as pipe:
        pipe.delete(timelines.author_key(author_id))
        pipe.zadd(timelines.author_key(author_id), {timelines.EMPTY_MARKER: 0})
        if entries:
            pipe.zadd(timelines.author_key(author_id), {e.member: e.score for e in entries})
        pipe.zremrangebyrank(timelines.author_key(author_id), 0, -timelines.AUTHOR_ITEMS - 1)
        pipe.execute()
    return entries


# --- search index ------------------------------------------------------------------------------------
def search_index(*, kind: str, object_ids: Iterable[int]) -> int:
    """(Re)index objects of `kind` in the configured backend; ids that are gone or no
    longer eligible (deleted, private audience, deactivated user) are removed. Returns the
    number of documents written."""
    from feeds import search

    object_ids = list(dict.fromkeys(int(i) for i in object_ids))
    if not object_ids:
        return 0
    docs = search.DOC_BUILDERS[kind](object_ids)
    backend = search.get_backend()
    backend.upsert(docs)
    missing = set(object_ids) - {doc.object_id for doc in docs}
    if missing:
        backend.delete(kind=kind, object_ids=sorted(missing))
    return len(docs)


def search_index_post(*, post_id: int) -> None:
    """Index a published or edited post with its hashtags and sound (events
    "post.published", "post.updated"); a post that is no longer eligible is removed."""
    from content.models import PostHashtag
    from feeds.models import SearchKind

    search_index(kind=SearchKind.POST, object_ids=[post_id])
    hashtag_ids = list(PostHashtag.objects.filter(post_id=post_id).values_list("hashtag_id", flat=True))
    if hashtag_ids:
        search_index(kind=SearchKind.HASHTAG, object_ids=hashtag_ids)
    sound_id = Post.objects.filter(pk=post_id).values_list("sound_id", flat=True).first()
    if sound_id:
        search_index(kind=SearchKind.SOUND, object_ids=[sound_id])


def search_unindex(*, kind: str, object_id: int) -> None:
    from feeds import search

    search.get_backend().delete(kind=kind, object_ids=[int(object_id)])


def search_reindex_all(*, kind: str, batch_size: int = 2_000, progress=None) -> int:
    """Rebuild the index of one kind from the source tables (operators, beat for users'
    popularity). `progress(n)` is called after each batch. Returns documents written."""
    from accounts.models import User
    from content.models import Hashtag, Sound
    from feeds.models import SearchKind

    sources = {
        SearchKind.USER: User.objects.filter(status=User.Status.ACTIVE),
        SearchKind.POST: Post.objects.filter(
            status=Post.Status.PUBLISHED, moderation_state=ModerationState.VISIBLE, deleted_at__isnull=True,
            audience="public",
        ),
        SearchKind.HASHTAG: Hashtag.objects.all(),
        SearchKind.SOUND: Sound.objects.all(),
    }
    written = 0
    ids_iter = sources[kind].order_by().values_list("pk", flat=True).iterator(chunk_size=batch_size)
    for batch in _batched(ids_iter, batch_size):
        written += search_index(kind=kind, object_ids=batch)
        if progress is not None:
            progress(len(batch))
    return written


# --- search history -----------------------------------------------------------------------------------
SEARCH_HISTORY_KEEP = 50


@transaction.atomic
def search_history_record(*, user, query: str, kind: str = "") -> None:
    """Remember `user`'s search (once per normalised query; the newest search wins) and
    keep their last SEARCH_HISTORY_KEEP. Empty queries are not recorded."""
    from daira.lib.text import normalize_for_match
    from feeds.models import SearchHistory

    query = (query or "").strip()[:200]
    normalized = normalize_for_match(query)[:200]
    if not normalized:
        return
    from django.db import connection

    from daira.lib import ids

    # One statement (it runs on every search request): upsert this query to the top, and
    # drop the user's other queries beyond the newest SEARCH_HISTORY_KEEP - 1. Both parts
    # see the same snapshot, so the trim counts the other queries only.
    table = SearchHistory._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH upserted AS (
                INSERT INTO "{table}" (id, user_id, query, normalized, kind, searched_at)
                VALUES (%(id)s, %(user)s, %(query)s, %(normalized)s, %(kind)s, %(at)s)
                ON CONFLICT (user_id, normalized) DO UPDATE
                SET query = EXCLUDED.query, kind = EXCLUDED.kind, searched_at = EXCLUDED.searched_at
                RETURNING id
            )
            DELETE FROM "{table}" WHERE user_id = %(user)s AND normalized <> %(normalized)s AND id NOT IN (
                SELECT id FROM "{table}" WHERE user_id = %(user)s AND normalized <> %(normalized)s
                ORDER BY searched_at DESC, id DESC LIMIT %(others)s
            )
            """,
            {"id": ids.next_id(), "user": user.pk, "query": query, "normalized": normalized, "kind": kind[:8],
             "at": timezone.now(), "others": SEARCH_HISTORY_KEEP - 1},
        )


def search_history_clear(*, user, entry_id=None) -> int:
    """Forget one entry (`entry_id`) or all of `user`'s searches. Returns rows deleted."""
    from feeds.models import SearchHistory

    rows = SearchHistory.objects.filter(user_id=user.pk)
    if entry_id is not None:
        try:
            rows = rows.filter(pk=int(entry_id))
        except (TypeError, ValueError):
            return 0
    return rows.delete()[0]
