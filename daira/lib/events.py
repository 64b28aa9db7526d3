"""Domain events: the one routing table from event names to the Celery tasks that handle them.

A lower app never imports a higher one (DESIGN.md); it emits an event instead:

    events.emit_on_commit("post.created", post_id=post.pk)

Each route is sent by task *name* (`celery_app.send_task`), inside
`transaction.on_commit`, so nothing is announced for a rolled-back write and the
emitting app never imports the subscriber. Payloads are small JSON-able dicts of ids.
Queues are chosen by task name in `daira/celery.py` (`task_routes`).

Subscribing a task: add its dotted name to the event's list below. Handlers must be
idempotent (at-least-once delivery, `acks_late`).

Batched routes (`Batched(task, key)`): for events that arrive in bursts at one key, such as
the gifts to a popular creator. Instead of one task per event, payloads queue in a Redis
list per key and at most one task per key drains them in batches (`drain_batches`). An
event then costs one pipelined Redis round trip (about a quarter of a publish's CPU; a
task is published only when no drain is claimed for the key), and the handler no longer
meets itself on one hot row (the creator's notification group) from many workers at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batched:
    """A route whose `task(key=...)` takes the event's payloads in batches, one queue per
    value of the payload's `key` field. The task calls `drain_batches(task, key, handle)`."""

    task: str
    key: str


ROUTES: dict[str, list[str | Batched]] = {
    # --- platform ---
    "system.ping": [],
    # --- accounts --- (payloads: user ids as ints; see accounts/services.py)
    "user.registered": ["feeds.tasks.user_search_index_task"],  # {user_id}
    "user.profile_updated": ["feeds.tasks.user_search_index_task"],  # {user_id}
    "user.privacy_changed": ["social.tasks.user_privacy_changed_task"],  # {user_id, is_private}
    "user.suspended": [],  # {user_id, until: ISO datetime or None}
    "user.unsuspended": [],  # {user_id}
    "user.deactivated": ["feeds.tasks.user_search_index_task"],  # {user_id} hidden everywhere from now on
    "user.reactivated": ["feeds.tasks.user_search_index_task"],  # {user_id} restored within the grace period
    "user.purged": ["feeds.tasks.user_search_index_task"],  # {user_id} row deleted (deletion hooks already ran)
    # --- social --- (payloads: user ids; see social/services.py)
    "follow.created": ["messaging.tasks.follow_notify_task", "feeds.tasks.follow_backfill_task", "recommendations.tasks.follow_record_task"],  # {follower_id, followee_id}
    "follow.removed": ["feeds.tasks.follow_removed_task"],  # {follower_id, followee_id}
    "follow_request.created": ["messaging.tasks.follow_request_notify_task"],  # {requester_id, target_id}
    "follow_request.accepted": ["messaging.tasks.follow_accepted_notify_task", "feeds.tasks.follow_backfill_task"],  # {requester_id, target_id}
    "friend_request.created": ["messaging.tasks.friend_request_notify_task"],  # {from_user_id, to_user_id}
    "friendship.created": ["messaging.tasks.friendship_notify_task"],  # {user_id, friend_id}
    "friendship.removed": [],  # {user_id, friend_id}
    "block.created": ["feeds.tasks.block_created_task"],  # {blocker_id, blocked_id}
    "block.removed": [],  # {blocker_id, blocked_id}
    "mute.created": ["feeds.tasks.mute_created_task"],  # {muter_id, muted_id, posts, stories}
    "mute.removed": [],  # {muter_id, muted_id}
    "shadowban.changed": [],  # {user_id, active}
    # --- moderation --- (see moderation/services.py)
    # {content_type: "app_label.model", object_id}: hide the target pending review.
    "moderation.target_hidden": ["content.tasks.moderation_target_hidden_task", "messaging.tasks.moderation_target_hidden_task"],
    # {case_id, decision, target_app_label, target_model, target_id, target_user_id}; decision is
    # dismiss|warn|limit|remove|suspend_1d|suspend_7d|suspend_30d|suspend_permanent|restored.
    "moderation.decided": ["content.tasks.moderation_decided_task", "messaging.tasks.moderation_decided_task"],
    # {user_id, kind: "decision"|"appeal_decided", decision_id, decision}: tell the user.
    "moderation.user_notified": ["messaging.tasks.moderation_notify_task"],
    # --- media ---
    # payload {asset_id, owner_id, kind}; content subscribes (publish posts waiting on media)
    "media.ready": ["content.tasks.media_ready_task"],
    "media.failed": ["content.tasks.media_failed_task"],
    # payload {asset_id, owner_id}: the audio track is stored (renditions["audio"]) for sounds
    "media.audio_extracted": ["content.tasks.media_audio_extracted_task"],
    # --- content --- (payloads: ids as ints; see content/services.py)
    # {post_id, author_id, status, parent_id, root_id, quote_of_id}: saved (maybe still pending media)
    "post.created": [],
    # {post_id, author_id, parent_id, root_id}: published and visible for the first time (once);
    # feeds fan out on this one (a pending or held post is not announced until it is ready)
    "post.published": ["messaging.tasks.post_reply_notify_task", "feeds.tasks.post_fan_out_task", "feeds.tasks.post_search_index_task", "recommendations.tasks.post_embed_task"],
    "post.updated": ["feeds.tasks.post_search_index_task", "recommendations.tasks.post_refresh_task"],  # {post_id, author_id}: text, audience or comment settings changed
    "post.deleted": ["feeds.tasks.post_deleted_task", "recommendations.tasks.post_refresh_task"],  # {post_id, author_id}: soft-deleted by its author (or purged)
    # {comment_id, post_id, author_id, post_author_id, parent_id, parent_author_id}
    "comment.created": ["messaging.tasks.comment_notify_task", "feeds.tasks.comment_trending_task", "recommendations.tasks.comment_record_task"],
    # {target_type: "post"|"comment"|"story", target_id, user_id, owner_id, reaction}
    "reaction.added": ["messaging.tasks.reaction_notify_task", "feeds.tasks.reaction_trending_task", "recommendations.tasks.reaction_record_task"],
    "repost.created": ["messaging.tasks.repost_notify_task", "feeds.tasks.repost_fan_out_task", "recommendations.tasks.repost_record_task"],  # {post_id, user_id, author_id}
    "quote.created": ["messaging.tasks.quote_notify_task", "feeds.tasks.quote_trending_task"],  # {post_id, author_id, quoted_post_id, quoted_author_id}
    # {mention_id, target_type: "post"|"comment"|"story", target_id, author_id, mentioned_id}
    "mention.created": ["messaging.tasks.mention_notify_task"],
    "story.created": [],  # {story_id, author_id}
    "story.viewed": [],  # {story_id, author_id, viewer_id} (first view by that viewer only)
    "story.replied": ["messaging.tasks.story_replied_task"],  # {story_id, author_id, replier_id, text}: messaging turns it into a DM
    # --- messaging --- (see messaging/services.py)
    "message.created": ["messaging.tasks.message_notify_task"],  # {message_id} (not for held messages)
    # --- wallet --- (ids are ints; see wallet/services.py)
    # A popular creator gets thousands a minute: both are batched per creator.
    # {gift_id, sender_id, creator_id, post_id|None}
    "gift.received": [Batched("messaging.tasks.gift_notify_batch_task", key="creator_id")],
    # {tip_id, sender_id, creator_id, context: "profile"|"dm"}
    "tip.received": [Batched("messaging.tasks.tip_notify_batch_task", key="creator_id")],
    "subscription.started": ["messaging.tasks.subscription_notify_task"],  # {subscription_id, subscriber_id, creator_id, tier_level}
    "payout.updated": [],  # {payout_id, user_id, status}
}

# Observers see every event as it is sent (after commit). Tests use this to assert on
# emitted events without a broker; production has none.
_observers: list[Callable[[str, dict[str, Any]], None]] = []


def add_observer(observer: Callable[[str, dict[str, Any]], None]) -> None:
    _observers.append(observer)


def remove_observer(observer: Callable[[str, dict[str, Any]], None]) -> None:
    if observer in _observers:
        _observers.remove(observer)


def route_task(route: str | Batched) -> str:
    """The dotted name of the task a route sends."""
    return route.task if isinstance(route, Batched) else route


def _send(name: str, payload: dict[str, Any]) -> None:
    for observer in list(_observers):
        observer(name, payload)
    # Imported here: the Celery app imports Django settings, and events is imported by models.
    from daira.celery import app as celery_app

    for route in ROUTES.get(name, []):
        try:
            if isinstance(route, Batched):
                _queue_batched(celery_app, route, payload)
            else:
                # Payloads are small dicts of ids and strings: builtin repr is enough for the
                # message's args/kwargs display, and Celery's saferepr was a fifth of a publish.
                celery_app.send_task(route, kwargs=payload, argsrepr="()", kwargsrepr=repr(payload))
        except Exception:
            # The write is already committed; a lost broker must not turn it into a 500.
            # The event is lost for this route (logged with its name and payload); there is
            # no transactional outbox yet, so handlers that must converge also have a
            # periodic repair path (e.g. feeds are rebuilt from Postgres when cold).
            logger.exception("event.send_failed", extra={"event": name, "task": route_task(route), "payload": payload})


# --- Batched routes ------------------------------------------------------------------------
# Per (task, key): a Redis list of JSON payloads, a claim key and a running lock; and per task
# an index (a set) of the keys that may have payloads.
# - The claim means "a drain is queued or running": whoever sets it (NX) publishes the task.
# - The running lock (a token) makes drains of one key mutually exclusive, so two drains
#   never trim each other's batches (a second drain appears when a drain waited in the broker
#   longer than the claim lives and a sweep or event published another).
# - The drain ends in one script that releases the claim and the lock only if the list is
#   empty, so an event that arrives as a drain ends is either seen by it or publishes anew.
# - The claim and the lock expire (BATCH_CLAIM_S, renewed per batch): a drain that died, or a
#   task the broker lost, is started again by `sweep_batches` (beat, every minute) or by the
#   next event for its key.
BATCH_CLAIM_S = 60
BATCH_SIZE = 200

# KEYS: queue, claim, lock; ARGV: token, claim seconds, batch length. Trims the batch just
# handled only while the lock is still ours (else another drain owns the queue: the batch
# stays, handled again by it, at least once), and renews the claim and the lock.
_TRIM_BATCH = """
if redis.call('get', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('ltrim', KEYS[1], tonumber(ARGV[3]), -1)
redis.call('expire', KEYS[2], tonumber(ARGV[2]))
redis.call('expire', KEYS[3], tonumber(ARGV[2]))
return 1
"""
# KEYS: queue, claim, lock, index; ARGV: token, member. 1 = more payloads (keep draining);
# 0 = empty: the claim and our lock are released and the key leaves the index, atomically.
_END_DRAIN = """
if redis.call('llen', KEYS[1]) > 0 then return 1 end
redis.call('del', KEYS[2])
if redis.call('get', KEYS[3]) == ARGV[1] then redis.call('del', KEYS[3]) end
redis.call('srem', KEYS[4], ARGV[2])
return 0
"""
# KEYS: lock; ARGV: token. Releases the lock only if it is still ours.
_RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
return 0
"""
# KEYS: queue, claim, index; ARGV: member, claim seconds. 1 = the key had payloads and no
# claim, and is now claimed by the caller (who must publish its drain); 0 = nothing to do
# (a key with an empty list leaves the index).
_SWEEP_KEY = """
if redis.call('llen', KEYS[1]) == 0 then redis.call('srem', KEYS[3], ARGV[1]) return 0 end
if redis.call('set', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[2])) then return 1 end
return 0
"""


def _batch_keys(task: str, key: str) -> tuple[str, str, str]:
    queue = f"events:batch:{task}:{key}"
    return queue, f"{queue}:claim", f"{queue}:running"


def _batch_index(task: str) -> str:
    return f"events:batch-index:{task}"


def _publish_drain(celery_app, task: str, key: str, claim: str) -> None:
    from daira.lib.redis import get_redis

    try:
        celery_app.send_task(task, kwargs={"key": key}, argsrepr="()", kwargsrepr=repr({"key": key}))
    except Exception:
        get_redis().delete(claim)  # so the next event (or sweep) for this key publishes again
        raise


def _queue_batched(celery_app, route: Batched, payload: dict[str, Any]) -> None:
    from daira.lib.redis import get_redis

    key = str(payload[route.key])
    queue, claim, _ = _batch_keys(route.task, key)
    pipe = get_redis().pipeline(transaction=False)
    pipe.rpush(queue, json.dumps(payload))
    pipe.sadd(_batch_index(route.task), key)  # after the push: the sweep's emptiness check sees both
    pipe.set(claim, "1", nx=True, ex=BATCH_CLAIM_S)
    _, _, claimed = pipe.execute()
    if claimed:
        _publish_drain(celery_app, route.task, key, claim)
    # else a drain is queued or running; it will see this payload


def drain_batches(task: str, key: str, handle: Callable[[list[dict[str, Any]]], None]) -> int:
    """Hand every payload queued for (`task`, `key`) to `handle`, oldest first, at most
    BATCH_SIZE at a time; returns how many. Called by a Batched route's task.

    At most one drain per key runs at a time: a drain that finds another running returns 0
    (the running one sees every payload). At least once: a batch leaves the queue only after
    `handle` returns, so if it raises the batch stays for the next drain (started by the next
    event or the sweep once the claim has expired). `handle` must therefore be idempotent, and
    should catch a payload it cannot handle rather than raise on it forever."""
    import uuid

    from daira.lib.redis import get_redis, registered_script

    redis = get_redis()
    queue, claim, lock = _batch_keys(task, key)
    token = uuid.uuid4().hex
    if not redis.set(lock, token, nx=True, ex=BATCH_CLAIM_S):
        return 0
    handled = 0
    try:
        while True:
            raw = redis.lrange(queue, 0, BATCH_SIZE - 1)
            if raw:
                handle([json.loads(item) for item in raw])
                handled += len(raw)
                if not registered_script(_TRIM_BATCH)(keys=[queue, claim, lock], args=[token, BATCH_CLAIM_S, len(raw)]):
                    return handled  # our lock expired and another drain took the queue over
                continue
            if not registered_script(_END_DRAIN)(keys=[queue, claim, lock, _batch_index(task)], args=[token, key]):
                return handled
    except BaseException:
        registered_script(_RELEASE_LOCK)(keys=[lock], args=[token])  # the claim stays: back off until it expires
        raise


def sweep_batches() -> int:
    """Publish a drain for every batched key that has payloads but no claim: its drain died,
    or the broker lost its task, and no new event came. Returns how many were published."""
    from daira.celery import app as celery_app
    from daira.lib.redis import get_redis, registered_script

    redis = get_redis()
    tasks = {route.task for routes in ROUTES.values() for route in routes if isinstance(route, Batched)}
    published = 0
    for task in sorted(tasks):
        index = _batch_index(task)
        for member in redis.sscan_iter(index, count=500):
            key = member.decode()
            queue, claim, _ = _batch_keys(task, key)
            if registered_script(_SWEEP_KEY)(keys=[queue, claim, index], args=[key, BATCH_CLAIM_S]):
                try:
                    _publish_drain(celery_app, task, key, claim)
                except Exception:
                    logger.exception("event.sweep_publish_failed", extra={"task": task, "key": key})
                    continue
                logger.warning("event.batch_drain_restarted", extra={"task": task, "key": key})
                published += 1
    return published


def emit_on_commit(name: str, **payload: Any) -> None:
    """Send event `name` with `payload` to its routes once the current transaction commits.

    Raises KeyError for an unknown event name, so typos fail in tests rather than
    silently dropping events. Outside a transaction it is sent at once.
    """
    if name not in ROUTES:
        raise KeyError(f"Unknown event {name!r}: add it to daira.lib.events.ROUTES")
    transaction.on_commit(lambda: _send(name, payload))
