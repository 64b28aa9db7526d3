"""Redis state of the recommender: seen items, signal de-duplication, interest-vector cache,
and the ranked For-You list kept for the next pages. All keys start with `recs:`."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable

import numpy as np
from django.conf import settings

from daira.lib.redis import get_redis


def seen_key(user_id: int) -> str:
    return f"recs:seen:{user_id}"


def interests_key(user_id: int) -> str:
    return f"recs:interests:{user_id}"


def feed_key(user_id: int) -> str:
    return f"recs:foryou:{user_id}"


def signal_key(user_id: int, kind: str, target_type: str, target_id: int | None) -> str:
    return f"recs:sig:{user_id}:{kind}:{target_type}:{target_id}"


def seen_add(user_id: int, post_ids: Iterable[int], *, pipe=None) -> None:
    """Remember `post_ids` as seen (capped sorted set: the newest RECS_SEEN_MAX survive)."""
    ids = list(post_ids)
    if not ids:
        return
    client = pipe if pipe is not None else get_redis().pipeline()
    now = time.time()
    client.zadd(seen_key(user_id), {str(pid): now for pid in ids})
    client.zremrangebyrank(seen_key(user_id), 0, -settings.RECS_SEEN_MAX - 1)
    client.expire(seen_key(user_id), settings.RECS_SEEN_TTL_S)
    if pipe is None:
        client.execute()


def seen_ids(user_id: int) -> set[int]:
    return {int(m) for m in get_redis().zrange(seen_key(user_id), 0, -1)}


def refit_key(user_id: int) -> str:
    return f"recs:refit:{user_id}"


def prepare_key(user_id: int) -> str:
    return f"recs:prepare:{user_id}"


def _claim(keys: list[str], ttl_s: int) -> list[bool]:
    if not keys:
        return []
    pipe = get_redis().pipeline()
    for key in keys:
        pipe.set(key, 1, nx=True, ex=max(1, ttl_s))
    return [bool(ok) for ok in pipe.execute()]


def refit_claim(user_ids: list[int], *, ttl_s: int) -> list[bool]:
    """Claim a refit of each user's interests for `ttl_s`; True where this call claimed it
    (no refit is already scheduled in the window)."""
    return _claim([refit_key(user_id) for user_id in user_ids], ttl_s)


def prepare_claim(user_ids: list[int], *, ttl_s: int) -> list[bool]:
    """Claim a re-rank of each user's For-You list for `ttl_s` (as `refit_claim`)."""
    return _claim([prepare_key(user_id) for user_id in user_ids], ttl_s)


def signals_claim(keys: list[str]) -> list[bool]:
    """Claim each strong-signal key for RECS_SIGNAL_DEDUPE_S; True where this call claimed it
    (first report of that (user, type, target) in the window), False for a repeat."""
    if not keys:
        return []
    pipe = get_redis().pipeline()
    for key in keys:
        pipe.set(key, 1, nx=True, ex=settings.RECS_SIGNAL_DEDUPE_S)
    return [bool(ok) for ok in pipe.execute()]


def interests_store(user_id: int, rows: list[dict]) -> None:
    """Cache a user's interests: [{slot, vector (list), weight, label, last_post_id}]."""
    get_redis().set(interests_key(user_id), json.dumps(rows), ex=24 * 3600)


def interests_load(user_id: int) -> list[dict] | None:
    raw = get_redis().get(interests_key(user_id))
    if raw is None:
        return None
    rows = json.loads(raw)
    for row in rows:
        row["vector"] = np.asarray(row["vector"], dtype=np.float32)
    return rows


def interests_forget(user_id: int) -> None:
    get_redis().delete(interests_key(user_id))


def feed_store(user_id: int, entries: list[dict], *, fingerprint: str = "") -> int:
    """Keep a ranked For-You list for RECS_FEED_KEEP_S, with the fingerprint of the interests
    it was ranked from (`selectors.interests_fingerprint`), when it was ranked and a new list
    id (cursors name it). Returns the list id."""
    list_id = secrets.randbits(40) or 1
    payload = {"fingerprint": fingerprint, "entries": entries, "list_id": list_id, "built_at": time.time()}
    get_redis().set(feed_key(user_id), json.dumps(payload), ex=settings.RECS_FEED_KEEP_S)
    return list_id


def feed_load(user_id: int) -> dict | None:
    """{"fingerprint", "entries", "list_id", "built_at"} of the kept list, or None. A list
    kept in an older shape (a bare list of entries, or no id) loads with list id 0 and no
    fingerprint, so serving it also asks for a re-rank."""
    raw = get_redis().get(feed_key(user_id))
    if raw is None:
        return None
    value = json.loads(raw)
    if isinstance(value, list):
        value = {"entries": value}
    return {"fingerprint": "", "list_id": 0, "built_at": 0.0, **value}


def feed_forget(user_id: int) -> None:
    get_redis().delete(feed_key(user_id))
