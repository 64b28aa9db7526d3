"""Recommendations reads: For-You, similar posts, suggested creators, explanations.

For-You pipeline (DESIGN.md "Watch events → For-You"):
1. candidates (a few hundred): ANN neighbours of each interest vector (pgvector HNSW with
   iterative index scans so pre-filters cannot empty the result), collaborative neighbours,
   trending (feeds), fresh items from authors followed by people the viewer follows, and
   fresh items with few views for exploration;
2. filters: the visibility policy (blocks, privacy, audiences, moderation, deleted) plus
   discovery (shadowbanned authors), mutes, public top-level posts only, not the viewer's own,
   not seen recently (Redis), not NOT_INTERESTED (items and authors);
3. score = w_sim·similarity + w_rec·recency + w_eng·engagement + w_div·diversity
   (settings.RECS_SCORE_WEIGHTS) chosen greedily, so diversity is measured against what is
   already on the list; then caps: ≤ RECS_AUTHOR_CAP per author and ≤ RECS_SOUND_CAP per
   sound in any RECS_CAP_WINDOW consecutive items; ~RECS_EXPLORATION_SHARE exploration slots;
4. cold or logged-out viewers get trending/explore (feeds.selectors.explore).
The ranked list is kept in Redis (cursors name it and a position in it) and serves first
pages too while the interests it was ranked from are unchanged; workers re-rank it when the
interests move or it grows old; anything read from it is filtered again (step 2) when served.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Profile, User
from content import selectors as content_selectors
from content.models import Post
from daira.lib import ids
from daira.lib.errors import NotFound
from daira.lib.pagination import decode_cursor, encode_cursor
from daira.lib.redis import get_redis
from recommendations import cache, services
from recommendations.models import (
    ItemCounters,
    ItemVector,
    NotInterested,
    UserCollab,
    UserInterest,
    engagement_rate,
)
from social import policy
from social.models import Follow

FRESH_DAYS = 3
EXPLORE_MAX_VIEWS = 50
LIST_SIZE = 100  # ranked items kept per For-You session (5 pages of 20)
POOL_TTL_S = 30  # viewer-independent candidate pools (trending, fresh) are shared this long


@dataclass
class RecItem:
    post: Post
    reason: str
    score: float = 0.0


@dataclass
class RecPage:
    items: list[RecItem]
    next_cursor: str | None
    source: str  # "for_you" | "trending"


@dataclass
class Candidate:
    post_id: int
    reason: str
    kind: str  # interest | collab | trending | network | explore
    similarity: float | None = None
    extra: dict = field(default_factory=dict)


# --- vectors ---------------------------------------------------------------------------------------------
def user_interests(*, user_id: int) -> list[dict]:
    """The user's interest vectors [{slot, vector, weight, label, last_post_id, anchor_post_id}]
    (Redis cache, filled from Postgres on a miss)."""
    rows = cache.interests_load(user_id)
    if rows is not None:
        return rows
    rows = [
        {"slot": r.slot, "vector": np.asarray(r.vector, dtype=np.float32), "weight": r.weight, "label": r.label,
         "last_post_id": r.last_post_id, "anchor_post_id": r.anchor_post_id}
        for r in UserInterest.objects.filter(user_id=user_id).order_by("slot")
    ]
    cache.interests_store(user_id, [{**r, "vector": [float(x) for x in r["vector"]]} for r in rows])
    return rows


def interest_similarity(interest_vectors: np.ndarray, interest_weights: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Similarity of each item (rows of `items`) to a user with several interests: the best
    interest's cosine, scaled by 0.5 + 0.5·(weight / heaviest weight), so an interest born of
    one stray like does not count as much as the one fed by dozens of signals, while two
    equally strong interests (football and cooking) both count fully. Shared with bench/recs.py."""
    weights = np.asarray(interest_weights, dtype=np.float32)
    factors = 0.5 + 0.5 * weights / max(float(weights.max()), 1e-9)
    return (items @ interest_vectors.T * factors[None, :]).max(axis=1)


def candidates_per_interest(weights: list[float], base: int) -> list[int]:
    """How many nearest neighbours to fetch per interest (heavier interests get more)."""
    heaviest = max(weights) if weights else 1.0
    return [max(base // 5, int(base * w / heaviest)) for w in weights]


def item_vectors(post_ids: list[int]) -> dict[int, np.ndarray]:
    """{post_id: content vector} for the given posts, transferred in pgvector's binary format
    (the text format costs ~0.3 ms of parsing per 384-d vector)."""
    if not post_ids:
        return {}
    with _binary_cursor() as cursor:
        cursor.execute("SELECT post_id, embedding FROM recommendations_itemvector WHERE post_id = ANY(%s)",
                       [list(post_ids)], binary=True)
        return {pid: _as_array(vec) for pid, vec in cursor.fetchall()}


def _binary_cursor() -> psycopg.Cursor:
    """A psycopg cursor on Django's connection (same transaction) that can ask for binary
    results, with pgvector's loaders registered: Django's own cursors are client-side and
    text-only."""
    connection.ensure_connection()
    raw = connection.connection
    if not getattr(raw, "_daira_vector_loaders", False):
        from pgvector.psycopg import register_vector

        register_vector(raw)
        raw._daira_vector_loaders = True
    return psycopg.Cursor(raw)


def _as_array(vec) -> np.ndarray:
    return (vec.to_numpy() if hasattr(vec, "to_numpy") else np.asarray(vec)).astype(np.float32)


def ann_search(vector: np.ndarray, *, limit: int, exclude_author_ids: list[int] = (), space: str = "content",
               exact: bool = False) -> list[tuple[int, float]]:
    """[(post_id, similarity)] nearest to `vector` among eligible items, best first.

    HNSW with `hnsw.iterative_scan = relaxed_order`: when the pre-filter (eligible, not these
    authors) rejects index hits, the scan keeps walking the graph instead of returning fewer
    rows. `exact=True` forces a sequential scan (ANN recall measurement only)."""
    return ann_search_many([(vector, limit, space)], exclude_author_ids=exclude_author_ids, exact=exact)[0]


def ann_search_many(queries: list[tuple[np.ndarray, int, str]], *, exclude_author_ids: list[int] = (),
                    exact: bool = False) -> list[list[tuple[int, float]]]:
    """`ann_search` for several (vector, limit, space) queries in ONE statement (a UNION ALL
    of index scans, each ordered and limited on its own), one result list per query in order.
    A For-You build asks for every interest plus the collaborative vector: one round trip
    instead of one transaction each. `hnsw.ef_search` is the largest of the limits (and at
    least RECS_HNSW_EF_SEARCH), so no query gets a smaller candidate list than alone."""
    if not queries:
        return []
    branches, params = [], []
    for index, (vector, limit, space) in enumerate(queries):
        column, op = ("embedding", "<=>") if space == "content" else ("collab", "<#>")
        where = "eligible" + (" AND collab IS NOT NULL" if space == "collab" else "")
        # the query vector travels in pgvector's binary format (%b), bound server-side: as a
        # text literal it cost ~1 ms per For-You build to format, interpolate and parse
        vector = np.asarray(vector, dtype=np.float32)
        params.append(vector)
        if exclude_author_ids:
            where += " AND NOT (author_id = ANY(%s))"
            params.append(list(exclude_author_ids))
        params += [vector, int(limit)]
        branches.append(f"(SELECT {index} AS q, post_id, {column} {op} %b::vector AS d FROM recommendations_itemvector "
                        f"WHERE {where} ORDER BY {column} {op} %b::vector LIMIT %s)")
    ef_search = max([int(settings.RECS_HNSW_EF_SEARCH)] + [int(limit) for _, limit, _ in queries])
    with transaction.atomic():
        with connection.cursor() as cursor:
            if exact:
                cursor.execute("SET LOCAL enable_indexscan = off")
            else:
                cursor.execute(f"SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL hnsw.ef_search = {ef_search}")
        with _binary_cursor() as cursor:  # same connection and transaction: the SET LOCALs apply
            cursor.execute(" UNION ALL ".join(branches), params)
            rows = cursor.fetchall()
    results: list[list[tuple[int, float]]] = [[] for _ in queries]
    for index, pid, d in rows:
        results[index].append((pid, 1.0 - float(d)) if queries[index][2] == "content" else (pid, -float(d)))
    for result in results:
        result.sort(key=lambda hit: -hit[1])  # UNION ALL keeps each branch's order in practice; not promised
    return results


# --- filters ---------------------------------------------------------------------------------------------
def _not_interested(vid: int) -> tuple[set[int], set[int]]:
    posts, authors = set(), set()
    for post_id, author_id in NotInterested.objects.filter(user_id=vid).values_list("post_id", "author_id"):
        if post_id is None:
            authors.add(author_id)
        else:
            posts.add(post_id)
    return posts, authors


def discoverable_q(viewer) -> Q:
    """Posts a discovery surface may show `viewer`: visible through the policy, discovery
    (no shadowbanned authors), not muted, public audience, top-level, not the viewer's own."""
    q = (
        content_selectors.post_visible_q(viewer)
        & policy.discovery_q(viewer)
        & policy.exclude_muted_q(viewer, "author", kind="posts")
        & Q(audience=policy.PUBLIC, parent__isnull=True)
    )
    vid = policy.viewer_id(viewer)
    if vid is not None:
        q &= ~Q(author_id=vid)
    return q


def _filter(viewer, post_ids: list[int], *, seen: set[int], not_posts: set[int], not_authors: set[int],
            ranking_facts: bool = False) -> dict[int, dict]:
    """The candidates that pass every filter of `discoverable_q`, with what ranking needs.

    Ids first, then the policy: one primary-key query for the rows' own state (alive,
    published, visible, public, top-level, not the viewer's), then the author part of the
    rule decided once per author (`policy.authors_with_visible_public_posts`, with post
    mutes and discovery). The same outcome as filtering by `discoverable_q` (tested), at
    about half the cost: that Q's per-row subqueries cost more to compile and plan than
    to run for a thousand candidates."""
    wanted = [pid for pid in dict.fromkeys(post_ids) if pid not in seen and pid not in not_posts]
    if not wanted:
        return {}
    vid = policy.viewer_id(viewer)
    posts = (
        Post.objects.filter(content_selectors.post_state_q(viewer), pk__in=wanted, audience=policy.PUBLIC,
                            parent__isnull=True)
        .exclude(author_id__in=[*not_authors, vid or 0])
        .values("id", "author_id", "sound_id", "published_at", "created_at")
    )
    rows = _with_ranking_facts(posts) if ranking_facts else list(posts)
    allowed = policy.authors_with_visible_public_posts(viewer, {row["author_id"] for row in rows},
                                                       exclude_muted="posts", discovery=True)
    return {row["id"]: row for row in rows if row["author_id"] in allowed}


def _with_ranking_facts(posts) -> list[dict]:
    """The rows of `posts` (a `.values(id, author_id, sound_id, published_at, created_at)`
    queryset: the state rule stays Django's) plus each one's content vector ("vector", None
    without one) and engagement ("engagement", 0 without counters), in ONE binary round trip
    instead of three queries: the rule's SQL wrapped in joins to the vector and counter tables."""
    sql, params = posts.query.sql_with_params()
    fields = ItemCounters.ENGAGEMENT_FIELDS
    counters = ", ".join(f"ic.{name}" for name in fields)
    query = (f"SELECT p.id, p.author_id, p.sound_id, p.published_at, p.created_at, iv.embedding, {counters} "
             f"FROM ({sql}) p LEFT JOIN recommendations_itemvector iv ON iv.post_id = p.id "
             f"LEFT JOIN recommendations_itemcounters ic ON ic.post_id = p.id")
    with _binary_cursor() as cursor:
        cursor.execute(query, params, binary=True)
        fetched = cursor.fetchall()
    return [
        {"id": pid, "author_id": author, "sound_id": sound, "published_at": published, "created_at": created,
         "vector": _as_array(vec) if vec is not None else None,
         "engagement": engagement_score(*counts) if counts[0] is not None else 0.0}
        for pid, author, sound, published, created, vec, *counts in fetched
    ]


# --- candidates ---------------------------------------------------------------------------------------------
def _reason_for_interest(interest: dict, handles: dict[int, str]) -> str:
    if interest.get("label"):
        return f"Because you're into {interest['label']}"
    last = interest.get("last_post_id")
    if last and last in handles:
        return f"Because you watched @{handles[last]}"
    return "Because you watched similar posts"


def _candidates(viewer, vid: int, interests: list[dict], not_authors: set[int]) -> list[Candidate]:
    out: list[Candidate] = []
    exclude = [vid, *not_authors]
    last_ids = [i["last_post_id"] for i in interests if i.get("last_post_id")]
    handles = dict(Post.objects.filter(pk__in=last_ids).values_list("id", "author__handle")) if last_ids else {}
    limits = candidates_per_interest([i["weight"] for i in interests], settings.RECS_CANDIDATES_PER_INTEREST)
    # Each interest's neighbours are searched around its anchor item (UserInterest.anchor_post_id)
    # when it still has a vector, else around the interest itself; ranking uses the interests.
    anchors = item_vectors([i["anchor_post_id"] for i in interests if i.get("anchor_post_id")])
    queries = [(anchors.get(interest.get("anchor_post_id"), interest["vector"]), limit, "content")
               for interest, limit in zip(interests, limits, strict=True)]
    collab = UserCollab.objects.filter(user_id=vid).values_list("vector", flat=True).first()
    if collab is not None and float(np.linalg.norm(collab)) > 0:
        queries.append((np.asarray(collab, dtype=np.float32), 60, "collab"))
    hits = ann_search_many(queries, exclude_author_ids=exclude)
    for interest, interest_hits in zip(interests, hits, strict=False):
        reason = _reason_for_interest(interest, handles)
        out += [Candidate(pid, reason, "interest", sim) for pid, sim in interest_hits]
    if len(hits) > len(interests):
        out += [Candidate(pid, "Liked by people with similar taste", "collab") for pid, _ in hits[-1]]
    out += _trending_candidates(vid, 100)
    out += _network_candidates(vid, 60)
    out += _explore_candidates(vid, 60)
    return out


def _trending_candidates(vid: int, limit: int) -> list[Candidate]:
    """Trending posts, ranked: those whose author is in the viewer's governorate first
    ("Popular near you"), then those in the viewer's language ("Popular in your language"),
    then the rest. "Near" is by the author's (private) governorate: it is never shown, only
    used to order; a viewer who has not set one gets the language order."""
    language, governorate = (
        Profile.objects.filter(user_id=vid).values_list("language", "governorate").first() or ("", "")
    )
    ranked, items = _trending_pool(2 * limit)
    near_authors: set[int] = set()
    if governorate:
        near_authors = set(Profile.objects.filter(
            user_id__in={author for author, _ in items.values()}, governorate=governorate,
        ).values_list("user_id", flat=True))
    near, same, other = [], [], []
    for pid in ranked:
        author, lang = items.get(pid, (None, ""))
        if author in near_authors:
            near.append(Candidate(pid, "Popular near you", "trending"))
        elif language and lang == language:
            same.append(Candidate(pid, "Popular in your language", "trending"))
        else:
            other.append(Candidate(pid, "Popular right now", "trending"))
    return (near + same + other)[:limit]


def _shared_pool(key: str, compute) -> Any:
    """A viewer-independent candidate pool (JSON), shared by every For-You build for
    POOL_TTL_S: the same trending/fresh lists would otherwise be re-read for each viewer.
    Safe to serve slightly stale: every candidate goes through `_filter` afterwards."""
    client = get_redis()
    cached = client.get(key)
    if cached is not None:
        return json.loads(cached)
    value = compute()
    client.set(key, json.dumps(value), ex=POOL_TTL_S)
    return value


def _trending_pool(limit: int) -> tuple[list[int], dict[int, tuple[int, str]]]:
    """(trending post ids best first, {post_id: (author_id, language)})."""
    def compute():
        ranked = _trending_ids(limit)
        meta = {pid: (author, lang) for pid, author, lang in
                ItemVector.objects.filter(post_id__in=ranked).values_list("post_id", "author_id", "language")}
        return [[pid, *meta.get(pid, (None, ""))] for pid in ranked]

    rows = _shared_pool(f"recs:pool:trending:{limit}", compute)
    return [row[0] for row in rows], {row[0]: (row[1], row[2]) for row in rows if row[1] is not None}


def _trending_ids(limit: int) -> list[int]:
    """Trending posts (feeds); fresh most-engaged items when feeds has nothing yet."""
    try:
        from feeds import trending
    except ImportError:  # pragma: no cover - feeds is part of the project
        trending = None
    ranked = [pid for pid, _ in trending.trending_top(kind="posts", window="24h", limit=limit)] if trending else []
    if ranked:
        return ranked
    # feeds has no trending yet (fresh install): most-engaged fresh items, cached a minute.
    client = get_redis()
    key = f"recs:trending-fallback:{limit}"
    cached = client.get(key)
    if cached is not None:
        return [int(x) for x in cached.decode().split(",") if x]
    since = ids.min_id_at(timezone.now() - timedelta(days=FRESH_DAYS))
    ranked = list(
        ItemCounters.objects.filter(post_id__gte=since)
        .annotate(rank=F("likes") + 2 * F("comments") + 3 * F("shares") + F("completions"))
        .order_by("-rank", "-post_id").values_list("post_id", flat=True)[:limit]
    )
    client.set(key, ",".join(str(x) for x in ranked), ex=60)
    return ranked


def _network_candidates(vid: int, limit: int) -> list[Candidate]:
    """Fresh posts from authors followed by people the viewer follows (not by the viewer)."""
    followed = Follow.objects.filter(follower_id=vid).values("followee_id")
    second = (
        Follow.objects.filter(follower_id__in=followed).exclude(followee_id=vid)
        .exclude(followee_id__in=followed).values_list("followee_id", "follower__handle")[:500]
    )
    via: dict[int, str] = {}
    for author_id, handle in second:
        via.setdefault(author_id, handle)
    if not via:
        return []
    rows = (
        ItemVector.objects.filter(author_id__in=list(via), eligible=True,
                                  published_at__gte=timezone.now() - timedelta(days=FRESH_DAYS))
        .order_by("-published_at").values_list("post_id", "author_id")[:limit]
    )
    return [Candidate(pid, f"New from creators @{via[author]} follows", "network") for pid, author in rows]


def _explore_candidates(vid: int, limit: int) -> list[Candidate]:
    """Fresh eligible items with few views, sampled (stable per user per hour)."""
    def compute():
        since = timezone.now() - timedelta(days=FRESH_DAYS)
        popular = ItemCounters.objects.filter(post_id__gte=ids.min_id_at(since), views__gte=EXPLORE_MAX_VIEWS)
        return list(
            ItemVector.objects.filter(eligible=True, published_at__gte=since)
            .exclude(post_id__in=popular.values("post_id"))
            .order_by("-published_at").values_list("post_id", flat=True)[: limit * 5]
        )

    pool = _shared_pool(f"recs:pool:explore:{limit}", compute)
    rng = random.Random(hash((vid, int(timezone.now().timestamp() // 3600))))
    rng.shuffle(pool)
    return [Candidate(pid, "Something new for you", "explore") for pid in pool[:limit]]


# --- ranking ------------------------------------------------------------------------------------------------
def recency_score(published_at, now) -> float:
    age_h = max(0.0, (now - published_at).total_seconds() / 3600.0)
    return math.exp(-math.log(2) * age_h / settings.RECS_RECENCY_HALF_LIFE_H)


def engagement_score(*counts: int) -> float:
    """Ranking's engagement in [0, 1] from ItemCounters.ENGAGEMENT_FIELDS (raw rates are
    small: scaled so a well-liked item approaches 1)."""
    return min(1.0, 3.0 * engagement_rate(*counts))


def rank(candidates: list[dict], *, weights: dict[str, float], size: int, exploration_share: float,
         author_cap: int, sound_cap: int, window: int) -> list[dict]:
    """Greedy ranking with diversity and caps (pure function, used by the feed and the bench).

    Each candidate: {post_id, author_id, sound_id, similarity, recency, engagement (all ≥ 0), vector
    (unit np.ndarray or None), explore (bool), reason}. At each step the best remaining item by
    w_sim·sim + w_rec·rec + w_eng·eng + w_div·(1 − max cosine to the last `window` picks) that
    keeps ≤ author_cap per author and ≤ sound_cap per sound within any `window` consecutive
    items is taken; every round(1/exploration_share)-th slot goes to an exploration item (an
    ordinary one when no exploration item fits). When only capped items are left the list ends
    shorter rather than break the caps. Vectorised: one (n × d) product per pick, and the caps
    kept as per-author / per-sound counts over the window (a lookup per pick, not a scan)."""
    n = len(candidates)
    if n == 0 or size <= 0:
        return []
    dim = next((len(c["vector"]) for c in candidates if c.get("vector") is not None), 1)
    vectors = np.zeros((n, dim), dtype=np.float32)  # a candidate without a vector stays a zero row:
    has_vector = np.zeros(n, dtype=bool)             # cosine 0 to everything, so diversity 1
    for i, c in enumerate(candidates):
        if c.get("vector") is not None:
            vectors[i] = c["vector"]
            has_vector[i] = True
    # Similarity is min-max scaled over the candidates so the four parts share a [0, 1] range:
    # raw cosines of relevant items sit in a narrow band, which would let recency dominate.
    similarity = np.array([c["similarity"] for c in candidates], dtype=np.float64)
    spread = similarity.max() - similarity.min()
    similarity = (similarity - similarity.min()) / spread if spread > 1e-9 else np.ones(n)
    w_div = weights["diversity"]
    # score = base + w_div·(1 − max(0, max recent cosine)); the constant w_div is folded in
    base = weights["similarity"] * similarity + np.array(
        [weights["recency"] * c["recency"] + weights["engagement"] * c["engagement"] for c in candidates],
        dtype=np.float64) + w_div
    _, author_of = np.unique(np.array([int(c["author_id"]) for c in candidates], dtype=np.int64), return_inverse=True)
    _, sound_of = np.unique(np.array([int(c.get("sound_id") or 0) for c in candidates], dtype=np.int64),
                            return_inverse=True)
    no_sound = np.array([not c.get("sound_id") for c in candidates], dtype=bool)
    author_counts = np.zeros(int(author_of.max()) + 1, dtype=np.int64)  # picks per author in the window
    sound_counts = np.zeros(int(sound_of.max()) + 1, dtype=np.int64)
    is_explore = np.array([bool(c.get("explore")) for c in candidates], dtype=bool)
    # picked already; updated in place as picks are made
    closed = np.zeros(n, dtype=bool)
    every = round(1 / exploration_share) if exploration_share > 0 else 0
    span = window - 1 if window > 1 else 0  # the caps look at the last `span` picks plus the new one
    # Cosine of every candidate to each of the last `window` picks, as a ring of rows (-inf:
    # no pick yet, or a pick without a vector), so a pick costs one (n × d) product and one
    # max over `window` rows, with no allocation per pick.
    recent_sims = np.full((max(1, window), n), -np.inf, dtype=np.float32)
    nearest = np.empty(n, dtype=np.float64)
    score = np.empty(n, dtype=np.float64)
    picked: list[int] = []
    while len(picked) < size and len(picked) < n:
        capped = closed | (author_counts[author_of] >= author_cap) | (
            (sound_counts[sound_of] >= sound_cap) & ~no_sound)
        explore_slot = bool(every) and (len(picked) + 1) % every == 0
        blocked = capped | ~is_explore if explore_slot else capped | is_explore
        if blocked.all():
            blocked = capped
            if blocked.all():
                break  # only capped items are left: a shorter list beats breaking the caps
        np.max(recent_sims, axis=0, out=nearest)
        np.maximum(nearest, 0.0, out=nearest)
        np.multiply(nearest, -w_div, out=score)
        score += base
        score[blocked] = -np.inf
        best = int(np.argmax(score))
        candidates[best]["score"] = float(score[best])
        recent_sims[len(picked) % recent_sims.shape[0]] = vectors @ vectors[best] if has_vector[best] else -np.inf
        picked.append(best)
        closed[best] = True
        author_counts[author_of[best]] += 1
        if not no_sound[best]:
            sound_counts[sound_of[best]] += 1
        if span == 0 or len(picked) > span:
            leaving = picked[-span - 1] if span else best  # drops out of the window of the next pick
            author_counts[author_of[leaving]] -= 1
            if not no_sound[leaving]:
                sound_counts[sound_of[leaving]] -= 1
    return [candidates[i] for i in picked]


def _build(viewer, vid: int, interests: list[dict]) -> list[dict]:
    """The ranked For-You list for `viewer` with these `interests` (entries {post_id, reason,
    score})."""
    not_posts, not_authors = _not_interested(vid)
    candidates = _candidates(viewer, vid, interests, not_authors)
    rows = _filter(viewer, [c.post_id for c in candidates], seen=cache.seen_ids(vid), not_posts=not_posts,
                   not_authors=not_authors, ranking_facts=True)
    if not rows:
        return []
    vectors = {pid: row["vector"] for pid, row in rows.items() if row["vector"] is not None}
    engagement = {pid: row["engagement"] for pid, row in rows.items()}
    similarity: dict[int, float] = {}
    if interests and vectors:
        with_vector = list(vectors)
        scores = interest_similarity(np.stack([i["vector"] for i in interests]),
                                     np.asarray([i["weight"] for i in interests], dtype=np.float32),
                                     np.stack([vectors[pid] for pid in with_vector]))
        similarity = dict(zip(with_vector, (max(0.0, float(x)) for x in scores), strict=True))
    now = timezone.now()
    best: dict[int, dict] = {}
    priority = {"interest": 0, "collab": 1, "network": 2, "trending": 3, "explore": 4}
    for cand in candidates:
        row = rows.get(cand.post_id)
        if row is None:
            continue
        entry = best.get(cand.post_id)
        if entry is not None and priority[entry["kind"]] <= priority[cand.kind]:
            continue
        best[cand.post_id] = {
            "post_id": cand.post_id, "author_id": row["author_id"], "sound_id": row["sound_id"],
            "similarity": similarity.get(cand.post_id, 0.0),
            "recency": recency_score(row["published_at"] or row["created_at"], now),
            "engagement": engagement.get(cand.post_id, 0.0), "vector": vectors.get(cand.post_id), "kind": cand.kind,
            "explore": cand.kind == "explore", "reason": cand.reason,
        }
    ranked = rank(
        list(best.values()), weights=settings.RECS_SCORE_WEIGHTS, size=LIST_SIZE,
        exploration_share=settings.RECS_EXPLORATION_SHARE, author_cap=settings.RECS_AUTHOR_CAP,
        sound_cap=settings.RECS_SOUND_CAP, window=settings.RECS_CAP_WINDOW,
    )
    return [{"post_id": c["post_id"], "reason": c["reason"], "score": round(c["score"], 4)} for c in ranked]


def interests_fingerprint(interests: list[dict]) -> str:
    """A short digest of the interest vectors and weights a ranked list was built from: a
    kept list whose fingerprint differs from the user's interests now is re-ranked."""
    digest = hashlib.blake2b(digest_size=12)
    for interest in interests:
        digest.update(np.asarray(interest["vector"], dtype=np.float32).tobytes())
        digest.update(np.float32(interest["weight"]).tobytes())
    return digest.hexdigest()


@dataclass
class _ReadFilters:
    """What the read-time check of a cached list needs, loaded once per request."""

    seen: set[int]
    not_posts: set[int]
    not_authors: set[int]


def _read_filters(vid: int) -> _ReadFilters:
    not_posts, not_authors = _not_interested(vid)
    return _ReadFilters(seen=cache.seen_ids(vid), not_posts=not_posts, not_authors=not_authors)


# A For-You cursor names the kept list it walks and a position in it: list_id · 1000 + position
# (LIST_SIZE < 1000). A cursor of a list that has been re-ranked since starts the new list at
# the top (what the client viewed is filtered as seen); list id 0 is a bare position (cursors
# made before lists had ids).
_POSITIONS_PER_LIST = 1000


def _cursor(list_id: int, position: int | None) -> str | None:
    return None if position is None else encode_cursor(list_id * _POSITIONS_PER_LIST + position)


def _page(viewer, entries: list[dict], offset: int, limit: int, *,
          filters: _ReadFilters | None = None) -> tuple[list[RecItem], int | None]:
    """Visible posts from `entries` starting at `offset`, and the position to continue from
    (None at the end of the list).

    `filters` None: `entries` were ranked in THIS request from candidates `_filter` let
    through, so only the rows' own state is checked again (`posts_for_render_after_policy`).
    Otherwise `entries` come from the cache (built earlier, maybe minutes ago): each chunk
    goes through `_filter` again — the whole discovery rule (blocks, mutes, shadowbans,
    moderation, audience, deleted) plus seen and not-interested as they are NOW — before it
    is loaded for rendering."""
    load = content_selectors.posts_for_render_after_policy
    items: list[RecItem] = []
    position = offset
    while position < len(entries) and len(items) < limit:
        # entries passed the filters when ranked, so nearly all are still visible: a quarter
        # more than needed fills the page in one query (the loop fetches again if not)
        wanted = limit - len(items)
        chunk = entries[position: position + wanted + max(2, wanted // 4)]
        chunk_ids = [e["post_id"] for e in chunk]
        if filters is not None:
            kept = _filter(viewer, chunk_ids, seen=filters.seen, not_posts=filters.not_posts,
                           not_authors=filters.not_authors)
            chunk_ids = [pid for pid in chunk_ids if pid in kept]
        posts = {p.pk: p for p in load(viewer=viewer, post_ids=chunk_ids)} if chunk_ids else {}
        for entry in chunk:
            position += 1
            post = posts.get(entry["post_id"])
            if post is not None:
                items.append(RecItem(post=post, reason=entry["reason"], score=entry["score"]))
                if len(items) == limit:
                    break
    return items, (position if position < len(entries) and items else None)


def for_you(*, viewer, cursor: str | None = None, limit: int = 20) -> RecPage:
    """The For-You feed page for `viewer` (None/anonymous allowed), each item with a reason.

    The ranked list (candidates → filters → ranking) is ranked by workers and kept in Redis
    (RECS_FEED_KEEP_S) with the fingerprint of the interests it was ranked from. Cursors walk
    it; a first page (no cursor) is served from it too while it has unseen items, so
    reopening the tab or pulling to refresh shows the next unseen items without ranking
    inside the request. A worker re-ranks the list (`for_you_prepare`) a few seconds after
    the interests move, and when a served list was ranked from other interests, is older
    than RECS_FEED_TTL_S or reaches its last stretch; until it has, the list in hand keeps
    serving. A first page ranks inside the request only without a usable list: a first
    visit (or six hours away), onboarding just picked new interests, everything seen.
    Whatever comes from the kept list is filtered again at read time (`_page`). Cold users
    (no interest vectors) and logged-out viewers get the Explore feed (trending + fresh),
    reason "Popular right now". Raises Invalid on a bad cursor."""
    list_id, position = divmod(decode_cursor(cursor) or 0, _POSITIONS_PER_LIST)
    vid = policy.viewer_id(viewer)
    interests = user_interests(user_id=vid) if vid is not None else []
    if interests:
        kept = cache.feed_load(vid)
        fingerprint = interests_fingerprint(interests)
        if kept is not None:
            # A cursor of this list continues it; a first page, or a cursor of a list that has
            # been re-ranked since, starts the kept list at the top (viewed items are seen).
            continuing = cursor is not None and list_id in (kept["list_id"], 0)
            entries = kept["entries"]
            items, next_position = _page(viewer, entries, position if continuing else 0, limit,
                                         filters=_read_filters(vid))
            # A first page it cannot fill is ranked again, unless the list already held all
            # the ranking found (shorter than LIST_SIZE) and some of it is still unseen.
            if continuing or len(items) == limit or (items and len(entries) < LIST_SIZE):
                # Served; a worker re-ranks it when it was ranked from interests that have
                # moved since, is old, or is nearly used up (a list shorter than LIST_SIZE
                # already held everything the ranking found).
                running_out = len(entries) == LIST_SIZE and (
                    next_position is None or len(entries) - next_position < limit)
                if (kept["fingerprint"] != fingerprint or running_out
                        or time.time() - kept["built_at"] > settings.RECS_FEED_TTL_S):
                    services.for_you_prepare_soon([vid])
                return RecPage(items=items, next_cursor=_cursor(kept["list_id"], next_position), source="for_you")
        entries = _build(viewer, vid, interests)
        new_list = cache.feed_store(vid, entries, fingerprint=fingerprint)
        if entries:
            items, next_position = _page(viewer, entries, 0, limit)  # a new list starts at the top
            return RecPage(items=items, next_cursor=_cursor(new_list, next_position), source="for_you")
    from feeds import selectors as feeds_selectors

    page = feeds_selectors.explore(viewer=viewer, cursor=cursor, limit=limit)
    not_posts, not_authors = _not_interested(vid) if vid is not None else (set(), set())
    items = [
        RecItem(post=item.post, reason="Popular right now")
        for item in page.items
        if item.post.pk not in not_posts and item.post.author_id not in not_authors and item.post.author_id != vid
    ]
    return RecPage(items=items, next_cursor=page.next_cursor, source="trending")


def for_you_prepare(*, user_id: int) -> int:
    """Rank `user_id`'s For-You list now and keep it (with its interests' fingerprint), so
    their next first page is served from it instead of ranking inside the request. Run by a
    worker after the user's interests move (`services.for_you_prepare_soon`). Returns the number of
    entries kept (0, and any kept list dropped, for a user who is gone or has no interests)."""
    user = User.objects.filter(pk=user_id, status=policy.ACTIVE).first()
    interests = user_interests(user_id=user_id) if user is not None else []
    if not interests:
        cache.feed_forget(user_id)
        return 0
    entries = _build(user, user_id, interests)
    cache.feed_store(user_id, entries, fingerprint=interests_fingerprint(interests))
    return len(entries)


# --- item-to-item and creators -------------------------------------------------------------------------------
def similar_posts(*, viewer, post_id: Any, cursor: str | None = None, limit: int = 20) -> RecPage:
    """Posts like `post_id` (content space), through the same discovery filters; NotFound if
    the post is not visible to `viewer` or has no vector yet."""
    post = content_selectors.post_get_visible(viewer=viewer, post_id=post_id)
    vector = ItemVector.objects.filter(post_id=post.pk).values_list("embedding", flat=True).first()
    if vector is None:
        raise NotFound("No recommendations for this post yet.")
    vid = policy.viewer_id(viewer)
    not_posts, not_authors = _not_interested(vid) if vid is not None else (set(), set())
    hits = [(pid, sim) for pid, sim in ann_search(np.asarray(vector, dtype=np.float32), limit=LIST_SIZE)
            if pid != post.pk]
    rows = _filter(viewer, [pid for pid, _ in hits], seen=set(), not_posts=not_posts, not_authors=not_authors)
    entries = [{"post_id": pid, "reason": "Similar to this post", "score": round(sim, 4)} for pid, sim in hits
               if pid in rows]
    items, next_position = _page(viewer, entries, decode_cursor(cursor) or 0, limit)
    return RecPage(items=items, next_cursor=_cursor(0, next_position), source="similar")


@dataclass
class SuggestedUser:
    user: User
    reason: str
    score: float


def suggested_users(*, viewer, limit: int = 20) -> list[SuggestedUser]:
    """Creators near the viewer's interests (authors of their nearest items), excluding the
    viewer, people they follow, blocked either way, NOT_INTERESTED authors and shadowbanned
    accounts. Cold viewers get authors of trending posts."""
    vid = policy.viewer_id(viewer)
    scores: dict[int, float] = defaultdict(float)
    reasons: dict[int, str] = {}
    if vid is not None:
        for interest in user_interests(user_id=vid):
            for pid, sim in ann_search(interest["vector"], limit=150, exclude_author_ids=[vid]):
                scores[pid] += max(0.0, sim)
                reasons.setdefault(pid, f"Posts about {interest['label']}" if interest.get("label")
                                   else "Posts like the ones you watch")
    if not scores:
        for pid in _trending_ids(100):
            scores[pid] += 0.1
            reasons.setdefault(pid, "Popular creator right now")
    authors: dict[int, float] = defaultdict(float)
    author_reason: dict[int, str] = {}
    for pid, author_id in ItemVector.objects.filter(post_id__in=list(scores)).values_list("post_id", "author_id"):
        authors[author_id] += scores[pid]
        author_reason.setdefault(author_id, reasons[pid])
    users = User.objects.filter(policy.visible_users_q(viewer), policy.discovery_q(viewer, ""), pk__in=list(authors))
    if vid is not None:
        _, not_authors = _not_interested(vid)
        users = users.exclude(pk=vid).exclude(pk__in=policy.following_subquery(vid)).exclude(pk__in=list(not_authors))
    found = {u.pk: u for u in users.select_related("profile")}
    ordered = sorted(found, key=lambda a: (-authors[a], a))[:limit]
    return [SuggestedUser(user=found[a], reason=author_reason[a], score=round(authors[a], 4)) for a in ordered]


# --- operators ---------------------------------------------------------------------------------------------------
def explain(*, user: User, post_id: int) -> dict[str, Any]:
    """Why `post_id` would or would not be shown to `user` in For-You (recs_explain)."""
    post = Post.objects.filter(pk=post_id).select_related("author").first()
    if post is None:
        return {"post_id": post_id, "shown": False, "blocked_by": ["post does not exist"]}
    reasons: list[str] = []
    if post.author_id == user.pk:
        reasons.append("own post")
    if not Post.objects.filter(content_selectors.post_visible_q(user), pk=post.pk).exists():
        reasons.append("not visible through the policy (deleted, moderation, block, privacy or audience)")
    if not Post.objects.filter(policy.discovery_q(user), pk=post.pk).exists():
        reasons.append("author is shadowbanned (hidden from discovery)")
    if not Post.objects.filter(policy.exclude_muted_q(user), pk=post.pk).exists():
        reasons.append("author is muted")
    if post.audience != policy.PUBLIC:
        reasons.append(f"audience is {post.audience} (For-You shows public posts only)")
    if post.parent_id:
        reasons.append("a reply (For-You shows top-level posts)")
    not_posts, not_authors = _not_interested(user.pk)
    if post.pk in not_posts:
        reasons.append("marked NOT_INTERESTED")
    if post.author_id in not_authors:
        reasons.append("author marked NOT_INTERESTED")
    if post.pk in cache.seen_ids(user.pk):
        reasons.append("seen recently")
    vector_row = ItemVector.objects.filter(post_id=post.pk).first()
    interests = user_interests(user_id=user.pk)
    similarity = None
    nearest = None
    if vector_row is not None and interests:
        v = np.asarray(vector_row.embedding, dtype=np.float32)
        sims = [float(i["vector"] @ v) for i in interests]
        similarity = max(sims)
        nearest = interests[int(np.argmax(sims))]
    counters = ItemCounters.objects.filter(post_id=post.pk).first()
    engagement = min(1.0, 3.0 * counters.engagement()) if counters else 0.0
    recency = recency_score(post.published_at or post.created_at, timezone.now())
    weights = settings.RECS_SCORE_WEIGHTS
    cached = (cache.feed_load(user.pk) or {"entries": []})["entries"]
    position = next((i for i, e in enumerate(cached) if e["post_id"] == post.pk), None)
    return {
        "post_id": post.pk, "author": post.author.handle, "shown": not reasons, "blocked_by": reasons,
        "has_vector": vector_row is not None, "vector_source": vector_row.source if vector_row else None,
        "interests": [{"slot": i["slot"], "label": i["label"], "weight": i["weight"]} for i in interests],
        "nearest_interest": nearest["slot"] if nearest else None,
        "similarity": similarity, "recency": round(recency, 4), "engagement": round(engagement, 4),
        "score_without_diversity": round(weights["similarity"] * max(0.0, similarity or 0.0)
                                         + weights["recency"] * recency + weights["engagement"] * engagement, 4),
        "position_in_cached_feed": position,
    }
