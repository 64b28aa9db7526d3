"""Recommendations tasks (all routed to the `embeddings` queue by name in daira/celery.py).

Bound to the project's app (not shared_task) so that `.delay()` from the web process, which
may never have imported daira.celery, still uses the configured broker.

Event subscribers (daira/lib/events.py ROUTES) take the event payload as keyword arguments
and ignore keys they do not use, so payloads can grow without breaking them.
"""

from __future__ import annotations

from django.db import OperationalError

from daira.celery import app
from recommendations import services
from recommendations.models import EventType, TargetType

RETRY = {"acks_late": True, "autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


@app.task(**RETRY)
def interactions_process_task(*, interaction_ids: list[int], since: str | None = None) -> int:
    return services.interactions_process(interaction_ids=interaction_ids, since=since)


@app.task(**RETRY)
def interests_refit_task(*, user_id: int) -> int:
    """Refit a user's interest vectors from their recent signals (scheduled, debounced, by
    interactions_process). Returns how many interests the user has afterwards (-1: unchanged)."""
    interests = services.interests_refit(user_id=int(user_id))
    return -1 if interests is None else len(interests)


@app.task(**RETRY)
def for_you_prepare_task(*, user_id: int) -> int:
    """Re-rank and keep a user's For-You list after their interests moved (debounced, by
    interactions_process and interests_refit). Returns the entries kept."""
    from recommendations import selectors

    return selectors.for_you_prepare(user_id=int(user_id))


@app.task(**RETRY)
def post_embed_task(*, post_id: int, **_: object) -> int:
    """On "post.published": embed the post (or give it a fallback vector)."""
    return services.items_embed(post_ids=[int(post_id)])


@app.task(**RETRY)
def post_refresh_task(*, post_id: int, **_: object) -> None:
    """On "post.updated" / "post.deleted": re-embed, or drop the vector of a deleted post."""
    services.item_refresh(post_id=int(post_id))


@app.task(**RETRY)
def reaction_record_task(*, target_type: str, target_id: int, user_id: int, **_: object) -> None:
    """On "reaction.added": a like of a post made through the API joins the stream once."""
    if target_type == "post":
        services.interaction_record_server(user_id=int(user_id), kind=EventType.LIKE, target_type=TargetType.POST,
                                           target_id=int(target_id))


@app.task(**RETRY)
def comment_record_task(*, post_id: int, author_id: int, **_: object) -> None:
    """On "comment.created"."""
    services.interaction_record_server(user_id=int(author_id), kind=EventType.COMMENT, target_type=TargetType.POST,
                                       target_id=int(post_id))


@app.task(**RETRY)
def repost_record_task(*, post_id: int, user_id: int, **_: object) -> None:
    """On "repost.created": a repost is a share."""
    services.interaction_record_server(user_id=int(user_id), kind=EventType.SHARE, target_type=TargetType.POST,
                                       target_id=int(post_id))


@app.task(**RETRY)
def follow_record_task(*, follower_id: int, followee_id: int, **_: object) -> None:
    """On "follow.created"."""
    services.interaction_record_server(user_id=int(follower_id), kind=EventType.FOLLOW, target_type=TargetType.USER,
                                       target_id=int(followee_id))


@app.task(**RETRY)
def partitions_maintain_task() -> dict:
    """Beat (hourly): create upcoming daily partitions, drop those past retention."""
    return services.partitions_maintain()


@app.task(acks_late=True, soft_time_limit=50 * 60, time_limit=55 * 60)
def collab_factorise_task() -> dict:
    """Beat (hourly): collaborative vectors from recent co-engagement."""
    return services.collab_factorise()
