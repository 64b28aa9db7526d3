"""Feeds tasks (queue `fanout`, by name in daira/celery.py): thin, idempotent wrappers
around feeds.services / feeds.trending, subscribed to events in daira/lib/events.py.

Event payloads carry more keys than a handler needs; each task takes `**_` so a new
key in a payload never breaks delivery.
"""

from __future__ import annotations

from celery import shared_task
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from feeds import services, trending
from feeds.models import SearchKind

RETRY = {"acks_late": True, "autoretry_for": (RedisConnectionError, RedisTimeoutError), "retry_backoff": True,
         "max_retries": 5}


# --- home feeds -------------------------------------------------------------------------------
@shared_task(**RETRY)
def post_fan_out_task(post_id: int, **_) -> int:
    """post.published → the author's followers' home feeds (or fan-in for big accounts)."""
    return services.home_feeds_push(post_id=post_id)


@shared_task(**RETRY)
def repost_fan_out_task(post_id: int, user_id: int, **_) -> int:
    """repost.created → the reposter's followers' home feeds, and trending."""
    delivered = services.home_feeds_push_repost(post_id=post_id, user_id=user_id)
    trending.trending_record(post_id=post_id, event="repost")
    return delivered


@shared_task(**RETRY)
def post_deleted_task(post_id: int, author_id: int, **_) -> None:
    """post.deleted → out of home feeds and the search index."""
    services.home_feeds_remove_post(post_id=post_id, author_id=author_id)
    services.search_unindex(kind=SearchKind.POST, object_id=post_id)


@shared_task(**RETRY)
def follow_backfill_task(follower_id: int | None = None, followee_id: int | None = None,
                         requester_id: int | None = None, target_id: int | None = None, **_) -> int:
    """follow.created {follower_id, followee_id} / follow_request.accepted
    {requester_id, target_id} → the followee's recent posts into the follower's feed."""
    user_id = follower_id if follower_id is not None else requester_id
    author_id = followee_id if followee_id is not None else target_id
    return services.home_feed_backfill(user_id=user_id, followee_id=author_id)


@shared_task(**RETRY)
def follow_removed_task(follower_id: int, followee_id: int, **_) -> int:
    return services.home_feed_remove_author(user_id=follower_id, author_id=followee_id)


@shared_task(**RETRY)
def block_created_task(blocker_id: int, blocked_id: int, **_) -> None:
    """A block hides each from the other: clean both feeds."""
    services.home_feed_remove_author(user_id=blocker_id, author_id=blocked_id)
    services.home_feed_remove_author(user_id=blocked_id, author_id=blocker_id)


@shared_task(**RETRY)
def mute_created_task(muter_id: int, muted_id: int, posts: bool = True, **_) -> int:
    if not posts:
        return 0
    return services.home_feed_remove_author(user_id=muter_id, author_id=muted_id)


@shared_task(**RETRY)
def home_feed_rebuild_task(user_id: int, force: bool = False) -> int | None:
    """Cold or lost feed → rebuilt from Postgres (readers use the pull query meanwhile)."""
    return services.home_feed_rebuild(user_id=user_id, force=force)


# --- trending ---------------------------------------------------------------------------------------
@shared_task(**RETRY)
def reaction_trending_task(target_type: str, target_id: int, **_) -> bool:
    if target_type != "post":
        return False
    return trending.trending_record(post_id=target_id, event="reaction")


@shared_task(**RETRY)
def comment_trending_task(post_id: int, **_) -> bool:
    return trending.trending_record(post_id=post_id, event="comment")


@shared_task(**RETRY)
def quote_trending_task(quoted_post_id: int, **_) -> bool:
    return trending.trending_record(post_id=quoted_post_id, event="quote")


@shared_task(acks_late=True)
def trending_recompute_task() -> None:
    """Beat: exact scores from Postgres for every window, fresh epochs."""
    trending.trending_recompute_all()


# --- search index -----------------------------------------------------------------------------------
@shared_task(acks_late=True)
def post_search_index_task(post_id: int, **_) -> None:
    """post.published / post.updated → (re)index the post, its hashtags and sound."""
    services.search_index_post(post_id=post_id)


@shared_task(acks_late=True)
def user_search_index_task(user_id: int, **_) -> int:
    """user.registered / user.profile_updated / user.reactivated → (re)index the user;
    user.deactivated / user.purged → the same call removes them (no longer eligible)."""
    return services.search_index(kind=SearchKind.USER, object_ids=[user_id])


@shared_task(acks_late=True)
def search_reindex_task(kind: str = SearchKind.USER) -> int:
    """Beat: refresh one kind (users hourly: follower counts move their popularity)."""
    return services.search_reindex_all(kind=kind)
