"""Benchmark: home feeds by fan-out on write vs. the pull query, and search (issue 8).

Run by hand (never in the test suite):

    DAIRA_DEBUG=true .venv/bin/python bench/feeds.py                       # full size
    DAIRA_DEBUG=true .venv/bin/python bench/feeds.py --users 20000 --follows 1000000 --posts 200000
    DAIRA_DEBUG=true .venv/bin/python bench/feeds.py --only-home-in-process   # figure 3 alone

Full size: 100,000 users, about 5,000,000 follows (power law: a few accounts above
10,000 followers), 1,000,000 posts, all loaded with COPY into its own database
(`daira_bench_feeds`, on the embedded Postgres or the server of DATABASE_URL) and reused
by later runs with the same sizes (`--rebuild` forces a reload). Redis: db --redis-db.

It measures, in one run, and writes bench/reports/feeds.json:
 1. fan-out of one post to --fanout-followers followers (their feeds warm): wall time and
    deliveries per second;
 2. home feed pages (20 posts) over HTTP from a real uvicorn server (the project's ASGI app)
    for users following 100 / 1,000 / 5,000 accounts: p50/p95/p99 for one client, and
    throughput with --concurrency clients;
 3. the same pages from the pull query (`author_id IN (following) ORDER BY id DESC LIMIT 20`
    on the (author_id, id) index), raw SQL and through the selector with the policy, next to
    the Redis path through the selector: the ratio pull : fan-out is the headline;
 4. a bare authenticated DRF endpoint (fixed small JSON) on the same server, same run;
 5. search p50/p95 (users and posts; typos, prefixes, Arabic/Arabizi) through the selector
    and over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "daira_bench_feeds"
REPORT = ROOT / "bench" / "reports" / "feeds.json"
BENCH_SECRET = "bench-feeds-not-a-secret-" + "k" * 40  # tokens minted here must verify in the server
BENCH_WORKER = 4095  # snowflake worker id reserved for rows made here
CLASSES = (100, 1_000, 5_000)

NAMES = ["mohamed", "mohammed", "ahmed", "mahmoud", "mostafa", "mona", "mariam", "nour", "omar", "youssef",
         "salma", "hana", "karim", "amr", "tarek", "habiba", "yasmin", "ali", "hassan", "khaled",
         "محمد", "أحمد", "منى", "مريم", "نور", "عمر", "يوسف", "سلمى", "حبيبة", "خالد"]
TOPICS = ["cairo", "koshary", "football", "salah", "habibi", "7abibi", "masr", "ahly", "zamalek", "mahraganat",
          "حبيبي", "مصر", "القاهرة", "كشري", "الأهلي", "الزمالك", "صلاح", "رمضان", "3ala", "gamed", "alexandria",
          "اسكندرية", "music", "diab", "molokhia", "fol", "ta3meya", "nile", "النيل", "sahel"]
QUERIES = ["mohamed", "moha", "mohamad", "mariam", "maryam", "حبيبي", "حبيبى", "7abibi", "habibi", "koshary",
           "koshari", "كشرى", "zamalek", "zamalik", "الزمالك", "cairo", "kairo", "القاهره", "salah", "mahragan",
           "ta3meya", "molokhia", "alexandria", "nour", "amr diab"]


# --- plumbing --------------------------------------------------------------------------------------
def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from daira import embedded

    return embedded.postgres_url()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _ensure_database(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def _setup_django(url: str, redis_db: int, fanout_max: int) -> None:
    os.environ["DATABASE_URL"] = _with_database(url, BENCH_DB)
    os.environ["DAIRA_REDIS_DB"] = str(redis_db)
    os.environ["FANOUT_MAX_FOLLOWERS"] = str(fanout_max)
    os.environ["DAIRA_SECRET_KEY"] = BENCH_SECRET
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")
    os.environ.setdefault("DAIRA_DEBUG", "true")
    os.environ.setdefault("DAIRA_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    # Every app: the policy's registered audience rules (wallet's subscribers) query their tables.
    call_command("migrate", verbosity=0)


def _snowflake(ms: int, seq: int, worker: int = BENCH_WORKER) -> int:
    from daira.lib import ids

    return ((ms - ids.DAIRA_EPOCH_MS) << ids.TIMESTAMP_SHIFT) | (worker << ids.WORKER_SHIFT) | (seq & ids.MAX_SEQUENCE)


def _copy_text(cursor, table: str, columns: list[str], rows, chunk: int = 50_000) -> int:
    """COPY rows (tuples of already-formatted strings) in text format."""
    count = 0
    with cursor.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(row))
            buffer.write("\n")
            count += 1
            if count % chunk == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def _template(model, now: datetime) -> tuple[list[str], dict[str, str]]:
    """Column names and default text values of every concrete field of `model`."""
    from django.db import models

    columns, defaults = [], {}
    for field in model._meta.concrete_fields:
        columns.append(f'"{field.column}"')
        if field.null:
            value = None
        else:
            value = field.get_default()
            if value is None and isinstance(field, models.DateTimeField):
                value = now
        if value is None:
            text = "\\N"
        elif isinstance(value, bool):
            text = "t" if value else "f"
        elif isinstance(value, (dict, list)):
            text = json.dumps(value)
        elif isinstance(value, datetime):
            text = value.isoformat()
        else:
            text = str(value)
        defaults[field.attname] = text
    return columns, defaults


def _rows(model, template: dict[str, str], overrides_iter):
    attnames = [f.attname for f in model._meta.concrete_fields]
    for overrides in overrides_iter:
        yield tuple(overrides.get(a, template[a]) for a in attnames)


# --- build ----------------------------------------------------------------------------------------
def _meta() -> dict | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_feeds_meta (data jsonb)")
        cursor.execute("SELECT data FROM bench_feeds_meta LIMIT 1")
        row = cursor.fetchone()
    if not row:
        return None
    return row[0] if isinstance(row[0], dict) else json.loads(row[0])


def _build(args) -> dict:
    import numpy as np
    from django.db import connection, transaction

    from accounts.models import Profile, User
    from content.models import Post
    from feeds.models import SearchDocument
    from feeds.search import index_text
    from daira.lib.text import normalize_for_match
    from social.models import Follow

    rng = np.random.default_rng(args.seed)
    pyrng = random.Random(args.seed)
    now = datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    started = time.perf_counter()

    def lap(label):
        print(f"  {label:<28}{time.perf_counter() - started:8.1f}s", flush=True)

    print(f"building: {args.users:,} users, ~{args.follows:,} follows, {args.posts:,} posts ...", flush=True)
    n = args.users
    extra = {c: [n + i * len(CLASSES) + k for i in range(args.viewers_per_class) for k in [CLASSES.index(c)]]
             for c in CLASSES}
    fanout_author = n + args.viewers_per_class * len(CLASSES)
    total_users = fanout_author + 1
    user_ids = np.array([_snowflake(now_ms - 40 * 86_400_000 + i // 1024, i, BENCH_WORKER - 1) for i in range(total_users)],
                        dtype=np.int64)

    # follows: out-degree lognormal (mean ≈ follows/users), followee rank ~ users·U³ (power law)
    mean = args.follows / n
    degree = np.minimum(rng.lognormal(np.log(mean) - 0.5, 1.0, n).astype(np.int64) + 1, 3_000)
    follower_idx = np.repeat(np.arange(n, dtype=np.int64), degree)
    followee_idx = (n * rng.random(follower_idx.size) ** 3).astype(np.int64)
    keys = np.unique(follower_idx * total_users + followee_idx)
    follower_idx, followee_idx = keys // total_users, keys % total_users
    keep = follower_idx != followee_idx
    follower_idx, followee_idx = follower_idx[keep], followee_idx[keep]
    weights = (np.arange(n) + 1.0) ** (-2 / 3)
    weights /= weights.sum()
    extra_pairs = []
    for count, viewers in extra.items():
        for viewer in viewers:
            chosen = rng.choice(n, size=count, replace=False, p=weights)
            extra_pairs.append(np.stack([np.full(count, viewer), chosen], axis=1))
    active_cut = int(n * 0.8)  # users 0..80% active within FEED_ACTIVE_DAYS, the rest not
    fans = rng.choice(active_cut, size=args.fanout_followers, replace=False)
    extra_pairs.append(np.stack([fans, np.full(fans.size, fanout_author)], axis=1))
    extra_all = np.concatenate(extra_pairs)
    follower_idx = np.concatenate([follower_idx, extra_all[:, 0]])
    followee_idx = np.concatenate([followee_idx, extra_all[:, 1]])
    lap(f"graph generated ({follower_idx.size:,} follows)")

    bodies_pool = []
    vocab = TOPICS + NAMES + [f"w{i}" for i in range(args.vocabulary)]
    zipf = (np.arange(len(vocab)) + 1.0) ** -1.0
    rng_vocab = rng.permutation(len(vocab))  # topic words land anywhere in the frequency ranking
    zipf = zipf[np.argsort(rng_vocab)]
    zipf /= zipf.sum()
    for _ in range(args.distinct_bodies):
        words = rng.choice(len(vocab), size=int(rng.integers(5, 14)), p=zipf)
        bodies_pool.append(" ".join(vocab[w] for w in words))
    body_forms = [index_text(b) for b in bodies_pool]
    lap(f"{len(bodies_pool):,} distinct bodies indexed")

    span_ms = 30 * 86_400_000
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f'TRUNCATE "{User._meta.db_table}" CASCADE')
            cursor.execute(f'TRUNCATE "{SearchDocument._meta.db_table}"')
            for index in ("search_doc_tsv_idx", "search_doc_text_trgm_idx", "search_doc_key_trgm_idx",
                          "search_doc_popular_idx"):
                cursor.execute(f'DROP INDEX IF EXISTS "{index}"')
        raw = connection.connection
        with raw.cursor() as cursor:
            columns, template = _template(User, now)
            active_at = [(now - timedelta(days=pyrng.uniform(0, 10))).isoformat() if i < active_cut or i >= n
                         else (now - timedelta(days=30 + pyrng.uniform(0, 30))).isoformat() for i in range(total_users)]
            handles = [f"bench{i}" for i in range(n)] + [f"viewer{i}" for i in range(n, fanout_author)] + ["bench_fanout"]
            _copy_text(cursor, User._meta.db_table, columns, _rows(User, template, (
                {"id": str(int(user_ids[i])), "handle": handles[i], "password": "!", "last_active_at": active_at[i]}
                for i in range(total_users))))
            lap("users")
            columns, template = _template(Profile, now)
            display = [f"{pyrng.choice(NAMES)} {pyrng.choice(NAMES)}" for _ in range(total_users)]
            _copy_text(cursor, Profile._meta.db_table, columns, _rows(Profile, template, (
                {"user_id": str(int(user_ids[i])), "display_name": _esc(display[i]),
                 "bio": _esc(" ".join(pyrng.choices(TOPICS, k=3)))} for i in range(total_users))))
            lap("profiles")
            columns, template = _template(Follow, now)
            base_ms = now_ms - 35 * 86_400_000
            follow_uids_a, follow_uids_b = user_ids[follower_idx], user_ids[followee_idx]
            now_text = now.isoformat()
            _copy_text(cursor, Follow._meta.db_table, ["id", "follower_id", "followee_id", "created_at"], (
                (str(_snowflake(base_ms + i // 1024, i, BENCH_WORKER - 2)), str(int(a)), str(int(b)), now_text)
                for i, (a, b) in enumerate(zip(follow_uids_a, follow_uids_b))))
            lap("follows")
            columns, template = _template(Post, now)
            authors = rng.integers(0, n, args.posts)
            bodies = rng.integers(0, len(bodies_pool), args.posts)
            step = span_ms / max(1, args.posts)
            post_ids = [_snowflake(now_ms - span_ms + int(i * step), i) for i in range(args.posts)]

            def post_rows():
                from daira.lib import ids as _ids

                for i in range(args.posts):
                    at = _ids.id_timestamp(post_ids[i]).isoformat()
                    yield {"id": str(post_ids[i]), "author_id": str(int(user_ids[authors[i]])),
                           "body": _esc(bodies_pool[bodies[i]]), "created_at": at, "published_at": at, "announced_at": at}

            _copy_text(cursor, Post._meta.db_table, columns, _rows(Post, template, post_rows()))
            lap("posts")
            doc_columns = ["kind", "object_id", "owner_id", "key", "text", "popularity", "updated_at"]
            _copy_text(cursor, SearchDocument._meta.db_table, doc_columns, (
                ("user", str(int(user_ids[i])), str(int(user_ids[i])), _esc(normalize_for_match(handles[i])),
                 _esc(index_text(handles[i], display[i])), "0", now_text) for i in range(total_users)))
            search_posts = min(args.posts, args.search_posts)
            _copy_text(cursor, SearchDocument._meta.db_table, doc_columns, (
                ("post", str(post_ids[i]), str(int(user_ids[authors[i]])), "", _esc(body_forms[bodies[i]]), "0", now_text)
                for i in range(search_posts)))
            lap(f"search documents ({total_users + search_posts:,})")
        with connection.cursor() as cursor:
            cursor.execute(f'''UPDATE "{Profile._meta.db_table}" p SET followers_count = c.n FROM (
                SELECT followee_id, count(*) n FROM "{Follow._meta.db_table}" GROUP BY followee_id) c
                WHERE c.followee_id = p.user_id''')
            cursor.execute(f'''UPDATE "{Profile._meta.db_table}" p SET following_count = c.n FROM (
                SELECT follower_id, count(*) n FROM "{Follow._meta.db_table}" GROUP BY follower_id) c
                WHERE c.follower_id = p.user_id''')
            cursor.execute(f'''UPDATE "{Profile._meta.db_table}" p SET posts_count = c.n FROM (
                SELECT author_id, count(*) n FROM "{Post._meta.db_table}" GROUP BY author_id) c
                WHERE c.author_id = p.user_id''')
            cursor.execute(f'''UPDATE "{SearchDocument._meta.db_table}" d SET popularity = p.followers_count
                FROM "{Profile._meta.db_table}" p WHERE d.kind = 'user' AND p.user_id = d.object_id''')
            cursor.execute(f'''UPDATE "{SearchDocument._meta.db_table}" SET tsv = to_tsvector('simple', key || ' ' || text)''')
            lap("counts and tsvectors")
            table = SearchDocument._meta.db_table
            cursor.execute(f'CREATE INDEX "search_doc_tsv_idx" ON "{table}" USING gin ("tsv")')
            cursor.execute(f'CREATE INDEX "search_doc_text_trgm_idx" ON "{table}" USING gin ("text" gin_trgm_ops)')
            cursor.execute(f'CREATE INDEX "search_doc_key_trgm_idx" ON "{table}" USING gin ("key" gin_trgm_ops)')
            cursor.execute(f'CREATE INDEX "search_doc_popular_idx" ON "{table}" ("kind", "popularity" DESC, "object_id" DESC)')
            lap("search indexes")
            meta = {"users": args.users, "follows": args.follows, "posts": args.posts, "seed": args.seed,
                    "viewers_per_class": args.viewers_per_class, "fanout_followers": args.fanout_followers,
                    "search_posts": search_posts, "vocabulary": args.vocabulary, "distinct_bodies": args.distinct_bodies,
                    "follow_rows": int(follower_idx.size)}
            cursor.execute("DROP TABLE IF EXISTS bench_feeds_meta")
            cursor.execute("CREATE TABLE bench_feeds_meta (data jsonb)")
            cursor.execute("INSERT INTO bench_feeds_meta VALUES (%s)", [json.dumps(meta)])
    with connection.cursor() as cursor:
        for model in (User, Profile, Follow, Post, SearchDocument):
            cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
    lap("vacuum analyze")
    return meta


def _ensure_search_terms() -> None:
    """The typo vocabulary (feeds.SearchTerm) from the loaded index, once (the indexer fills
    it document by document; COPY bypassed it)."""
    from django.db import connection

    from feeds.models import SearchDocument, SearchTerm

    if SearchTerm.objects.exists():
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{SearchTerm._meta.db_table}" (word) SELECT left(word, 100) FROM '
            f"ts_stat('SELECT tsv FROM \"{SearchDocument._meta.db_table}\"') ON CONFLICT DO NOTHING"
        )
        cursor.execute(f'CREATE INDEX IF NOT EXISTS "search_doc_popular_idx" ON "{SearchDocument._meta.db_table}" '
                       '("kind", "popularity" DESC, "object_id" DESC)')
        cursor.execute(f'ANALYZE "{SearchTerm._meta.db_table}"')
    print(f"  search vocabulary built in {time.perf_counter() - started:.1f}s", flush=True)


# --- measuring ------------------------------------------------------------------------------------
def _stats(samples_ms: list[float]) -> dict:
    ordered = sorted(samples_ms)

    def pct(p):
        return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 3)

    return {"n": len(ordered), "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
            "mean_ms": round(statistics.fmean(ordered), 3)}


def _time_calls(fn, items, repeat: int) -> list[float]:
    for item in items:
        fn(item)  # warm caches and connections
    samples = []
    for r in range(repeat):
        for item in items:
            t = time.perf_counter()
            fn(item)
            samples.append((time.perf_counter() - t) * 1000)
    return samples


def _fanout(args) -> dict:
    from content.models import Post
    from daira.lib import ids
    from daira.lib.redis import get_redis
    from feeds import services, timelines
    from social import selectors as social_selectors
    from accounts.models import User

    author = User.objects.get(handle="bench_fanout")
    client = get_redis()
    followers = list(social_selectors.follower_ids(author.pk))
    runs = []
    for _ in range(args.fanout_runs):
        with client.pipeline(transaction=False) as pipe:  # warm feeds: fan-out writes only existing ones
            for uid in followers:
                pipe.zadd(timelines.home_key(uid), {timelines.EMPTY_MARKER: 0})
            pipe.execute()
        post = Post.objects.create(id=ids.next_id(), author=author, body="fan-out bench", announced_at=datetime.now(UTC))
        started = time.perf_counter()
        delivered = services.home_feeds_push(post_id=post.pk)
        elapsed = time.perf_counter() - started
        runs.append({"wall_s": round(elapsed, 4), "delivered": delivered,
                     "deliveries_per_s": round(delivered / elapsed) if elapsed else None})
    best = min(runs, key=lambda r: r["wall_s"])
    return {"followers": len(followers), "runs": runs, "best_wall_s": best["wall_s"],
            "median_wall_s": statistics.median(r["wall_s"] for r in runs),
            "note": "deliveries = followers active within FEED_ACTIVE_DAYS whose feed exists (all warmed here)"}


def _viewers() -> dict[int, list]:
    from accounts.models import User
    from social.models import Follow

    viewers = {}
    for user in User.objects.filter(handle__startswith="viewer").order_by("pk"):
        count = Follow.objects.filter(follower=user).count()
        viewers.setdefault(count, []).append(user)
    return {c: viewers.get(c, []) for c in CLASSES}


def _in_process(viewers: dict[int, list], repeat: int) -> dict:
    from django.db import connection

    from content.models import Post
    from feeds import selectors, services
    from social.models import Follow

    out = {}
    for count, users in viewers.items():
        for user in users:
            services.home_feed_rebuild(user_id=user.pk, force=True)
        following = {u.pk: list(Follow.objects.filter(follower=u).values_list("followee_id", flat=True)) for u in users}

        def redis_page(user):
            return selectors.home_feed(viewer=user, limit=20).items

        def pull_selector(user):
            return selectors.home_pull_page(viewer=user, limit=20).items

        # The headline comparison, like for like: the page of 20 ids each way (the pull query
        # with its best index vs the merge in Redis of the feed and the big accounts' sets),
        # and the same page of rows each way (+ one primary-key query on the fan-out side).
        table = Post._meta.db_table

        def pull_raw(user):
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT id FROM "{table}" WHERE author_id = ANY(%s) ORDER BY id DESC LIMIT 20',
                               [following[user.pk]])
                return cursor.fetchall()

        def pull_raw_rows(user):
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT id, author_id, body FROM "{table}" WHERE author_id = ANY(%s) '
                               f'ORDER BY id DESC LIMIT 20', [following[user.pk]])
                return cursor.fetchall()

        from daira.lib.redis import get_redis
        from feeds import timelines
        from social import policy
        from content import selectors as content_selectors

        client = get_redis()
        big = {u.pk: selectors.big_following_ids(u.pk) for u in users}

        def fanout_raw(user):
            entries, _ = selectors._fetch_entries(client, timelines.home_key(user.pk), big[user.pk], None, 20)
            return [e.post_id for e in entries]

        def fanout_raw_rows(user):
            ids = fanout_raw(user)
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT id, author_id, body FROM "{table}" WHERE id = ANY(%s)', [ids])
                return cursor.fetchall()

        compiled = {}

        def fanout_policy_sql(user):
            # Same, with the full visibility policy as SQL (compiled once per viewer beforehand):
            # what the selector costs minus Django's per-call query building (its first batch: 21).
            entries, _ = selectors._fetch_entries(client, timelines.home_key(user.pk), big[user.pk], None, 21)
            ids = [e.post_id for e in entries]
            if user.pk not in compiled:
                qs = content_selectors.post_list_visible_to(viewer=user).filter(
                    pk__in=ids).filter(policy.exclude_muted_q(user)).values_list("id", "author_id", "body")
                compiled[user.pk] = qs.query.sql_with_params()
            sql, params = compiled[user.pk]
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()

        assert all(redis_page(u) for u in users)
        with connection.cursor() as cursor:
            cursor.execute(f'EXPLAIN (ANALYZE, BUFFERS) SELECT id FROM "{Post._meta.db_table}" '
                           f'WHERE author_id = ANY(%s) ORDER BY id DESC LIMIT 20', [following[users[0].pk]])
            plan = [r[0] for r in cursor.fetchall()]
        redis_stats = _stats(_time_calls(redis_page, users, repeat))
        pull_sel = _stats(_time_calls(pull_selector, users, repeat))
        raw = _stats(_time_calls(pull_raw, users, repeat))
        fan_raw = _stats(_time_calls(fanout_raw, users, repeat))
        raw_rows = _stats(_time_calls(pull_raw_rows, users, repeat))
        fan_raw_rows = _stats(_time_calls(fanout_raw_rows, users, repeat))
        fan_policy = _stats(_time_calls(fanout_policy_sql, users, repeat))
        out[str(count)] = {
            "viewers": len(users),
            "fanout_selector": redis_stats,
            "pull_selector": pull_sel,
            "pull_raw_sql": raw,
            "fanout_raw_ids": fan_raw,
            "pull_raw_rows": raw_rows,
            "fanout_raw_rows": fan_raw_rows,
            "fanout_policy_sql": fan_policy,
            "ratio_pull_raw_to_fanout_raw_p50": round(raw["p50_ms"] / fan_raw["p50_ms"], 2),
            "ratio_pull_rows_to_fanout_rows_p50": round(raw_rows["p50_ms"] / fan_raw_rows["p50_ms"], 2),
            "ratio_pull_selector_to_fanout_p50": round(pull_sel["p50_ms"] / redis_stats["p50_ms"], 2),
            "ratio_pull_raw_to_fanout_p50": round(raw["p50_ms"] / redis_stats["p50_ms"], 2),
            "pull_raw_plan": plan,
        }
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(args, port: int) -> subprocess.Popen:
    env = dict(os.environ)
    from django.conf import settings

    env.update({
        "DAIRA_DEBUG": "false", "DAIRA_SECRET_KEY": BENCH_SECRET, "DAIRA_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": settings.REDIS_URL,
        "DAIRA_DB_CONN_MAX_AGE": str(args.conn_max_age), "DAIRA_LOG_LEVEL": "WARNING",
    })
    command = [sys.executable, "-m", "uvicorn", "bench.feeds_asgi:application", "--host", "127.0.0.1", "--port",
               str(port), "--workers", str(args.workers), "--no-access-log", "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    import httpx

    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/bench/ping", timeout=1).status_code == 401:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("server did not start")


def _http(args, viewers: dict[int, list], search_only: bool = False) -> dict:
    """Home pages, the bare endpoint and search over HTTP, sent by bench/loadgen.py (a raw
    keep-alive client that costs tens of microseconds per request, so the 2 cores measure the
    server, not the client); every figure also gives the server's CPU per request."""
    from accounts.tests.factories import access_token_for
    from bench.loadgen import Request, run_load

    tokens = {u.pk: access_token_for(u) for users in viewers.values() for u in users}
    port = _free_port()
    server = _start_server(args, port)
    try:
        def get(path: str, user) -> Request:
            return Request("GET", path, {"Authorization": f"Bearer {tokens[user.pk]}"})

        def check(request, response) -> None:
            assert response.status == 200, response.body[:200]

        def measure(jobs: list[Request], concurrency: int) -> dict:
            return asyncio.run(run_load("127.0.0.1", port, jobs, concurrency, on_response=check,
                                        server_pid=server.pid))

        def single_and_load(path: str, users: list) -> dict:
            measure([get(path, u) for u in users] * 2, 1)  # warm: connections, caches, feeds built
            return {
                "single_client": measure([get(path, u) for _ in range(args.http_repeat) for u in users], 1),
                f"concurrency_{args.concurrency}": measure(
                    [get(path, users[i % len(users)]) for i in range(args.load_requests)], args.concurrency),
            }

        results = {"server": {"workers": args.workers, "conn_max_age": args.conn_max_age, "debug": False},
                   "home": {}}
        all_users = [u for users in viewers.values() for u in users]
        for count, users in ([] if search_only else viewers.items()):
            results["home"][str(count)] = single_and_load("/api/v1/feeds/home?limit=20", users)
        results["bare_drf"] = {} if search_only else single_and_load("/api/v1/bench/ping", all_users)
        if not search_only:
            feed_rps = min(v[f"concurrency_{args.concurrency}"]["rps"] for v in results["home"].values())
            bare_rps = results["bare_drf"][f"concurrency_{args.concurrency}"]["rps"]
            results["feed_rps_min_over_bare_rps"] = round(feed_rps / bare_rps, 3)

        def search_path(i: int) -> str:
            return f"/api/v1/search?type={'users' if i % 2 else 'posts'}&q={quote(QUERIES[i % len(QUERIES)])}"

        searcher = all_users[0]
        measure([get(search_path(i), searcher) for i in range(len(QUERIES) * 2)], 1)
        searches = [get(search_path(i), searcher) for i in range(len(QUERIES) * 2 * args.search_repeat)]
        results["search_http"] = measure(searches, 1)
        results[f"search_http_concurrency_{args.concurrency}"] = measure(
            [get(search_path(i), all_users[i % len(all_users)]) for i in range(args.load_requests)], args.concurrency)
        return results
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _search_in_process(viewer, repeat: int) -> dict:
    from feeds import selectors

    out = {}
    for kind in ("users", "posts"):
        samples = []
        hits = {}
        for q in QUERIES:
            hits[q] = len(getattr(selectors.search(viewer=viewer, query=q, type=kind, limit=20), kind))
        for _ in range(repeat):
            for q in QUERIES:
                t = time.perf_counter()
                selectors.search(viewer=viewer, query=q, type=kind, limit=20)
                samples.append((time.perf_counter() - t) * 1000)
        out[kind] = {**_stats(samples), "hits_per_query": hits}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--follows", type=int, default=5_000_000)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--search-posts", type=int, default=1_000_000, help="posts put in the search index")
    parser.add_argument("--vocabulary", type=int, default=20_000, help="synthetic words besides the real ones")
    parser.add_argument("--distinct-bodies", type=int, default=50_000)
    parser.add_argument("--viewers-per-class", type=int, default=5)
    parser.add_argument("--fanout-followers", type=int, default=10_000)
    parser.add_argument("--fanout-max", type=int, default=10_000, help="FANOUT_MAX_FOLLOWERS")
    parser.add_argument("--fanout-runs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20, help="in-process repetitions per viewer")
    parser.add_argument("--http-repeat", type=int, default=40)
    parser.add_argument("--load-requests", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--conn-max-age", type=int, default=60)
    parser.add_argument("--search-repeat", type=int, default=4)
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--only-search", action="store_true", help="just the search figures (in process and HTTP)")
    parser.add_argument("--only-home-in-process", action="store_true",
                        help="just figure 3: the home pages in process, fan-out vs pull (minutes, not the full run)")
    parser.add_argument("--report", default=str(REPORT), help="where to write the JSON report")
    args = parser.parse_args()
    args.search_posts = min(args.search_posts, args.posts)
    if args.only_search and args.only_home_in_process:
        parser.error("--only-search and --only-home-in-process exclude each other")

    url = _server_url()
    _ensure_database(url)
    _setup_django(url, args.redis_db, args.fanout_max)
    from daira.lib.redis import get_redis

    meta = _meta()
    wanted = {"users": args.users, "follows": args.follows, "posts": args.posts, "seed": args.seed,
              "viewers_per_class": args.viewers_per_class, "fanout_followers": args.fanout_followers,
              "search_posts": args.search_posts, "vocabulary": args.vocabulary, "distinct_bodies": args.distinct_bodies}
    build_s = None
    if args.rebuild or not meta or any(meta.get(k) != v for k, v in wanted.items()):
        started = time.perf_counter()
        meta = _build(args)
        build_s = round(time.perf_counter() - started, 1)
    get_redis().flushdb()
    _ensure_search_terms()

    from django.db import connection

    from accounts.models import Profile

    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{Profile._meta.db_table}" WHERE followers_count > %s', [args.fanout_max])
        big_accounts = cursor.fetchone()[0]
        cursor.execute(f'SELECT max(followers_count) FROM "{Profile._meta.db_table}"')
        max_followers = cursor.fetchone()[0]

    viewers = _viewers()
    fanout = in_process = search = http = None
    if not args.only_search and not args.only_home_in_process:
        print("fan-out ...", flush=True)
        fanout = _fanout(args)
        print(json.dumps({k: v for k, v in fanout.items() if k != "runs"}), flush=True)
    if not args.only_search:
        print("in-process home pages ...", flush=True)
        in_process = _in_process(viewers, args.repeat)
        print(json.dumps({c: {k: v for k, v in r.items() if k != "pull_raw_plan"} for c, r in in_process.items()},
                         indent=1), flush=True)
    if not args.only_home_in_process:
        print("search in process ...", flush=True)
        search = _search_in_process(viewers[CLASSES[0]][0], args.search_repeat)
        print(json.dumps(search, indent=1), flush=True)
    if not args.skip_http and not args.only_home_in_process:
        print("HTTP (uvicorn) ...", flush=True)
        http = _http(args, viewers, search_only=args.only_search)
        print(json.dumps(http, indent=1), flush=True)

    report = {
        "benchmark": "feeds",
        "when": datetime.now(UTC).isoformat(),
        "command": " ".join([sys.executable.replace(str(ROOT) + "/", ""), *sys.argv]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "data": {**meta, "build_seconds": build_s, "accounts_above_fanout_max": big_accounts,
                 "max_followers": max_followers},
        "fanout": fanout,
        "home_in_process": in_process,
        "search_in_process": search,
        "http": http,
    }
    report_path = Path(args.report)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2, default=str))
    print(f"report: {report_path}")


if __name__ == "__main__":
    main()
