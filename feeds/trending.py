"""Trending: posts, videos, hashtags and sounds scored by engagement with time decay,

    score(t) = Σ weight(event) · e^(−λ·(t − t_event))

for three windows (1 h, 24 h, 7 d; λ = ln 2 / half-life, half-life = window / 4), kept
incrementally in Redis from events and recomputed exactly from Postgres by beat.

Incremental trick: each window stores scores *as of its epoch* t₀ (`trend:epoch:<w>`);
an event at t adds weight · e^(λ·(t − t₀)). All members share the factor e^(−λ·(now − t₀)),
so the stored order is the decayed order at any moment, and the true score is the stored
one times that factor. The beat recompute resets t₀ to now (the exponent never grows
past a few recompute periods) and drops events older than the window.

Eligible content: published, moderation-visible, alive, public audience, by an active,
public, non-shadowbanned author. Reads re-check every post through the policy anyway.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from accounts.models import User
from content.models import Comment, Hashtag, ModerationState, Post, PostHashtag, Reaction, Repost, Sound
from daira.lib import ids
from daira.lib.errors import Invalid
from daira.lib.redis import get_redis
from social.models import AccountFlag

WINDOWS: dict[str, timedelta] = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
KINDS = ("posts", "videos", "hashtags", "sounds")
WEIGHTS = {"reaction": 1.0, "comment": 2.0, "repost": 3.0, "quote": 3.0}
MAX_MEMBERS = 5_000


def half_life_seconds(window: str) -> float:
    return WINDOWS[window].total_seconds() / 4


def decay_rate(window: str) -> float:
    """λ of `window` in 1/seconds."""
    return math.log(2) / half_life_seconds(window)


def key(kind: str, window: str) -> str:
    return f"trend:{kind}:{window}"


def epoch_key(window: str) -> str:
    return f"trend:epoch:{window}"


def _check(kind: str, window: str) -> None:
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}.", field="kind")
    if window not in WINDOWS:
        raise Invalid(f"window must be one of {', '.join(WINDOWS)}.", field="window")


@dataclass(frozen=True)
class _Target:
    post_id: int
    is_video: bool
    sound_id: int | None
    hashtag_ids: tuple[int, ...]


def _eligible_target(post_id: int) -> _Target | None:
    post = (
        Post.objects.filter(
            pk=post_id, status=Post.Status.PUBLISHED, moderation_state=ModerationState.VISIBLE,
            deleted_at__isnull=True, audience="public", author__status=User.Status.ACTIVE, author__is_private=False,
        )
        .exclude(author_id__in=AccountFlag.objects.filter(shadowbanned=True).values("user_id"))
        .values_list("id", "kind", "sound_id")
        .first()
    )
    if post is None:
        return None
    hashtag_ids = tuple(PostHashtag.objects.filter(post_id=post_id).values_list("hashtag_id", flat=True))
    return _Target(post_id=post[0], is_video=post[1] == Post.Kind.VIDEO, sound_id=post[2], hashtag_ids=hashtag_ids)


def _epochs(client) -> dict[str, float]:
    now = time.time()
    values = client.mget([epoch_key(w) for w in WINDOWS])
    epochs = {}
    for window, value in zip(WINDOWS, values):
        if value is None:
            client.set(epoch_key(window), repr(now), nx=True)
            value = client.get(epoch_key(window))
        epochs[window] = float(value)
    return epochs


def trending_record(*, post_id: int, event: str, at: float | None = None) -> bool:
    """Count one engagement `event` (reaction/comment/repost/quote) on `post_id` in every
    window, for the post, the videos list, its hashtags and its sound. Returns False when
    the post is not eligible (nothing written). Not idempotent by nature (a counter); a
    redelivered event slightly over-counts until the next beat recompute corrects it."""
    weight = WEIGHTS.get(event)
    if weight is None:
        raise ValueError(f"unknown trending event {event!r}")
    target = _eligible_target(post_id)
    if target is None:
        return False
    client = get_redis()
    at = time.time() if at is None else at
    epochs = _epochs(client)
    with client.pipeline(transaction=False) as pipe:
        for window in WINDOWS:
            amount = weight * math.exp(decay_rate(window) * (at - epochs[window]))
            members = [("posts", str(target.post_id))]
            if target.is_video:
                members.append(("videos", str(target.post_id)))
            members += [("hashtags", str(h)) for h in target.hashtag_ids]
            if target.sound_id:
                members.append(("sounds", str(target.sound_id)))
            for kind, member in members:
                pipe.zincrby(key(kind, window), amount, member)
        pipe.execute()
    return True


_RECOMPUTE_SQL = """
WITH eligible AS (
    SELECT p.id, p.kind, p.sound_id
    FROM {post} p JOIN {user} u ON u.id = p.author_id
    WHERE p.status = 'published' AND p.moderation_state = 'visible' AND p.deleted_at IS NULL
      AND p.audience = 'public' AND u.status = %(active)s AND NOT u.is_private
      AND NOT EXISTS (SELECT 1 FROM {flag} f WHERE f.user_id = p.author_id AND f.shadowbanned)
),
events AS (
    SELECT post_id, created_at, %(w_reaction)s::float AS w FROM {reaction}
    WHERE post_id IS NOT NULL AND id >= %(since)s AND created_at >= %(since_at)s
    UNION ALL
    SELECT post_id, created_at, %(w_comment)s FROM {comment}
    WHERE id >= %(since)s AND created_at >= %(since_at)s AND deleted_at IS NULL
    UNION ALL
    SELECT post_id, created_at, %(w_repost)s FROM {repost} WHERE id >= %(since)s AND created_at >= %(since_at)s
    UNION ALL
    SELECT quote_of_id, created_at, %(w_quote)s FROM {post}
    WHERE quote_of_id IS NOT NULL AND id >= %(since)s AND created_at >= %(since_at)s AND deleted_at IS NULL
)
SELECT e.post_id, p.kind, p.sound_id,
       SUM(e.w * EXP(-%(lam)s * GREATEST(0, EXTRACT(EPOCH FROM (%(now)s - e.created_at))))) AS score
FROM events e JOIN eligible p ON p.id = e.post_id
GROUP BY e.post_id, p.kind, p.sound_id
"""


def trending_recompute(*, window: str) -> dict[str, int]:
    """Recompute `window`'s four lists exactly from Postgres (beat, and cold reads) and
    swap them in atomically with a fresh epoch. Returns {kind: members}."""
    if window not in WINDOWS:
        raise Invalid("Unknown window.", field="window")
    now = timezone.now()
    since = ids.min_id_at(now - WINDOWS[window])
    tables = {
        "post": Post._meta.db_table, "user": User._meta.db_table, "flag": AccountFlag._meta.db_table,
        "reaction": Reaction._meta.db_table, "comment": Comment._meta.db_table, "repost": Repost._meta.db_table,
    }
    params = {
        "active": User.Status.ACTIVE, "since": since, "since_at": now - WINDOWS[window],
        "lam": decay_rate(window), "now": now,
        "w_reaction": WEIGHTS["reaction"], "w_comment": WEIGHTS["comment"], "w_repost": WEIGHTS["repost"],
        "w_quote": WEIGHTS["quote"],
    }
    with connection.cursor() as cursor:
        cursor.execute(_RECOMPUTE_SQL.format(**tables), params)
        rows = cursor.fetchall()
    scores: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
    for post_id, kind, sound_id, score in rows:
        score = float(score)
        scores["posts"][str(post_id)] = score
        if kind == Post.Kind.VIDEO:
            scores["videos"][str(post_id)] = score
        if sound_id:
            scores["sounds"][str(sound_id)] = scores["sounds"].get(str(sound_id), 0.0) + score
    by_post = {int(pid): s for pid, s in scores["posts"].items()}
    links = PostHashtag.objects.filter(post_id__in=list(by_post)).values_list("post_id", "hashtag_id")
    for post_id, hashtag_id in links:
        scores["hashtags"][str(hashtag_id)] = scores["hashtags"].get(str(hashtag_id), 0.0) + by_post[post_id]
    client = get_redis()
    with client.pipeline(transaction=True) as pipe:
        for kind in KINDS:
            top = dict(sorted(scores[kind].items(), key=lambda kv: kv[1], reverse=True)[:MAX_MEMBERS])
            pipe.delete(key(kind, window))
            if top:
                pipe.zadd(key(kind, window), top)
        pipe.set(epoch_key(window), repr(now.timestamp()))
        pipe.execute()
    return {kind: min(len(scores[kind]), MAX_MEMBERS) for kind in KINDS}


def trending_recompute_all() -> None:
    for window in WINDOWS:
        trending_recompute(window=window)


def trending_top(*, kind: str, window: str, limit: int) -> list[tuple[int, float]]:
    """[(object id, decayed score now)] best first, at most `limit`; recomputes a window
    whose epoch is missing (Redis lost its data) before answering."""
    _check(kind, window)
    client = get_redis()
    if not client.exists(epoch_key(window)):
        # Lost with Redis (or never computed): one reader recomputes, the others answer
        # with what there is until it lands (beat would also fill it within minutes).
        if client.set(f"trend:recompute:{window}", "1", nx=True, ex=120):
            try:
                trending_recompute(window=window)
            finally:
                client.delete(f"trend:recompute:{window}")
    epoch = float(client.get(epoch_key(window)) or time.time())
    factor = math.exp(-decay_rate(window) * max(0.0, time.time() - epoch))
    rows = client.zrevrange(key(kind, window), 0, max(0, limit - 1), withscores=True)
    return [(int(member), score * factor) for member, score in rows]


def hashtags_by_ids(hashtag_ids) -> dict[int, Hashtag]:
    return {h.pk: h for h in Hashtag.objects.filter(pk__in=list(hashtag_ids))}


def sounds_by_ids(sound_ids) -> dict[int, Sound]:
    return {s.pk: s for s in Sound.objects.filter(pk__in=list(sound_ids))}
