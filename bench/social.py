"""Benchmark: the follower list of an account with 1,000,000 followers (issue 4, Scale).

Claim under test: reading ANY page of the follower list costs the same as the first page
(cursor on the `(followee_id, id)` index, no OFFSET), and follow/unfollow stay O(1) on
that account.

Run by hand (never in the test suite):

    DAIRA_DEBUG=true .venv/bin/python bench/social.py                 # 1,000,000 followers
    DAIRA_DEBUG=true .venv/bin/python bench/social.py --followers 100000 --rebuild

It uses its own database (`daira_bench_social`) on the same Postgres server (embedded
by default, or the server of DATABASE_URL), migrates only `social` and what it depends
on, loads users, profiles and follows with COPY (once; reused on later runs unless
--rebuild), then times the first page, a middle page and the last page through the
selector and through the REST endpoint, and follow + unfollow on the big account.
Writes bench/reports/social.json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "daira_bench_social"
STAR_HANDLE = "bench_star"
REPORT = ROOT / "bench" / "reports" / "social.json"


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
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = _with_database(url, BENCH_DB)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")
    os.environ.setdefault("DAIRA_DEBUG", "true")
    os.environ.setdefault("DAIRA_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    for app in ("accounts", "social"):  # social only needs accounts; other apps may be mid-change
        call_command("migrate", app, verbosity=0)


def _row_values(model, overrides: dict, now: datetime) -> list:
    """Every concrete column of `model`, in order: overrides, else the field default."""
    from django.db import models

    values = []
    for field in model._meta.concrete_fields:
        if field.attname in overrides:
            value = overrides[field.attname]
        elif field.null:
            value = None
        else:
            value = field.get_default()
            if value is None and isinstance(field, models.DateTimeField):
                value = now
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        values.append(value)
    return values


def _build(followers: int) -> None:
    from django.db import connection, transaction

    from accounts.models import Profile, User
    from daira.lib import ids
    from social.models import Follow

    print(f"building {followers:,} followers with COPY ...", flush=True)
    started = time.perf_counter()
    now = datetime.now(UTC)
    with transaction.atomic():
        with connection.cursor() as cursor:
            for model in (Follow, Profile, User):
                cursor.execute(f'TRUNCATE "{model._meta.db_table}" CASCADE')
        star = User.objects.create_user(STAR_HANDLE, None)
        user_ids = [ids.next_id() for _ in range(followers)]
        user_columns = ", ".join(f'"{f.column}"' for f in User._meta.concrete_fields)
        profile_columns = ", ".join(f'"{f.column}"' for f in Profile._meta.concrete_fields)
        follow_columns = ", ".join(f'"{f.column}"' for f in Follow._meta.concrete_fields)
        raw = connection.connection  # psycopg 3 connection
        with raw.cursor() as cursor:
            with cursor.copy(f'COPY "{User._meta.db_table}" ({user_columns}) FROM STDIN') as copy:
                for index, user_id in enumerate(user_ids):
                    copy.write_row(
                        _row_values(
                            User, {"id": user_id, "handle": f"bench{index}", "password": "!", "last_active_at": now}, now
                        )
                    )
            print(f"  users    {time.perf_counter() - started:6.1f}s", flush=True)
            with cursor.copy(f'COPY "{Profile._meta.db_table}" ({profile_columns}) FROM STDIN') as copy:
                for user_id in user_ids:
                    copy.write_row(_row_values(Profile, {"user_id": user_id, "following_count": 1}, now))
            print(f"  profiles {time.perf_counter() - started:6.1f}s", flush=True)
            with cursor.copy(f'COPY "{Follow._meta.db_table}" ({follow_columns}) FROM STDIN') as copy:
                for user_id in user_ids:
                    copy.write_row(
                        _row_values(
                            Follow,
                            {"id": ids.next_id(), "follower_id": user_id, "followee_id": star.pk, "created_at": now},
                            now,
                        )
                    )
            print(f"  follows  {time.perf_counter() - started:6.1f}s", flush=True)
        Profile.objects.filter(user=star).update(followers_count=followers)
    with connection.cursor() as cursor:
        for model in (User, Profile, Follow):
            cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
    print(f"built in {time.perf_counter() - started:.1f}s", flush=True)


def _timings(fn, repeat: int) -> dict:
    fn()  # warm the cache and the connection
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 3),
        "min_ms": round(samples[0], 3),
        "max_ms": round(samples[-1], 3),
        "samples": repeat,
    }


def _db_execution_ms(star, viewer, cursor, limit: int, repeat: int = 10) -> float:
    """Median Postgres execution time (EXPLAIN ANALYZE) of the page query the selector runs."""
    from django.db import connection

    from daira.lib.pagination import decode_cursor
    from social import policy
    from social.models import Follow

    queryset = Follow.objects.filter(followee_id=star.pk).filter(policy.visible_users_q(viewer, "follower"))
    after = decode_cursor(cursor)
    if after is not None:
        queryset = queryset.filter(id__lt=after)
    queryset = queryset.order_by("-id").select_related("follower__profile")[: limit + 1]
    sql, params = queryset.query.sql_with_params()
    samples = []
    with connection.cursor() as db:
        for _ in range(repeat):
            db.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            samples.append(db.fetchone()[0][0]["Execution Time"])
    return round(statistics.median(samples), 3)


def _measure(repeat: int, limit: int) -> dict:
    from django.db import connection
    from rest_framework.test import APIClient

    from accounts.models import User
    from daira.lib.pagination import encode_cursor
    from social import selectors, services
    from social.models import Follow

    star = User.objects.get(handle=STAR_HANDLE)
    total = Follow.objects.filter(followee=star).count()
    ordered = Follow.objects.filter(followee=star).order_by("-id").values_list("id", flat=True)
    # Cursors for pages at several depths (found once with OFFSET: setup only, not timed).
    depths = {"first": None, "middle": total // 2, "last": max(0, total - limit)}
    cursors = {name: None if depth is None else encode_cursor(ordered[depth]) for name, depth in depths.items()}
    viewer = User.objects.exclude(pk=star.pk).order_by("-id").first()
    client = APIClient()

    results: dict = {"followers": total, "page_size": limit, "pages": {}}
    for name, cursor in cursors.items():
        page_result = {}
        for label, who in (("anonymous", None), ("logged_in", viewer)):
            page_result[f"selector_{label}"] = _timings(
                lambda who=who, cursor=cursor: selectors.follower_list(viewer=who, user=star, cursor=cursor, limit=limit).items,
                repeat,
            )
        url = f"/api/v1/users/{STAR_HANDLE}/followers?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page_result["rest_anonymous"] = _timings(lambda url=url: client.get(url), repeat)
        page = selectors.follower_list(viewer=viewer, user=star, cursor=cursor, limit=limit)
        page_result["rows"] = len(page.items)
        page_result["db_execution_ms"] = _db_execution_ms(star, viewer, cursor, limit)
        results["pages"][name] = page_result

    # The plan of the deepest page, to show it walks the index from the cursor.
    queryset = Follow.objects.filter(followee_id=star.pk, id__lt=ordered[depths["last"]]).order_by("-id")
    from social import policy

    queryset = queryset.filter(policy.visible_users_q(viewer, "follower")).select_related("follower__profile")[: limit + 1]
    with connection.cursor() as cursor:
        sql, params = queryset.query.sql_with_params()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        results["last_page_plan"] = [row[0] for row in cursor.fetchall()]

    # Follow / unfollow on the 1M account: O(1), independent of the follower count.
    newcomer = User.objects.filter(handle="bench_newcomer").first() or User.objects.create_user("bench_newcomer", None)

    def follow_unfollow():
        services.follow_create(actor=newcomer, target=star)
        services.follow_delete(actor=newcomer, target=star)

    results["follow_plus_unfollow"] = _timings(follow_unfollow, repeat)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--followers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true", help="reload the data even if it is there")
    args = parser.parse_args()

    url = _server_url()
    _ensure_database(url)
    _setup_django(url)

    from accounts.models import Profile, User

    star = User.objects.filter(handle=STAR_HANDLE).first()
    have = Profile.objects.filter(user=star).values_list("followers_count", flat=True).first() if star else None
    if args.rebuild or have != args.followers:
        _build(args.followers)
    results = _measure(args.repeat, args.limit)
    report = {
        "benchmark": "social.follower_list",
        "when": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        **results,
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "last_page_plan"}, indent=2))
    print("\n".join(report["last_page_plan"]))
    print(f"report: {REPORT}")


if __name__ == "__main__":
    main()
