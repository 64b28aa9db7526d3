"""Benchmark: For-You quality on a simulated world, serving latency over HTTP, ANN recall,
event ingestion and embedding throughput (issue 11).

Run by hand (never in the test suite). Full size from the issue:

    DAIRA_DEBUG=true .venv/bin/python bench/recs.py --users 20000 --posts 200000 --vectors 1000000

Smaller (what fit a shared 2-core machine in minutes; the second run reuses the first run's
world vectors, saved under bench/reports/, instead of re-embedding them):

    DAIRA_DEBUG=true .venv/bin/python bench/recs.py --users 2000 --posts 2500 --vectors 20000 --skip-db
    DAIRA_DEBUG=true .venv/bin/python bench/recs.py --users 2000 --posts 2500 --vectors 200000 --reuse-vectors \
        --http-requests 200 --load-requests 400 --ingest-requests 300

The world (fixed --seed): ~20 topics, each with an Arabic, an English and an Arabizi vocabulary;
users with a hidden mixture of 1–3 topics; creators posting captions drawn from their topic's
vocabulary (in one of the three scripts) plus a hashtag and sometimes a sound; a training period
of sessions (users are shown random and popular posts and watch/like/skip according to their
hidden preference, with noise); a held-out period of new posts whose early engagement comes from
a sample of users, and whose true labels are each test user's simulated reaction to every one.

Methods compared on the held-out period (top 10 among the held-out posts):
- random;
- trending (early engagement with recency decay);
- the seeds' single-vector rule (one vector, u += 0.1·(v − u) toward strong signals, away from
  negatives; cosine ranking);
- ours: the multi-interest vectors production keeps after the same events (`user_interests`:
  the per-event `services.interest_step`, then the refit `services.interests_refit_vectors`), candidates
  (per-interest nearest neighbours, trending, exploration) and `selectors.rank` with the
  settings' weights, caps and ~10% exploration (the production ranker, as a pure function).
  Nearest neighbours are exact in this part; HNSW recall against exact is measured separately.

Then, in the bench database (`daira_bench_recs`): all world posts are embedded through
`services.items_embed` (embedding throughput), synthetic posts are added around them up to
--vectors item vectors, the HNSW index is rebuilt, ANN recall@50 of the queries For-You sends
(each interest's anchor item; the interests' centres for comparison) is measured against exact
search, and a real uvicorn server (the project's ASGI app, DEBUG off) serves
GET /api/v1/feeds/for-you (p50/p95, and throughput at --concurrency clients) and
POST /api/v1/events (accepted events/s). Writes bench/reports/recs.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "daira_bench_recs"
REPORT = ROOT / "bench" / "reports" / "recs.json"
BENCH_SECRET = "bench-recs-not-a-secret-" + "k" * 40
BENCH_WORKER = 4094

# topic: (English words, Arabic words, Arabizi words, hashtag en, hashtag ar)
TOPICS = {
    "football": ("goal match league striker penalty stadium coach derby", "جون ماتش الدوري مهاجم ضربة جزاء ملعب مدرب",
                 "gon matsh el dawry 7aris mar2a", "football", "كورة"),
    "cooking": ("recipe kitchen oven spices dinner lentils rice chicken", "وصفة مطبخ فرن بهارات عشا عدس رز فراخ",
                "wasfa akla tabkh far5a 3ads", "cooking", "طبخ"),
    "music": ("song beat singer album concert guitar lyrics", "أغنية مزيكا مطرب ألبوم حفلة جيتار كلمات",
              "ghenwa mazzika mahragan 7afla", "music", "مزيكا"),
    "tech": ("phone laptop programming code app software update", "موبايل لابتوب برمجة كود تطبيق سوفتوير تحديث",
             "mobile barmaga code tatbee2", "tech", "تكنولوجيا"),
    "travel": ("beach trip hotel flight luxor aswan desert", "بحر رحلة فندق طيران الأقصر أسوان صحرا",
               "sa7el re7la safar otel", "travel", "سفر"),
    "fitness": ("gym workout muscles protein cardio training squat", "جيم تمرين عضلات بروتين كارديو تدريب سكوات",
                "gym tamreen 3adalat protein", "fitness", "رياضة"),
    "fashion": ("outfit dress shoes style makeup trend", "لبس فستان جزمة ستايل ميكب موضة",
                "lebs fostan shyk style", "fashion", "موضة"),
    "cars": ("car engine speed drift bmw tires garage", "عربية موتور سرعة دريفت بي ام كاوتش ورشة",
             "3arabeya motor sor3a drift", "cars", "عربيات"),
    "religion": ("prayer ramadan quran mosque dua fasting", "صلاة رمضان قرآن مسجد دعاء صيام",
                 "salah ramadan do3a2 seyam", "ramadan", "رمضان"),
    "comedy": ("funny prank joke laugh meme sketch", "مضحك مقلب نكتة ضحك ميم اسكتش",
               "da7k 2afsha nokta hahaha", "comedy", "كوميدي"),
    "study": ("exam university lecture homework grades thanaweya", "امتحان جامعة محاضرة واجب درجات ثانوية",
              "emte7an gam3a mzakra thanaweya", "study", "مذاكرة"),
    "pets": ("cat dog kitten puppy vet pets", "قطة كلب قطط جرو بيطري حيوانات",
             "otta kalb otat 7ayawanat", "pets", "قطط"),
    "gaming": ("game playstation fifa pubg gamer stream", "لعبة بلايستيشن فيفا ببجي جيمر بث",
               "le3ba playstation pubg gamer", "gaming", "جيمنج"),
    "art": ("drawing painting sketch canvas artist colors", "رسم لوحة اسكتش كانفاس فنان ألوان",
            "rasm lo7a fanan alwan", "art", "فن"),
    "business": ("startup money investment market sales profit", "شركة ناشئة فلوس استثمار سوق مبيعات ربح",
                 "felos estethmar soo2 mabee3at", "business", "بيزنس"),
    "beauty": ("skincare hair cream serum glow routine", "عناية بالبشرة شعر كريم سيروم نضارة روتين",
               "bashra sha3r kreem rooteen", "beauty", "جمال"),
    "history": ("pharaohs pyramids ancient museum history tomb", "فراعنة أهرامات قديم متحف تاريخ مقبرة",
                "fara3na ahramat mat7af tarikh", "history", "تاريخ"),
    "family": ("kids baby mother wedding family home", "أطفال بيبي أم فرح عيلة بيت",
               "atfal baby mama far7 3eela", "family", "عيلة"),
    "news": ("news government prices economy election report", "أخبار حكومة أسعار اقتصاد انتخابات تقرير",
             "akhbar as3ar e2tesad 7okoma", "news", "أخبار"),
    "nature": ("nile sunset garden flowers birds sea", "النيل غروب جنينة ورد عصافير بحر",
               "el nil ghoroob gnena ward", "nature", "طبيعة"),
}
FILLER = {"en": "today wow really my best new".split(), "ar": "النهارده واو بجد أحلى جديد".split(),
          "arabizi": "naharda wow bgd a7la gdeed".split()}


# --- plumbing (same shape as bench/feeds.py) -------------------------------------------------------------
def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from daira import embedded

    return embedded.postgres_url()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _setup(url: str, redis_db: int, rebuild: bool) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        if rebuild:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = _with_database(url, BENCH_DB)
    os.environ["DAIRA_REDIS_DB"] = str(redis_db)
    os.environ["DAIRA_SECRET_KEY"] = BENCH_SECRET
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")
    os.environ.setdefault("DAIRA_DEBUG", "true")
    os.environ.setdefault("DAIRA_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from daira.lib.redis import get_redis

    get_redis().flushdb()


_USED_IDS: set[int] = set()


def _snowflake(moment: datetime, seq: int) -> int:
    """A snowflake at `moment` (worker BENCH_WORKER), unique within this run."""
    from daira.lib import ids

    ms = int(moment.timestamp() * 1000)
    while True:
        value = ((ms - ids.DAIRA_EPOCH_MS) << ids.TIMESTAMP_SHIFT) | (BENCH_WORKER << ids.WORKER_SHIFT) | (seq & ids.MAX_SEQUENCE)
        if value not in _USED_IDS:
            _USED_IDS.add(value)
            return value
        seq += 1
        if seq % (ids.MAX_SEQUENCE + 1) == 0:
            ms += 1


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 2),
            "mean_ms": round(statistics.fmean(ordered), 2)}


# --- the world ---------------------------------------------------------------------------------------------
class World:
    def __init__(self, args):
        rng = np.random.default_rng(args.seed)
        self.rng = rng
        names = list(TOPICS)[: args.topics]
        self.topics = names
        t = len(names)
        self.vocab = {name: {"en": TOPICS[name][0].split(), "ar": TOPICS[name][1].split(),
                             "arabizi": TOPICS[name][2].split()} for name in names}
        # users: hidden mixtures of 1-3 topics
        self.user_mix = np.zeros((args.users, t), dtype=np.float32)
        for u in range(args.users):
            k = rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25])
            chosen = rng.choice(t, size=k, replace=False)
            self.user_mix[u, chosen] = rng.dirichlet(np.ones(k)) if k > 1 else 1.0
        creators = rng.choice(args.users, size=max(20, args.users // 10), replace=False)
        self.creator_topics = {int(c): rng.choice(t, size=rng.choice([1, 2], p=[0.8, 0.2]), replace=False)
                               for c in creators}
        self.sounds = [(ti, j) for ti in range(t) for j in range(5)]
        now = datetime.now(UTC)
        self.now = now
        self.start = now - timedelta(days=args.days)
        self.split = now - timedelta(days=args.test_days)
        n = args.posts
        self.post_author = rng.choice(creators, size=n)
        self.post_topic = np.array([rng.choice(self.creator_topics[int(a)]) for a in self.post_author])
        self.post_lang = rng.choice(["ar", "en", "arabizi"], size=n, p=[0.45, 0.3, 0.25])
        self.post_quality = rng.beta(2, 2, size=n).astype(np.float32)
        offsets = np.sort(rng.uniform(0, (now - self.start).total_seconds() - 60, size=n))
        self.post_time = [self.start + timedelta(seconds=float(o)) for o in offsets]
        self.post_sound = [int(rng.integers(0, 5)) if rng.random() < 0.3 else None for _ in range(n)]
        self.captions = []
        for i in range(n):
            topic, lang = names[self.post_topic[i]], self.post_lang[i]
            words = list(rng.choice(self.vocab[topic][lang], size=4)) + [str(rng.choice(FILLER[lang]))]
            tag = TOPICS[topic][4] if lang == "ar" else TOPICS[topic][3]
            self.captions.append(" ".join(words) + f" #{tag}")
        self.test_mask = np.array([pt >= self.split for pt in self.post_time])

    def affinity(self, users: np.ndarray, posts: np.ndarray) -> np.ndarray:
        """Probability that each user engages with each post (hidden preference + quality)."""
        topic_pref = self.user_mix[np.ix_(users, np.arange(self.user_mix.shape[1]))][:, self.post_topic[posts]]
        logit = 7.0 * topic_pref + 1.5 * self.post_quality[posts][None, :] - 3.5
        return 1.0 / (1.0 + np.exp(-logit))


def simulate_training(world: World, args) -> list[list[tuple[int, str, float]]]:
    """Per user, time-ordered events on training posts: (post index, kind, watch share)."""
    rng = world.rng
    train_posts = np.flatnonzero(~world.test_mask)
    popularity = world.post_quality[train_posts] ** 2
    popularity /= popularity.sum()
    events: list[list[tuple[int, str, float]]] = []
    for u in range(len(world.user_mix)):
        shown = np.concatenate([rng.choice(train_posts, size=args.sessions // 2),
                                rng.choice(train_posts, size=args.sessions - args.sessions // 2, p=popularity)])
        shown = shown[np.argsort([world.post_time[i] for i in shown])]
        p = world.affinity(np.array([u]), shown)[0]
        noise = rng.random(len(shown))
        user_events = []
        for post, prob, r in zip(shown, p, noise, strict=True):
            if r < prob:
                user_events.append((int(post), "WATCH", float(rng.uniform(0.8, 1.0))))
                if rng.random() < 0.5:
                    user_events.append((int(post), "LIKE", 1.0))
            elif rng.random() < 0.7:
                user_events.append((int(post), "SKIP", float(rng.uniform(0.02, 0.1))))
            else:
                user_events.append((int(post), "WATCH", float(rng.uniform(0.2, 0.6))))
        events.append(user_events)
    return events


def _strength(kind: str, share: float) -> int:
    if kind == "LIKE" or (kind == "WATCH" and share >= 0.8):
        return 1
    if kind == "SKIP":  # simulated skips are all under 2 s (share of a 15 s clip < 0.13)
        return -1
    return 0


def user_interests(user_events: list[tuple[int, str, float]], vectors: np.ndarray,
                   ) -> tuple[list[np.ndarray], list[float], list[dict]]:
    """A user's interests as production keeps them after these events: the per-event rule
    (`services.interest_step`) for each signal, then the refit the signals schedule
    (`services.interests_refit_vectors` over the last RECS_REFIT_SIGNALS, when they hold
    RECS_REFIT_MIN_POSITIVES positives)."""
    from django.conf import settings

    from recommendations import services

    interests, weights, metas = [], [], []
    signals = []
    for post, kind, share in user_events:
        s = _strength(kind, share)
        if not s:
            continue
        signals.append((vectors[post], s, post))
        interests, weights, metas, _ = services.interest_step(
            interests, weights, metas, vectors[post], s > 0, rate=settings.RECS_LEARNING_RATE,
            split_below=settings.RECS_INTEREST_SPLIT_BELOW, merge_above=settings.RECS_INTEREST_MERGE_ABOVE,
            max_interests=settings.RECS_MAX_INTERESTS)
    recent = signals[-settings.RECS_REFIT_SIGNALS:]
    if sum(1 for _, s, _ in recent if s > 0) >= settings.RECS_REFIT_MIN_POSITIVES:
        interests, weights, metas = services.interests_refit_vectors(
            recent, max_interests=settings.RECS_MAX_INTERESTS, merge_above=settings.RECS_REFIT_MERGE_ABOVE,
            negative_rate=settings.RECS_NEGATIVE_RATE)
    return interests, weights, metas


def evaluate(world: World, events, vectors: np.ndarray, args) -> dict:
    from django.conf import settings

    from recommendations import selectors

    rng = np.random.default_rng(args.seed + 1)
    test_posts = np.flatnonzero(world.test_mask)
    tv = vectors[test_posts]
    # early engagement on held-out posts from a sample of users (what trending and counters see)
    early_users = rng.choice(len(world.user_mix), size=min(args.early_users, len(world.user_mix)), replace=False)
    early_p = world.affinity(early_users, test_posts)
    early_likes = (rng.random(early_p.shape) < early_p).sum(axis=0).astype(np.float32)
    views = float(len(early_users))
    engagement = np.minimum(1.0, 3.0 * early_likes / (early_likes + views + 10))
    age_h = np.array([(world.now - world.post_time[i]).total_seconds() / 3600 for i in test_posts])
    recency = np.exp(-math.log(2) * age_h / settings.RECS_RECENCY_HALF_LIFE_H)
    trending_score = early_likes * np.exp(-math.log(2) * age_h / 6.0)  # 24 h window, half-life 6 h (feeds)
    trending_order = np.argsort(-trending_score)
    authors = world.post_author[test_posts]
    sounds = [world.post_sound[i] for i in test_posts]

    candidates_users = [u for u in range(len(world.user_mix)) if sum(1 for e in events[u] if _strength(e[1], e[2]) > 0) >= 3]
    eval_users = rng.choice(candidates_users, size=min(args.eval_users, len(candidates_users)), replace=False)
    # Held-out sessions: each eval user is shown --test-exposure random held-out posts (by
    # default a fifth of them, at least 100: a fixed 100 out of the full world's 40k held-out
    # posts leaves ~1 positive in reach of a top 10, and every method near zero) and
    # engages by the hidden rule; what they engaged with is the ground truth.
    exposure = args.test_exposure or max(100, len(test_posts) // 5)
    truth_p = world.affinity(np.asarray(eval_users), test_posts)
    exposed = np.zeros(truth_p.shape, dtype=bool)
    for row in range(len(eval_users)):
        exposed[row, rng.choice(len(test_posts), size=min(exposure, len(test_posts)), replace=False)] = True
    truth = exposed & (rng.random(truth_p.shape) < truth_p)

    lists = {"random": [], "trending": [], "single_vector": [], "ours": []}
    rate = settings.RECS_LEARNING_RATE
    for row, u in enumerate(eval_users):
        # single vector (the seeds' rule)
        single = None
        interests, weights, metas = [], [], []
        for post, kind, share in events[u]:
            s = _strength(kind, share)
            if not s:
                continue
            v = vectors[post]
            if single is None:
                single = v.copy() if s > 0 else None
            else:
                single = single + rate * (v - single) if s > 0 else single - rate * (v - single)
                single /= np.linalg.norm(single)
        interests, weights, metas = user_interests(events[u], vectors)
        lists["random"].append(rng.choice(len(test_posts), size=10, replace=False))
        lists["trending"].append(trending_order[:10])
        lists["single_vector"].append(np.argsort(-(tv @ single))[:10])
        matrix = np.stack(interests)
        sims = selectors.interest_similarity(matrix, np.asarray(weights), tv)
        cand = set()
        limits = selectors.candidates_per_interest(weights, settings.RECS_CANDIDATES_PER_INTEREST)
        for k in range(len(interests)):
            anchor = metas[k].get("anchor_post_id")  # production searches around the anchor item
            query = vectors[anchor] if anchor is not None else matrix[k]
            cand.update(np.argsort(-(tv @ query))[: limits[k]].tolist())
        cand.update(trending_order[:100].tolist())
        fresh_few_views = [i for i in range(len(test_posts)) if i not in cand]
        explore = set(rng.choice(fresh_few_views, size=min(60, len(fresh_few_views)), replace=False).tolist()) \
            if fresh_few_views else set()
        entries = [{"post_id": int(i), "author_id": int(authors[i]), "sound_id": sounds[i],
                    "similarity": max(0.0, float(sims[i])), "recency": float(recency[i]),
                    "engagement": float(engagement[i]), "vector": tv[i], "explore": i in explore, "reason": ""}
                   for i in cand | explore]
        ranked = selectors.rank(entries, weights=settings.RECS_SCORE_WEIGHTS, size=10,
                                exploration_share=settings.RECS_EXPLORATION_SHARE,
                                author_cap=settings.RECS_AUTHOR_CAP, sound_cap=settings.RECS_SOUND_CAP,
                                window=settings.RECS_CAP_WINDOW)
        lists["ours"].append(np.array([e["post_id"] for e in ranked]))

    discounts = 1.0 / np.log2(np.arange(2, 12))
    out = {}
    for name, recs in lists.items():
        hits, ndcgs, covered, diversity = [], [], set(), []
        for row, top in enumerate(recs):
            rel = truth[row, top].astype(np.float32)
            hits.append(float(rel.any()))
            ideal = discounts[: min(10, int(truth[row].sum()))].sum()
            ndcgs.append(float((rel * discounts[: len(rel)]).sum() / ideal) if ideal > 0 else 0.0)
            covered.update(int(i) for i in top)
            diversity.append(len({int(authors[i]) for i in top}) / max(1, len(top)))
        out[name] = {"hit_rate_at_10": round(float(np.mean(hits)), 4), "ndcg_at_10": round(float(np.mean(ndcgs)), 4),
                     "coverage": round(len(covered) / len(test_posts), 4),
                     "author_diversity_at_10": round(float(np.mean(diversity)), 4)}
    out["eval_users"] = int(len(eval_users))
    out["mean_positives_per_eval_user"] = round(float(truth.sum(axis=1).mean()), 2)
    out["held_out_posts"] = int(len(test_posts))
    out["test_exposure"] = int(min(exposure, len(test_posts)))
    out["ours_over_trending_hit"] = round(out["ours"]["hit_rate_at_10"] / max(1e-9, out["trending"]["hit_rate_at_10"]), 3)
    out["ours_over_single_hit"] = round(out["ours"]["hit_rate_at_10"] / max(1e-9, out["single_vector"]["hit_rate_at_10"]), 3)
    out["ours_over_trending_ndcg"] = round(out["ours"]["ndcg_at_10"] / max(1e-9, out["trending"]["ndcg_at_10"]), 3)
    out["ours_over_single_ndcg"] = round(out["ours"]["ndcg_at_10"] / max(1e-9, out["single_vector"]["ndcg_at_10"]), 3)
    return out, eval_users, lists


# --- database: users, posts, embeddings, synthetic vectors -------------------------------------------------
def load_world(world: World, args) -> tuple[dict, np.ndarray, list[int], list[int]]:
    from django.db import connection, transaction

    from accounts.models import Profile, User, UserSettings
    from content.models import Post, Sound
    from recommendations import services
    from recommendations.models import ItemVector

    started = time.perf_counter()
    users = [User(id=_snowflake(world.start - timedelta(days=30), i), handle=f"rb{i}", password="!",
                  last_active_at=world.now) for i in range(len(world.user_mix))]
    with transaction.atomic():
        User.objects.bulk_create(users, batch_size=2000)
        Profile.objects.bulk_create([Profile(user_id=u.id) for u in users], batch_size=2000)
        UserSettings.objects.bulk_create([UserSettings(user_id=u.id) for u in users], batch_size=2000)
        sounds = {}
        for ti, j in world.sounds:
            topic = world.topics[ti]
            sounds[(ti, j)] = Sound.objects.create(title=f"{topic} {world.vocab[topic]['en'][j % 5]} beat", artist="bench")
        posts = []
        for i in range(len(world.captions)):
            sound = sounds[(int(world.post_topic[i]), world.post_sound[i])] if world.post_sound[i] is not None else None
            posts.append(Post(id=_snowflake(world.post_time[i], i), author_id=users[int(world.post_author[i])].id,
                              body=world.captions[i], kind="video", audience="public", status="published",
                              published_at=world.post_time[i], created_at=world.post_time[i],
                              announced_at=world.post_time[i], sound=sound, language=""))
        Post.objects.bulk_create(posts, batch_size=2000)
    load_s = time.perf_counter() - started
    post_ids = [p.id for p in posts]
    cache_file = ROOT / "bench" / "reports" / f"recs-vectors-{args.seed}-{args.topics}-{args.posts}.npy"
    if args.reuse_vectors and cache_file.exists():
        # Same world (seed, topics, posts) embedded by an earlier run: load its vectors instead
        # of spending minutes re-embedding; the embedding figures come from that run.
        cached = np.load(cache_file)
        ItemVector.objects.bulk_create([
            ItemVector(post_id=p.id, author_id=p.author_id, sound_id=p.sound_id, embedding=cached[i], source="text",
                       encoder="cached", eligible=True, published_at=p.published_at) for i, p in enumerate(posts)
        ], batch_size=2000)
        meta = json.loads(cache_file.with_suffix(".json").read_text())
        return ({**meta, "db_load_s": round(load_s, 1), "reused_vectors": True}, cached, [u.id for u in users],
                post_ids)
    # embedding through the real service (batches like recs_reindex)
    started = time.perf_counter()
    for k in range(0, len(post_ids), 64):
        services.items_embed(post_ids=post_ids[k: k + 64])
        if k % 640 == 0:
            print(f"  embedded {k + 64:,}/{len(post_ids):,}", flush=True)
    embed_s = time.perf_counter() - started
    found = dict(ItemVector.objects.values_list("post_id", "embedding"))
    vectors = np.stack([np.asarray(found[pid], dtype=np.float32) for pid in post_ids])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    figures = {"embedded_posts": len(post_ids), "embed_s": round(embed_s, 1),
               "embed_posts_per_s": round(len(post_ids) / embed_s, 1), "embed_batch": 64}
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache_file, vectors)
    cache_file.with_suffix(".json").write_text(json.dumps(figures))
    return ({**figures, "db_load_s": round(load_s, 1)}, vectors, [u.id for u in users], post_ids)


def add_synthetic_vectors(world: World, vectors: np.ndarray, user_ids: list[int], args) -> dict:
    """Posts + item vectors around the real ones (vector + gaussian noise), up to --vectors,
    loaded with COPY, then the HNSW index rebuilt."""
    from django.db import connection

    from content.models import Post
    from recommendations.models import ItemVector

    extra = max(0, args.vectors - len(vectors))
    rng = np.random.default_rng(args.seed + 2)
    started = time.perf_counter()
    creators = sorted({user_ids[int(a)] for a in world.post_author})
    post_cols = [f for f in Post._meta.concrete_fields]
    now = world.now
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS recs_item_embedding_hnsw")
    raw = connection.connection
    with raw.cursor() as cursor:
        chunk = 20_000
        for base in range(0, extra, chunk):
            n = min(chunk, extra - base)
            src = rng.integers(0, len(vectors), size=n)
            noisy = vectors[src] + rng.normal(0, args.noise, size=(n, vectors.shape[1])).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            times = [world.start + timedelta(seconds=float(s)) for s in
                     rng.uniform(0, (now - world.start).total_seconds() - 60, size=n)]
            ids_ = [_snowflake(t, 100_000 + base + j) for j, t in enumerate(times)]
            authors = [creators[int(k)] for k in rng.integers(0, len(creators), size=n)]
            with cursor.copy(f'COPY "{Post._meta.db_table}" ({", ".join(chr(34) + f.column + chr(34) for f in post_cols)}) FROM STDIN') as copy:
                for j in range(n):
                    over = {"id": ids_[j], "author_id": authors[j], "body": "", "kind": "video", "audience": "public",
                            "status": "published", "moderation_state": "visible", "published_at": times[j],
                            "created_at": times[j], "announced_at": times[j], "language": "", "depth": 0}
                    copy.write_row([over.get(f.attname, None if f.null else f.get_default()) for f in post_cols])
            with cursor.copy('COPY recommendations_itemvector (post_id, author_id, sound_id, language, embedding, '
                             'source, encoder, eligible, published_at, updated_at) FROM STDIN') as copy:
                for j in range(n):
                    copy.write_row([ids_[j], authors[j], None, "", "[" + ",".join(f"{x:.5f}" for x in noisy[j]) + "]",
                                    "synth", "bench", True, times[j], now])
            print(f"  synthetic vectors {base + n:,}/{extra:,}", flush=True)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # the graph must fit in memory or the build goes to disk and takes hours (1M x 384-d, m 32: ~4 GB)
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, false)", [args.maintenance_work_mem])
        cursor.execute("SET max_parallel_maintenance_workers = 2")
        cursor.execute("CREATE INDEX recs_item_embedding_hnsw ON recommendations_itemvector USING hnsw "
                       f"(embedding vector_cosine_ops) WITH (m = {int(args.hnsw_m)}, "
                       f"ef_construction = {int(args.hnsw_ef_construction)})")
        cursor.execute("VACUUM ANALYZE")
    index_s = time.perf_counter() - started
    return {"item_vectors": int(ItemVector.objects.count()), "synthetic_load_s": round(load_s, 1),
            "hnsw_build_s": round(index_s, 1)}


def ann_recall(queries: list[np.ndarray], k: int = 50) -> dict:
    from recommendations import selectors

    recalls, ann_ms, exact_ms = [], [], []
    for q in queries:
        t = time.perf_counter()
        approx = {pid for pid, _ in selectors.ann_search(q, limit=k)}
        ann_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        exact = {pid for pid, _ in selectors.ann_search(q, limit=k, exact=True)}
        exact_ms.append((time.perf_counter() - t) * 1000)
        recalls.append(len(approx & exact) / max(1, len(exact)))
    return {"k": k, "queries": len(queries), "recall": round(float(np.mean(recalls)), 4),
            "ann": _stats(ann_ms), "exact": _stats(exact_ms)}


# --- HTTP -------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(args, port: int) -> subprocess.Popen:
    from django.conf import settings

    env = dict(os.environ)
    env.update({"DAIRA_DEBUG": "false", "DAIRA_SECRET_KEY": BENCH_SECRET, "DAIRA_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": settings.REDIS_URL,
                "DAIRA_LOG_LEVEL": "WARNING", "DAIRA_RECS_EVENTS_RATE": "100000000", "DAIRA_DB_CONN_MAX_AGE": "60"})
    command = [sys.executable, "-m", "uvicorn", "daira.asgi:application", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(args.workers), "--no-access-log", "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    import httpx

    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/feeds/for-you", timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    os.killpg(server.pid, signal.SIGKILL)
    raise RuntimeError("server did not start")


def http_part(args, viewers, post_ids: list[int]) -> dict:
    """For-You and event ingestion over HTTP against a real uvicorn server.

    Fired with bench/loadgen.py's raw keep-alive client (requests and event batches built
    before the clock starts), so on this shared machine the figures measure the server, not
    the client; each load also reports the server's CPU per request."""
    from accounts.tests.factories import access_token_for
    from bench.loadgen import Request, run_load

    tokens = {u.pk: access_token_for(u) for u in viewers}
    port = _free_port()
    server = _start_server(args, port)
    try:
        def for_you(i: int) -> Request:
            user = viewers[i % len(viewers)]
            return Request("GET", "/api/v1/feeds/for-you?limit=20", {"Authorization": f"Bearer {tokens[user.pk]}"})

        sources: dict[str, int] = {}

        def check_feed(request, response) -> None:
            assert response.status == 200, response.body[:300]
            source = response.json()["source"]
            sources[source] = sources.get(source, 0) + 1

        from daira.lib.redis import get_redis
        from recommendations import cache as recs_cache

        kept_lists = [recs_cache.feed_key(user.pk) for user in viewers]

        # cold: every request ranks afresh (the kept lists are dropped after each response), the
        # cost of a first page after the interests moved or the list expired
        def check_and_forget(request, response) -> None:
            check_feed(request, response)
            get_redis().delete(*kept_lists)

        get_redis().delete(*kept_lists)
        cold = asyncio.run(run_load("127.0.0.1", port, [for_you(i) for i in range(args.http_requests)], 1,
                                    on_response=check_and_forget, server_pid=server.pid))
        # warm-up: each viewer's first page ranks and keeps its list; the timed requests then
        # measure what reopening the tab gets (first pages served from the kept list, filtered
        # again at read time)
        asyncio.run(run_load("127.0.0.1", port, [for_you(i) for i in range(len(viewers))], 4,
                             server_pid=server.pid))
        single = asyncio.run(run_load("127.0.0.1", port, [for_you(i) for i in range(args.http_requests)], 1,
                                      on_response=check_feed, server_pid=server.pid))
        concurrent = asyncio.run(run_load("127.0.0.1", port, [for_you(i) for i in range(args.load_requests)],
                                          args.concurrency, on_response=check_feed, server_pid=server.pid))

        rng = np.random.default_rng(args.seed + 3)
        now = datetime.now(UTC).isoformat()
        batches = []
        for i in range(args.ingest_requests):
            user = viewers[i % len(viewers)]
            batch = [{"client_event_id": uuid.uuid4().hex, "type": "WATCH" if j % 2 else "VIEW", "target_type": "post",
                      "target_id": str(int(t)), "source": "DISCOVER", "at": now, "watch_ms": 4000, "duration_ms": 15000}
                     for j, t in enumerate(rng.choice(post_ids, size=100))]
            batches.append(Request.json("POST", "/api/v1/events", {"events": batch},
                                        headers={"Authorization": f"Bearer {tokens[user.pk]}"}))
        outcome = {"accepted": 0, "duplicates": 0, "rejected": 0}

        def check_ingest(request, response) -> None:
            assert 200 <= response.status < 300, response.body[:300]
            body = response.json()
            for name in outcome:
                outcome[name] += len(body[name])

        ingestion = asyncio.run(run_load("127.0.0.1", port, batches, args.concurrency, on_response=check_ingest,
                                         server_pid=server.pid))
        ingestion.update(outcome)
        ingestion["events_per_s"] = round(outcome["accepted"] / ingestion["wall_s"], 1)
        return {"server": {"workers": args.workers, "debug": False, "client": "bench/loadgen.py"},
                "for_you_cold_single_client": cold, "for_you_single_client": single, "for_you_sources": sources,
                f"for_you_concurrency_{args.concurrency}": concurrent,
                f"events_ingest_concurrency_{args.concurrency}": ingestion}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def worker_ranking(viewers) -> dict:
    """What the worker's re-rank of one For-You list costs (`selectors.for_you_prepare`, the
    same ranking a request without a usable list does), in this process: wall and CPU."""
    from recommendations import selectors

    walls, cpus = [], []
    for user in viewers * 2:
        wall, cpu = time.perf_counter(), time.process_time()
        selectors.for_you_prepare(user_id=user.pk)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return {"wall": _stats(walls), "cpu": _stats(cpus),
            "lists_per_s_per_process": round(1000 / statistics.fmean(walls), 1)}


def serve_only(args, total_started: float) -> None:
    """Re-measure the HTTP part (after a serving change) without rebuilding the world: the
    viewers are the users an earlier full run gave interest vectors, the database keeps its
    item vectors and HNSW index. Redis is flushed first, so no ranked list is cached."""
    _setup(_server_url(), args.redis_db, rebuild=False)
    from accounts.models import User
    from content.models import Post
    from recommendations.models import ItemVector, UserInterest

    viewer_ids = sorted(set(UserInterest.objects.values_list("user_id", flat=True)))[: args.viewers]
    if not viewer_ids:
        raise SystemExit(f"{BENCH_DB} has no viewers: run a full bench first")
    viewers = list(User.objects.filter(pk__in=viewer_ids).order_by("pk"))
    post_ids = list(Post.objects.filter(body__gt="").values_list("id", flat=True)[:5000])
    report = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
              "args": vars(args), "started_at": datetime.now(UTC).isoformat(), "serve_only": True,
              "item_vectors": ItemVector.objects.count(), "viewers": len(viewers)}
    report["http"] = http_part(args, viewers, post_ids)
    print(json.dumps(report["http"], indent=1), flush=True)
    report["worker_ranking"] = worker_ranking(viewers)
    print(json.dumps(report["worker_ranking"]), flush=True)
    report["total_s"] = round(time.perf_counter() - total_started, 1)
    out = REPORT.with_name("recs-serve.json")
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"wrote {out}")


def main() -> None:
    global BENCH_DB
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--topics", type=int, default=20)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--posts", type=int, default=200_000, help="world posts (all embedded for real)")
    parser.add_argument("--vectors", type=int, default=1_000_000, help="item vectors in the database for serving")
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--test-days", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=60, help="posts shown per user in training")
    parser.add_argument("--early-users", type=int, default=200, help="users whose reactions feed held-out trending")
    parser.add_argument("--eval-users", type=int, default=1000)
    parser.add_argument("--test-exposure", type=int, default=0,
                        help="held-out posts shown to each eval user (0: a fifth of them, at least 100)")
    parser.add_argument("--noise", type=float, default=0.03, help="per-dimension noise of synthetic vectors")
    parser.add_argument("--viewers", type=int, default=50, help="users with interests who request For-You")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--http-requests", type=int, default=100)
    parser.add_argument("--load-requests", type=int, default=200)
    parser.add_argument("--ingest-requests", type=int, default=200, help="batches of 100 events")
    parser.add_argument("--redis-db", type=int, default=11)
    parser.add_argument("--hnsw-m", type=int, default=32, help="HNSW m of the rebuilt index (the migration uses 32)")
    parser.add_argument("--hnsw-ef-construction", type=int, default=128)
    parser.add_argument("--maintenance-work-mem", default="1GB", help="Postgres memory for the HNSW build")
    parser.add_argument("--ef-sweep", type=int, nargs="*", default=[],
                        help="extra recall measurements at these hnsw.ef_search values")
    parser.add_argument("--reuse-vectors", action="store_true",
                        help="reuse the world's vectors saved by an earlier run with the same seed/topics/posts")
    parser.add_argument("--skip-db", action="store_true", help="quality and embedding only (no synthetic vectors, recall or HTTP part)")
    parser.add_argument("--db", default=BENCH_DB, help="bench database name (dropped and rebuilt unless --serve-only)")
    parser.add_argument("--serve-only", action="store_true",
                        help="only the HTTP part, against the bench database an earlier full run left "
                             "(its viewers and vectors); writes bench/reports/recs-serve.json")
    args = parser.parse_args()
    BENCH_DB = args.db

    total_started = time.perf_counter()
    if args.serve_only:
        serve_only(args, total_started)
        return
    _setup(_server_url(), args.redis_db, rebuild=True)
    print(f"world: {args.users:,} users, {args.posts:,} posts, {args.topics} topics (seed {args.seed})", flush=True)
    world = World(args)
    events = simulate_training(world, args)
    report = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
              "args": vars(args), "started_at": datetime.now(UTC).isoformat()}
    print("loading and embedding world posts ...", flush=True)
    report["embedding"], vectors, user_ids, world_post_ids = load_world(world, args)
    print(json.dumps(report["embedding"]), flush=True)
    print("evaluating quality ...", flush=True)
    report["quality"], eval_users, _ = evaluate(world, events, vectors, args)
    print(json.dumps(report["quality"], indent=1), flush=True)
    if not args.skip_db:
        from accounts.models import User
        from recommendations.models import UserInterest

        print("adding synthetic item vectors ...", flush=True)
        report["vectors"] = add_synthetic_vectors(world, vectors, user_ids, args)
        print(json.dumps(report["vectors"]), flush=True)
        from django.conf import settings

        viewers = []
        queries, centres = [], []
        for u in eval_users[: args.viewers]:
            interests, weights, metas = user_interests(events[u], vectors)
            user = User.objects.get(pk=user_ids[u])
            anchors = [m.get("anchor_post_id") for m in metas]
            UserInterest.objects.bulk_create([
                UserInterest(user=user, slot=k, vector=v, weight=w,
                             anchor_post_id=world_post_ids[a] if a is not None else None)
                for k, (v, w, a) in enumerate(zip(interests, weights, anchors, strict=True))])
            viewers.append(user)
            # the nearest-neighbour queries For-You sends: each interest's anchor item, if any
            queries += [vectors[a] if a is not None else v for v, a in zip(interests, anchors, strict=True)]
            centres += interests
        report["ann_recall_at_50"] = ann_recall(queries[:50])
        print(json.dumps(report["ann_recall_at_50"]), flush=True)
        # for comparison: the interests' centres as queries (what For-You searched before anchors)
        report["ann_recall_at_50_interest_centres"] = ann_recall(centres[:50])
        print("centres", json.dumps(report["ann_recall_at_50_interest_centres"]), flush=True)
        default_ef = settings.RECS_HNSW_EF_SEARCH
        for ef in args.ef_sweep:
            settings.RECS_HNSW_EF_SEARCH = ef
            report[f"ann_recall_at_50_ef_search_{ef}"] = ann_recall(queries[:50])
            print(ef, json.dumps(report[f"ann_recall_at_50_ef_search_{ef}"]), flush=True)
        settings.RECS_HNSW_EF_SEARCH = default_ef
        from content.models import Post

        post_ids = list(Post.objects.filter(body__gt="").values_list("id", flat=True)[:5000])
        report["http"] = http_part(args, viewers, post_ids)
        print(json.dumps(report["http"], indent=1), flush=True)
        report["worker_ranking"] = worker_ranking(viewers)
        print(json.dumps(report["worker_ranking"]), flush=True)
    report["total_s"] = round(time.perf_counter() - total_started, 1)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
