"""Recommendations writes: event ingestion, item embedding, user interest vectors,
collaborative factorisation, partition maintenance."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg.types.json import Jsonb

from accounts.models import User
from content import selectors as content_selectors
from content.models import ModerationState, Post, PostHashtag
from daira.lib import ids, ratelimit
from daira.lib.errors import Invalid
from daira.lib.redis import get_redis
from recommendations import cache, tasks
from recommendations.encoders import get_encoder
from recommendations.models import (
    COLLAB_DIM,
    EventReceipt,
    EventSource,
    EventType,
    Interaction,
    ItemVector,
    NotInterested,
    TargetType,
    UserCollab,
    UserInterest,
)
from social import policy

logger = logging.getLogger(__name__)

POST_TYPES = {EventType.VIEW, EventType.WATCH, EventType.LIKE, EventType.COMMENT, EventType.SHARE, EventType.SKIP}
USER_TYPES = {EventType.FOLLOW, EventType.PROFILE_VISIT}
# (user, type, target) reported by both the client and the server is counted once per window.
SIGNAL_TYPES = {EventType.LIKE, EventType.COMMENT, EventType.SHARE, EventType.FOLLOW}
CLIENT_SOURCES = {s.value for s in EventSource if s != EventSource.SERVER}
SKIP_UNDER_MS = 2_000
COMPLETE_SHARE = 0.8


# --- events -----------------------------------------------------------------------------------------
@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    interaction_ids: list[int] = field(default_factory=list)


def _int_or_none(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number") from None
    if number < 0 or number >= 1 << 63:
        raise ValueError(f"{name} is out of range")
    return number


_EVENT_TYPES = frozenset(EventType.values)  # TextChoices.values builds a new list on every read


def _parse_event(raw: Any, now: datetime) -> dict[str, Any]:
    """Shape and rule checks for one client event; raises ValueError(code, reason)."""
    if not isinstance(raw, dict):
        raise ValueError("invalid", "An event must be an object.")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in _EVENT_TYPES:
        raise ValueError("unknown_type", f"Unknown event type {str(kind)[:32]!r}.")
    source = raw.get("source")
    if not isinstance(source, str) or source not in CLIENT_SOURCES:
        raise ValueError("invalid_source", f"source must be one of {', '.join(sorted(CLIENT_SOURCES))}.")
    target_type = raw.get("target_type")
    metadata = raw.get("metadata") or {}
    # Postgres text and jsonb cannot hold NUL characters
    if not isinstance(metadata, dict) or len(str(metadata)) > 1_000 or "\\x00" in repr(metadata):
        raise ValueError("invalid", "metadata must be a small object.")
    try:
        target_id = _int_or_none(raw.get("target_id"), "target_id")
        watch_ms = _int_or_none(raw.get("watch_ms", metadata.get("watch_ms")), "watch_ms")
        duration_ms = _int_or_none(raw.get("duration_ms", metadata.get("duration_ms")), "duration_ms")
    except ValueError as exc:
        raise ValueError("invalid", str(exc)) from None
    if kind in POST_TYPES and target_type != TargetType.POST:
        raise ValueError("invalid_target", f"{kind} targets a post.")
    if kind in USER_TYPES and target_type != TargetType.USER:
        raise ValueError("invalid_target", f"{kind} targets a user.")
    if kind == EventType.NOT_INTERESTED and target_type not in (TargetType.POST, TargetType.USER):
        raise ValueError("invalid_target", "NOT_INTERESTED targets a post or a user.")
    if kind == EventType.SEARCH:
        if target_type not in (TargetType.QUERY, TargetType.HASHTAG):
            raise ValueError("invalid_target", "SEARCH targets a query or a hashtag.")
    elif target_id is None:
        raise ValueError("invalid_target", "target_id is required.")
    if kind == EventType.WATCH and (watch_ms is None or not duration_ms):
        raise ValueError("invalid", "WATCH needs watch_ms and a positive duration_ms.")
    at = raw.get("at")
    try:
        occurred = parse_datetime(at) if isinstance(at, str) else None
    except ValueError:
        occurred = None
    if occurred is None:
        raise ValueError("invalid_timestamp", "at must be an ISO 8601 timestamp.")
    if timezone.is_naive(occurred):
        occurred = occurred.replace(tzinfo=dt_timezone.utc)
    if occurred > now + timedelta(seconds=settings.RECS_EVENTS_MAX_FUTURE_S):
        raise ValueError("future_timestamp", "at is too far in the future.")
    if occurred < now - timedelta(days=settings.RECS_EVENTS_MAX_AGE_DAYS):
        raise ValueError("stale_timestamp", "at is too old.")
    client_event_id = raw.get("client_event_id")
    if not isinstance(client_event_id, str) or not 1 <= len(client_event_id) <= 64 or "\x00" in client_event_id:
        raise ValueError("invalid", "client_event_id must be a string of 1-64 characters.")
    return {
        "client_event_id": client_event_id, "type": kind, "target_type": target_type, "target_id": target_id,
        "source": source, "watch_ms": watch_ms, "duration_ms": duration_ms, "metadata": metadata, "occurred_at": occurred,
    }


def _visible_targets(viewer: User, parsed: list[dict]) -> tuple[set[int], set[int]]:
    post_ids = {e["target_id"] for e in parsed if e["target_type"] == TargetType.POST}
    user_ids = {e["target_id"] for e in parsed if e["target_type"] == TargetType.USER}
    posts: set[int] = set()
    users: set[int] = set()
    if post_ids:
        posts = content_selectors.post_ids_visible(viewer=viewer, post_ids=post_ids)
    if user_ids:
        users = set(User.objects.filter(policy.visible_users_q(viewer), pk__in=user_ids).values_list("id", flat=True))
    return posts, users


_INTERACTION_COLUMNS = ("id", "user_id", "type", "target_type", "target_id", "source", "origin", "client_event_id",
                        "watch_ms", "duration_ms", "metadata", "occurred_at", "created_at")


def _interactions_copy(rows: list[tuple]) -> None:
    """Append Interaction rows (tuples in `_INTERACTION_COLUMNS` order) with COPY, inside the
    caller's transaction: a batch of 100 costs about a third of `bulk_create`'s Python (no
    model instances, no per-field SQL compilation), the hottest write path of the app."""
    if not rows:
        return
    sql = f"COPY {Interaction._meta.db_table} ({', '.join(_INTERACTION_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _receipts_claim(user_id: int, client_event_ids: list[str]) -> set[str]:
    """Insert receipts; return the ids that were new (the others were accepted before)."""
    if not client_event_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO recommendations_eventreceipt (user_id, client_event_id, created_at) "
            "SELECT %s, unnest(%s::varchar[]), now() ON CONFLICT DO NOTHING RETURNING client_event_id",
            [user_id, client_event_ids],
        )
        return {row[0] for row in cursor.fetchall()}


@transaction.atomic
def events_ingest(*, actor: User, events: Sequence[Any]) -> IngestResult:
    """Store a client batch (≤ RECS_EVENTS_MAX_BATCH) of interaction events for `actor`.

    Each event is validated on its own (unknown type, bad source/target, a target the actor
    may not see, a timestamp too far in the future or too old → rejected with a code and a
    reason); the rest are stored in one insert. Idempotent by `client_event_id`: an id already
    accepted is reported in `duplicates` and not stored again. LIKE/COMMENT/SHARE/FOLLOW already
    reported by the server for the same target within RECS_SIGNAL_DEDUPE_S are stored but not
    processed twice. Raises Invalid for an empty or oversized batch and RateLimited over
    RECS_EVENTS_RATE. After commit, enqueues `interactions_process_task` (embeddings queue).
    """
    if not isinstance(events, (list, tuple)) or not events:
        raise Invalid("events must be a non-empty list.", field="events")
    if len(events) > settings.RECS_EVENTS_MAX_BATCH:
        raise Invalid(f"At most {settings.RECS_EVENTS_MAX_BATCH} events per batch.", field="events")
    limit, window = settings.RECS_EVENTS_RATE
    ratelimit.hit("recs-events", str(actor.pk), limit=limit, window_s=window)

    now = timezone.now()
    result = IngestResult()
    parsed: list[dict] = []
    seen_in_batch: set[str] = set()
    for index, raw in enumerate(events):
        try:
            event = _parse_event(raw, now)
        except ValueError as exc:
            code, reason = (exc.args + ("",))[:2] if len(exc.args) > 1 else ("invalid", str(exc))
            cid = raw.get("client_event_id") if isinstance(raw, dict) else None
            result.rejected.append({"index": index, "client_event_id": cid if isinstance(cid, str) else None,
                                    "code": code, "reason": reason})
            continue
        if event["client_event_id"] in seen_in_batch:
            result.rejected.append({"index": index, "client_event_id": event["client_event_id"],
                                    "code": "duplicate_in_batch", "reason": "client_event_id repeated in this batch."})
            continue
        seen_in_batch.add(event["client_event_id"])
        event["index"] = index
        parsed.append(event)

    visible_posts, visible_users = _visible_targets(actor, parsed)
    valid: list[dict] = []
    for event in parsed:
        if event["target_type"] == TargetType.POST and event["target_id"] not in visible_posts or (
            event["target_type"] == TargetType.USER and event["target_id"] not in visible_users
        ):
            result.rejected.append({"index": event["index"], "client_event_id": event["client_event_id"],
                                    "code": "target_not_found", "reason": "The target does not exist or is not visible."})
            continue
        valid.append(event)

    result.rejected.sort(key=lambda r: r["index"])
    fresh = _receipts_claim(actor.pk, [e["client_event_id"] for e in valid])
    new_events = [e for e in valid if e["client_event_id"] in fresh]
    result.duplicates = [e["client_event_id"] for e in valid if e["client_event_id"] not in fresh]
    result.accepted = [e["client_event_id"] for e in valid]

    signal_events = [e for e in new_events if e["type"] in SIGNAL_TYPES]
    claims = cache.signals_claim(
        [cache.signal_key(actor.pk, e["type"], e["target_type"], e["target_id"]) for e in signal_events]
    )
    repeated = {id(e) for e, claimed in zip(signal_events, claims, strict=True) if not claimed}
    rows = []
    to_process = []
    for event in new_events:
        metadata = dict(event["metadata"])
        row_id = ids.next_id()
        if id(event) in repeated:
            metadata["counted"] = False  # the server already reported this signal
        elif metadata.get("counted", True):
            to_process.append(row_id)
        rows.append((row_id, actor.pk, event["type"], event["target_type"], event["target_id"], event["source"],
                     "client", event["client_event_id"], event["watch_ms"], event["duration_ms"], Jsonb(metadata),
                     event["occurred_at"], now))
    _interactions_copy(rows)
    result.interaction_ids = to_process
    if to_process:
        since = now.isoformat()
        transaction.on_commit(lambda: tasks.interactions_process_task.delay(interaction_ids=to_process, since=since))
    return result


@transaction.atomic
def interaction_record_server(
    *, user_id: int, kind: str, target_type: str, target_id: int, metadata: dict | None = None
) -> int | None:
    """Record a server-side interaction (a like, comment, repost or follow made through the API)
    in the same stream, unless the client already reported it (same (user, type, target)
    within RECS_SIGNAL_DEDUPE_S). Returns the interaction id, or None when it was a repeat.
    Processing runs at once (the caller is already a task on the embeddings queue)."""
    if not cache.signals_claim([cache.signal_key(user_id, kind, target_type, target_id)])[0]:
        return None
    now = timezone.now()
    row = Interaction.objects.create(
        id=ids.next_id(), user_id=user_id, type=kind, target_type=target_type, target_id=target_id,
        source=EventSource.SERVER, origin="server", metadata=metadata or {}, occurred_at=now, created_at=now,
    )
    interactions_process(interaction_ids=[row.id], since=now)
    return row.id


# --- processing -------------------------------------------------------------------------------------
def _strength(row: Interaction) -> int:
    """+1 strong positive, -1 negative, 0 neutral (the seeds' rule)."""
    if row.type in (EventType.LIKE, EventType.COMMENT, EventType.SHARE):
        return 1
    if row.type == EventType.WATCH and row.duration_ms and row.watch_ms is not None:
        return 1 if row.watch_ms >= COMPLETE_SHARE * row.duration_ms else 0
    if row.type == EventType.SKIP:
        return -1 if (row.watch_ms or 0) < SKIP_UNDER_MS else 0
    if row.type == EventType.NOT_INTERESTED and row.target_type == TargetType.POST:
        return -1
    return 0


_COUNTER_OF = {
    EventType.VIEW: "views", EventType.LIKE: "likes", EventType.COMMENT: "comments",
    EventType.SHARE: "shares", EventType.SKIP: "skips", EventType.NOT_INTERESTED: "not_interested",
}


def _counters_add(deltas: dict[int, dict[str, int]]) -> None:
    if not deltas:
        return
    columns = ["views", "watches", "completions", "likes", "comments", "shares", "skips", "not_interested"]
    values = [[pid] + [d.get(c, 0) for c in columns] for pid, d in sorted(deltas.items())]
    placeholders = ",".join(["(" + ",".join(["%s"] * (len(columns) + 1)) + ", now())"] * len(values))
    updates = ", ".join(f"{c} = recommendations_itemcounters.{c} + EXCLUDED.{c}" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO recommendations_itemcounters (post_id, {', '.join(columns)}, updated_at) VALUES {placeholders} "
            f"ON CONFLICT (post_id) DO UPDATE SET {updates}, updated_at = now()",
            [v for row in values for v in row],
        )


@transaction.atomic
def interactions_process(*, interaction_ids: Iterable[int], since: datetime | str | None = None) -> int:
    """Apply stored interactions: item counters, the seen set, NOT_INTERESTED rows and the
    user interest vectors (toward strong signals, away from negatives). Returns rows applied.

    Safe to run twice for counters only in the sense that the caller (a task with acks_late)
    rarely repeats; vectors move a little more on a repeat, which the rule tolerates."""
    wanted = list(interaction_ids)
    if not wanted:
        return 0
    rows = Interaction.objects.filter(id__in=wanted)
    if since is not None:
        since_dt = parse_datetime(since) if isinstance(since, str) else since
        rows = rows.filter(created_at__gte=since_dt - timedelta(seconds=1))
    rows = list(rows.order_by("id"))
    deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seen: dict[int, list[int]] = defaultdict(list)
    moves: list[tuple[int, int, int]] = []  # (user_id, post_id, +1/-1)
    for row in rows:
        if row.target_type == TargetType.POST and row.target_id:
            pid = row.target_id
            if row.type == EventType.WATCH:
                deltas[pid]["watches"] += 1
                if row.duration_ms and (row.watch_ms or 0) >= COMPLETE_SHARE * row.duration_ms:
                    deltas[pid]["completions"] += 1
            elif row.type in _COUNTER_OF:
                deltas[pid][_COUNTER_OF[row.type]] += 1
            if row.type in (EventType.VIEW, EventType.WATCH, EventType.SKIP, EventType.LIKE, EventType.COMMENT,
                            EventType.SHARE, EventType.NOT_INTERESTED):
                seen[row.user_id].append(pid)
            strength = _strength(row)
            if strength:
                moves.append((row.user_id, pid, strength))
        if row.type == EventType.NOT_INTERESTED and row.target_id:
            _not_interested_add(user_id=row.user_id, target_type=row.target_type, target_id=row.target_id,
                                whole_author=bool((row.metadata or {}).get("author")))
    _counters_add(deltas)
    if seen:
        pipe = get_redis().pipeline()
        for user_id, post_ids in seen.items():
            cache.seen_add(user_id, post_ids, pipe=pipe)
        pipe.execute()
    if moves:
        vectors = dict(ItemVector.objects.filter(post_id__in={m[1] for m in moves}).values_list("post_id", "embedding"))
        for user_id, post_id, strength in moves:
            vector = vectors.get(post_id)
            if vector is not None:
                interest_apply(user_id=user_id, vector=np.asarray(vector, dtype=np.float32), positive=strength > 0,
                               post_id=post_id)
        movers = sorted({user_id for user_id, _, _ in moves})
        _refit_soon(movers)
        for_you_prepare_soon(movers)
    return len(rows)


def for_you_prepare_soon(user_ids: list[int]) -> None:
    """Re-rank these users' For-You lists RECS_PREPARE_DEBOUNCE_S from now, once per user
    per window (`selectors.for_you_prepare`), so the first page they open next finds a list
    ranked from their current interests instead of ranking inside the request. Called when
    the interests move and by For-You when a served list is old or nearly used up."""
    delay = int(settings.RECS_PREPARE_DEBOUNCE_S)
    for user_id, claimed in zip(user_ids, cache.prepare_claim(user_ids, ttl_s=delay), strict=True):
        if claimed:
            transaction.on_commit(lambda uid=user_id: _for_you_prepare_enqueue(uid, delay))


def _for_you_prepare_enqueue(user_id: int, delay: int) -> None:
    try:
        tasks.for_you_prepare_task.apply_async(kwargs={"user_id": user_id}, countdown=delay)
    except Exception:
        # Also called while serving a page: a lost broker must not fail the read. The list in
        # hand keeps serving; the claim expires, so a later read asks again.
        logger.exception("recs.prepare_enqueue_failed", extra={"user_id": user_id})


def _refit_soon(user_ids: list[int]) -> None:
    """Refit these users' interests RECS_REFIT_DEBOUNCE_S from now, once per user per window
    (a user scrolling sends a batch every few seconds; one refit a window is enough)."""
    delay = int(settings.RECS_REFIT_DEBOUNCE_S)
    for user_id, claimed in zip(user_ids, cache.refit_claim(user_ids, ttl_s=delay), strict=True):
        if claimed:
            transaction.on_commit(lambda uid=user_id: tasks.interests_refit_task.apply_async(
                kwargs={"user_id": uid}, countdown=delay))


def _not_interested_add(*, user_id: int, target_type: str, target_id: int, whole_author: bool) -> None:
    if target_type == TargetType.USER:
        NotInterested.objects.get_or_create(user_id=user_id, author_id=target_id, post_id=None)
        return
    author_id = Post.objects.filter(pk=target_id).values_list("author_id", flat=True).first()
    if author_id is None:
        return
    NotInterested.objects.get_or_create(user_id=user_id, post_id=target_id, defaults={"author_id": author_id})
    if whole_author:
        NotInterested.objects.get_or_create(user_id=user_id, author_id=author_id, post_id=None)


# --- user interest vectors ----------------------------------------------------------------------------
def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 1e-9 else vector.astype(np.float32)


def _interests_cache_refresh(user_id: int) -> list[dict]:
    rows = [
        {"slot": r.slot, "vector": [float(x) for x in r.vector], "weight": r.weight, "label": r.label,
         "last_post_id": r.last_post_id, "anchor_post_id": r.anchor_post_id}
        for r in UserInterest.objects.filter(user_id=user_id).order_by("slot")
    ]
    cache.interests_store(user_id, rows)
    return rows


def _closest_pair(vectors: list[np.ndarray]) -> tuple[int, int, float]:
    """(a, b, cosine) of the two most similar vectors, a < b (at least two vectors)."""
    best = (0, 1, -2.0)
    for a in range(len(vectors)):
        for b in range(a + 1, len(vectors)):
            sim = float(vectors[a] @ vectors[b])
            if sim > best[2]:
                best = (a, b, sim)
    return best


def _merge(vectors: list[np.ndarray], weights: list[float], metas: list[dict], a: int, b: int,
           ) -> tuple[list[np.ndarray], list[float], list[dict]]:
    """Interest `b` folded into `a` (weighted mean, weights summed, a's labels kept where set)."""
    vectors, weights, metas = list(vectors), list(weights), list(metas)
    total = weights[a] + weights[b]
    vectors[a] = _unit((vectors[a] * weights[a] + vectors[b] * weights[b]) / max(total, 1e-9))
    weights[a] = total
    metas[a] = {**metas[b], **{k: val for k, val in metas[a].items() if val}}
    del vectors[b], weights[b], metas[b]
    return vectors, weights, metas


def interest_step(
    vectors: list[np.ndarray], weights: list[float], metas: list[dict], v: np.ndarray, positive: bool, *,
    rate: float, split_below: float, merge_above: float, max_interests: int, meta: dict | None = None,
) -> tuple[list[np.ndarray], list[float], list[dict], int | None]:
    """The multi-interest rule as a pure function (the service and bench/recs.py share it).

    Returns new (vectors, weights, metas, index of the interest the signal went to, or None).
    A positive signal farther than `split_below` (cosine) from every interest starts a new one
    while fewer than `max_interests` exist; when all slots are taken it still gets its own
    slot if two interests are closer to each other than it is to any of them (that pair is
    merged first). Otherwise the nearest moves by u += ±rate·(v − u) (re-normalised).
    Interests that drift closer than `merge_above` are then merged (weighted mean)."""
    vectors = [np.asarray(x, dtype=np.float32) for x in vectors]
    weights, metas = list(weights), [dict(m) for m in metas]
    meta = meta or {}
    if not vectors:
        return ([v], [1.0], [dict(meta)], 0) if positive else ([], [], [], None)
    sims = [float(x @ v) for x in vectors]
    index = int(np.argmax(sims))
    if positive and sims[index] < split_below:
        if len(vectors) < max_interests:
            return vectors + [v], weights + [1.0], metas + [dict(meta)], len(vectors)
        # Full: a far signal would drag its nearest interest toward a blend of neither. When
        # two interests are closer to each other than the signal is to any, merging that pair
        # loses less, so merge it and give the signal its own slot.
        a, b, pair_sim = _closest_pair(vectors)
        if pair_sim > sims[index]:
            vectors, weights, metas = _merge(vectors, weights, metas, a, b)
            return vectors + [v], weights + [1.0], metas + [dict(meta)], len(vectors)
    u = vectors[index]
    vectors[index] = _unit(u + rate * (v - u) if positive else u - rate * (v - u))
    if positive:
        weights[index] += 1.0
        metas[index].update({k: val for k, val in meta.items() if val or k == "last_post_id"})
    while len(vectors) > 1:
        a, b, pair_sim = _closest_pair(vectors)
        if pair_sim <= merge_above:
            break
        vectors, weights, metas = _merge(vectors, weights, metas, a, b)
        index = a if index == b else (index - 1 if index > b else index)
    return vectors, weights, metas, index


@transaction.atomic
def interest_apply(*, user_id: int, vector: np.ndarray, positive: bool, post_id: int | None = None,
                   label: str = "") -> list[UserInterest]:
    """Move `user_id`'s nearest interest vector toward (`positive`) or away from `vector`
    with u += ±RECS_LEARNING_RATE·(v − u), re-normalised (`interest_step`).

    Multi-interest: a positive signal farther than RECS_INTEREST_SPLIT_BELOW (cosine) from
    every interest starts a new interest while fewer than RECS_MAX_INTERESTS exist (a user
    who likes football and cooking keeps two vectors, not a blend); when all slots are taken
    the two closest interests are merged to make room if they are closer to each other than
    the signal is to any; interests that drift closer than RECS_INTEREST_MERGE_ABOVE are
    merged, freeing a slot. A negative signal with
    no interest yet changes nothing. Locks the user's interest rows; refreshes the Redis cache.
    """
    v = _unit(np.asarray(vector, dtype=np.float32))
    rows = list(UserInterest.objects.select_for_update().filter(user_id=user_id).order_by("slot"))
    vectors, weights, metas, index = interest_step(
        [np.asarray(r.vector, dtype=np.float32) for r in rows], [r.weight for r in rows],
        [{"label": r.label, "last_post_id": r.last_post_id, "anchor_post_id": r.anchor_post_id} for r in rows],
        v, positive,
        rate=settings.RECS_LEARNING_RATE, split_below=settings.RECS_INTEREST_SPLIT_BELOW,
        merge_above=settings.RECS_INTEREST_MERGE_ABOVE, max_interests=settings.RECS_MAX_INTERESTS,
        meta={"label": label, "last_post_id": post_id} if positive else None,
    )
    if index is not None:
        now = timezone.now()
        UserInterest.objects.filter(user_id=user_id).delete()
        UserInterest.objects.bulk_create([
            UserInterest(user_id=user_id, slot=slot, vector=vec, weight=weight, label=meta.get("label") or "",
                         last_post_id=meta.get("last_post_id"), anchor_post_id=meta.get("anchor_post_id"),
                         updated_at=now)
            for slot, (vec, weight, meta) in enumerate(zip(vectors, weights, metas, strict=True))
        ])
    _interests_cache_refresh(user_id)
    return list(UserInterest.objects.filter(user_id=user_id).order_by("slot"))


def _cluster(vectors: np.ndarray, members: list, k: int, *, merge_above: float = float("inf"),
             ) -> list[tuple[np.ndarray, list, int]]:
    """Agglomerate unit vectors, closest pair first, while there are more than `k` groups or
    the closest two are more similar than `merge_above` (cosine). Returns (unit mean vector,
    the members of the group, how many vectors it holds) per group."""
    groups = [(vectors[i], [members[i]], 1) for i in range(len(members))]
    while len(groups) > 1:
        i, j, sim = _closest_pair([vector for vector, _, _ in groups])
        if len(groups) <= k and sim <= merge_above:
            break
        (va, ma, na), (vb, mb, nb) = groups[i], groups[j]
        groups[i] = (_unit(va * na + vb * nb), ma + mb, na + nb)
        groups.pop(j)
    return groups


def interests_refit_vectors(
    signals: Sequence[tuple[np.ndarray, int, int | None]], *, max_interests: int, merge_above: float,
    negative_rate: float,
) -> tuple[list[np.ndarray], list[float], list[dict]]:
    """Interest vectors refitted from a user's recent signals, as a pure function (the
    service and bench/recs.py share it).

    `signals`: (unit item vector, +1 strong positive / -1 negative, post id), oldest first.
    The positives are clustered (`_cluster`: at most `max_interests` groups, groups more
    similar than `merge_above` merged); each group's weight is its size, its `last_post_id`
    its newest post and its `anchor_post_id` the post nearest its centre (the interest's
    nearest-neighbour query, see UserInterest.anchor_post_id). Then every negative, oldest first, moves its nearest
    interest away by u −= negative_rate·(v − u). Negatives are many (skips) and noisy, so
    their rate is a fraction of the positives' (bench/recs.py: 0.03-0.07 helped, 0.1 hurt).
    Returns ([], [], []) when there is no positive."""
    positives = [(index, vector, post_id) for index, (vector, strength, post_id) in enumerate(signals) if strength > 0]
    if not positives:
        return [], [], []
    groups = _cluster(np.stack([vector for _, vector, _ in positives]), list(range(len(positives))), max_interests,
                      merge_above=merge_above)
    vectors = [vector for vector, _, _ in groups]
    weights = [float(size) for _, _, size in groups]
    metas = [{"label": "", "last_post_id": positives[max(members)][2],
              "anchor_post_id": positives[max(members, key=lambda m: float(positives[m][1] @ vector))][2]}
             for vector, members, _ in groups]
    for vector, strength, _ in signals:
        if strength < 0:
            nearest = int(np.argmax([float(u @ vector) for u in vectors]))
            u = vectors[nearest]
            vectors[nearest] = _unit(u - negative_rate * (vector - u))
    return vectors, weights, metas


REFIT_TYPES = (EventType.LIKE, EventType.COMMENT, EventType.SHARE, EventType.WATCH, EventType.SKIP,
               EventType.NOT_INTERESTED)


@transaction.atomic
def interests_refit(*, user_id: int) -> list[UserInterest] | None:
    """Rebuild `user_id`'s interest vectors from their last RECS_REFIT_SIGNALS strong and
    negative signals on posts (`interests_refit_vectors`), replacing what the per-event rule
    (`interest_apply`) has drifted to. The per-event rule reacts at once; this consolidates:
    it sees every recent signal at the same time, so the order signals came in cannot blend
    two topics into one vector, nor leave a slot to one stray like.

    Users with fewer than RECS_REFIT_MIN_POSITIVES positives keep what they have (onboarding
    interests included). An onboarding label stays on the new interest nearest to it when
    they are closer than RECS_REFIT_MERGE_ABOVE. Locks the user's interest rows; refreshes
    the Redis cache. Returns the new interests, or None when nothing changed."""
    limit = int(settings.RECS_REFIT_SIGNALS)
    rows = list(
        Interaction.objects.filter(user_id=user_id, target_type=TargetType.POST, type__in=REFIT_TYPES,
                                   target_id__isnull=False)
        .order_by("-created_at", "-id")[: 3 * limit]
    )
    signals = [(row.target_id, strength) for row in rows if (strength := _strength(row))][:limit][::-1]
    if sum(1 for _, strength in signals if strength > 0) < settings.RECS_REFIT_MIN_POSITIVES:
        return None
    item_vectors = dict(ItemVector.objects.filter(post_id__in={pid for pid, _ in signals})
                        .values_list("post_id", "embedding"))
    refit_signals = [(_unit(np.asarray(item_vectors[pid], dtype=np.float32)), strength, pid)
                     for pid, strength in signals if pid in item_vectors]
    if sum(1 for _, strength, _ in refit_signals if strength > 0) < settings.RECS_REFIT_MIN_POSITIVES:
        return None
    vectors, weights, metas = interests_refit_vectors(
        refit_signals, max_interests=settings.RECS_MAX_INTERESTS, merge_above=settings.RECS_REFIT_MERGE_ABOVE,
        negative_rate=settings.RECS_NEGATIVE_RATE,
    )
    old = list(UserInterest.objects.select_for_update().filter(user_id=user_id).order_by("slot"))
    for previous in (r for r in old if r.label):
        previous_vector = np.asarray(previous.vector, dtype=np.float32)
        nearest = int(np.argmax([float(v @ previous_vector) for v in vectors]))
        if float(vectors[nearest] @ previous_vector) > settings.RECS_REFIT_MERGE_ABOVE and not metas[nearest]["label"]:
            metas[nearest]["label"] = previous.label
    now = timezone.now()
    UserInterest.objects.filter(user_id=user_id).delete()
    UserInterest.objects.bulk_create([
        UserInterest(user_id=user_id, slot=slot, vector=vector, weight=weight, label=meta["label"][:120],
                     last_post_id=meta["last_post_id"], anchor_post_id=meta["anchor_post_id"], updated_at=now)
        for slot, (vector, weight, meta) in enumerate(zip(vectors, weights, metas, strict=True))
    ])
    _interests_cache_refresh(user_id)
    for_you_prepare_soon([user_id])
    return list(UserInterest.objects.filter(user_id=user_id).order_by("slot"))


@transaction.atomic
def interests_seed(*, actor: User, topics: Sequence[str]) -> list[UserInterest]:
    """Onboarding: embed the chosen topics/hashtags (Arabic or English, 1-20) and make them the
    user's interest vectors (at most RECS_MAX_INTERESTS, similar topics grouped). Replaces any
    existing interests. Raises Invalid for no topics, too many, or blank/over-long ones."""
    if not isinstance(topics, (list, tuple)) or not topics:
        raise Invalid("Pick at least one interest.", field="topics")
    if len(topics) > 20:
        raise Invalid("At most 20 interests.", field="topics")
    cleaned = []
    for topic in topics:
        if not isinstance(topic, str) or not topic.strip() or len(topic) > 60:
            raise Invalid("Each interest is a word or hashtag of 1-60 characters.", field="topics")
        cleaned.append(" ".join(topic.strip().lstrip("#").replace("_", " ").split()))
    names = list(dict.fromkeys(cleaned))
    vectors = get_encoder().encode_queries(names)
    groups = _cluster(vectors, names, settings.RECS_MAX_INTERESTS)
    UserInterest.objects.filter(user=actor).delete()
    now = timezone.now()
    UserInterest.objects.bulk_create([
        UserInterest(user=actor, slot=slot, vector=vector, weight=1.0, label=", ".join(group)[:120], updated_at=now)
        for slot, (vector, group, _) in enumerate(groups)
    ])
    _interests_cache_refresh(actor.pk)
    cache.feed_forget(actor.pk)
    return list(UserInterest.objects.filter(user=actor).order_by("slot"))


# --- item vectors ----------------------------------------------------------------------------------------
def _eligible(post: Post) -> bool:
    return (
        post.status == Post.Status.PUBLISHED and post.moderation_state == ModerationState.VISIBLE
        and post.deleted_at is None and post.audience == policy.PUBLIC and post.parent_id is None
    )


def item_text(post: Post, hashtags: Sequence[str] = ()) -> str:
    """What we embed for a post: caption, hashtags, sound title and artist."""
    parts = [post.body or ""]
    parts += [f"#{tag}" for tag in hashtags if f"#{tag}".lower() not in (post.body or "").lower()]
    if post.sound_id and post.sound is not None:
        parts.append(f"{post.sound.title} {post.sound.artist}".strip())
    return " ".join(p for p in parts if p).strip()


def _fallback_vector(post: Post) -> tuple[np.ndarray, str] | None:
    """A vector for an item with no text: the mean of its author's and its sound's recent item
    vectors; failing that, the author's profile text. Never a zero vector."""
    recent = list(
        ItemVector.objects.filter(author_id=post.author_id, source="text").exclude(post_id=post.pk)
        .order_by("-published_at").values_list("embedding", flat=True)[:20]
    )
    source = "author"
    if post.sound_id:
        sound_recent = list(
            ItemVector.objects.filter(sound_id=post.sound_id, source="text").exclude(post_id=post.pk)
            .order_by("-published_at").values_list("embedding", flat=True)[:20]
        )
        if sound_recent and not recent:
            source = "sound"
        recent += sound_recent
    if recent:
        mean = np.mean(np.asarray(recent, dtype=np.float32), axis=0)
        if float(np.linalg.norm(mean)) > 1e-6:
            return _unit(mean), source
    profile = getattr(post.author, "profile", None)
    text = " ".join(x for x in [getattr(profile, "display_name", ""), getattr(profile, "bio", "")] if x).strip()
    if text:
        return get_encoder().encode_passages([text])[0], "profile"
    return None


def items_embed(*, post_ids: Sequence[int]) -> int:
    """Embed the given posts (batched through the encoder) and upsert their ItemVector rows.
    Posts that are gone or not published are skipped (a vector is removed if the post is gone).
    Items with no text get a fallback vector; an item with no text and nothing to fall back on
    gets no vector (it still reaches people through trending, fresh and exploration).
    Returns how many vectors were written. Idempotent."""
    posts = list(Post.objects.filter(pk__in=list(post_ids)).select_related("sound", "author__profile"))
    found = {p.pk for p in posts}
    ItemVector.objects.filter(post_id__in=[pid for pid in post_ids if pid not in found]).delete()
    posts = [p for p in posts if p.status == Post.Status.PUBLISHED and p.deleted_at is None]
    if not posts:
        return 0
    tags: dict[int, list[str]] = defaultdict(list)
    for post_id, name in PostHashtag.objects.filter(post__in=posts).values_list("post_id", "hashtag__name"):
        tags[post_id].append(name)
    texts = {p.pk: item_text(p, tags[p.pk]) for p in posts}
    with_text = [p for p in posts if texts[p.pk]]
    encoder = get_encoder()
    vectors: dict[int, tuple[np.ndarray, str]] = {}
    if with_text:
        matrix = encoder.encode_passages([texts[p.pk] for p in with_text])
        vectors.update({p.pk: (matrix[i], "text") for i, p in enumerate(with_text)})
    for post in posts:
        if post.pk not in vectors:
            fallback = _fallback_vector(post)
            if fallback is not None:
                vectors[post.pk] = fallback
    rows = [
        ItemVector(
            post_id=p.pk, author_id=p.author_id, sound_id=p.sound_id, language=p.language or "",
            embedding=vectors[p.pk][0], source=vectors[p.pk][1], encoder=encoder.name, eligible=_eligible(p),
            published_at=p.published_at or p.created_at,
        )
        for p in posts if p.pk in vectors
    ]
    ItemVector.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["post"],
        update_fields=["author_id", "sound_id", "language", "embedding", "source", "encoder", "eligible", "published_at"],
    )
    return len(rows)


def item_refresh(*, post_id: int) -> None:
    """Re-derive eligibility after an edit, a delete or a moderation change; re-embed on edit."""
    post = Post.objects.filter(pk=post_id).first()
    if post is None or post.deleted_at is not None:
        ItemVector.objects.filter(post_id=post_id).delete()
        return
    items_embed(post_ids=[post_id])


# --- collaborative vectors --------------------------------------------------------------------------------
COLLAB_WEIGHTS = {EventType.LIKE: 2.0, EventType.COMMENT: 3.0, EventType.SHARE: 3.0, EventType.WATCH: 1.0,
                  EventType.VIEW: 0.25}


def collab_factorise(*, days: int | None = None, dim: int | None = None, min_users: int = 3) -> dict[str, int]:
    """Factorise recent co-engagement (users × posts, weighted positive interactions, log-scaled)
    with a truncated SVD (scipy) into item and user vectors of `dim` (RECS_COLLAB_DIM) stored in
    ItemVector.collab and UserCollab. Items and users not in the window keep their old vectors;
    new items fall back to the content space at serving time. Returns sizes."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import svds

    days = days or settings.RECS_COLLAB_DAYS
    dim = dim or settings.RECS_COLLAB_DIM
    since = timezone.now() - timedelta(days=days)
    weights: dict[tuple[int, int], float] = defaultdict(float)
    rows = Interaction.objects.filter(created_at__gte=since, target_type=TargetType.POST,
                                      type__in=list(COLLAB_WEIGHTS)).values_list("user_id", "target_id", "type",
                                                                                  "watch_ms", "duration_ms")
    for user_id, post_id, kind, watch_ms, duration_ms in rows.iterator(chunk_size=10_000):
        weight = COLLAB_WEIGHTS[kind]
        if kind == EventType.WATCH:
            weight = 2.0 * min(1.0, (watch_ms or 0) / duration_ms) if duration_ms else 0.0
        weights[(user_id, post_id)] += weight
    if not weights:
        return {"users": 0, "items": 0}
    users = sorted({u for u, _ in weights})
    items = sorted({p for _, p in weights})
    if len(users) < min_users or len(items) < 3:
        return {"users": len(users), "items": len(items)}
    uidx = {u: i for i, u in enumerate(users)}
    iidx = {p: i for i, p in enumerate(items)}
    data = np.log1p(np.fromiter(weights.values(), dtype=np.float32))
    r = np.fromiter((uidx[u] for u, _ in weights), dtype=np.int64)
    c = np.fromiter((iidx[p] for _, p in weights), dtype=np.int64)
    matrix = csr_matrix((data, (r, c)), shape=(len(users), len(items)))
    k = max(1, min(dim, COLLAB_DIM, min(matrix.shape) - 1))
    u, s, vt = svds(matrix, k=k, random_state=0)
    root = np.sqrt(s)
    # The column is COLLAB_DIM wide; a smaller `dim` (few users yet) is zero-padded.
    user_vecs = np.zeros((len(users), COLLAB_DIM), dtype=np.float32)
    item_vecs = np.zeros((len(items), COLLAB_DIM), dtype=np.float32)
    user_vecs[:, :k] = u * root
    item_vecs[:, :k] = (vt.T * root)
    item_vecs = item_vecs / np.maximum(np.linalg.norm(item_vecs, axis=1, keepdims=True), 1e-9)
    known = set(ItemVector.objects.filter(post_id__in=items).values_list("post_id", flat=True))
    with transaction.atomic():
        updates = [ItemVector(post_id=p, collab=item_vecs[iidx[p]]) for p in items if p in known]
        ItemVector.objects.bulk_update(updates, ["collab"], batch_size=1000)
        now = timezone.now()
        UserCollab.objects.bulk_create(
            [UserCollab(user_id=uid, vector=user_vecs[uidx[uid]], updated_at=now) for uid in users
             if float(np.linalg.norm(user_vecs[uidx[uid]])) > 0],
            update_conflicts=True, unique_fields=["user"], update_fields=["vector", "updated_at"], batch_size=1000,
        )
    return {"users": len(users), "items": len(updates), "dim": k}


# --- partitions ------------------------------------------------------------------------------------------
PARTITION_PREFIX = "recommendations_interaction_p"


def _partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


def partitions_maintain(*, today: date | None = None) -> dict[str, list[str]]:
    """Create the daily partitions from today to RECS_EVENTS_PARTITIONS_AHEAD days ahead and
    drop those older than RECS_EVENTS_RETENTION_DAYS (with their receipts). Idempotent."""
    today = today or timezone.now().astimezone(dt_timezone.utc).date()
    created: list[str] = []
    dropped: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'recommendations_interaction'"
        )
        existing = {row[0] for row in cursor.fetchall()}
        for offset in range(0, settings.RECS_EVENTS_PARTITIONS_AHEAD + 1):
            day = today + timedelta(days=offset)
            name = _partition_name(day)
            if name in existing:
                continue
            start = datetime(day.year, day.month, day.day, tzinfo=dt_timezone.utc)
            cursor.execute(
                f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF recommendations_interaction '
                "FOR VALUES FROM (%s) TO (%s)", [start, start + timedelta(days=1)],
            )
            created.append(name)
        cutoff = today - timedelta(days=settings.RECS_EVENTS_RETENTION_DAYS)
        for name in sorted(existing):
            if not name.startswith(PARTITION_PREFIX):
                continue
            try:
                day = datetime.strptime(name[len(PARTITION_PREFIX):], "%Y%m%d").date()
            except ValueError:
                continue
            if day < cutoff:
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
                dropped.append(name)
    EventReceipt.objects.filter(
        created_at__lt=datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=dt_timezone.utc)
    ).delete()
    return {"created": created, "dropped": dropped}
