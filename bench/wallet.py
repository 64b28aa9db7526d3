"""Benchmark: gifts through the real server (issue 12, Performance).

Scenarios, each through uvicorn serving daira.asgi over HTTP (POST /api/v1/wallet/gifts,
Bearer JWT, Idempotency-Key), fired concurrently by bench/loadgen.py's keep-alive client:

  hot     1,000 concurrent gifts from 1,000 fans to ONE creator (the hot account: its
          earnings are WALLET_EARNINGS_SHARDS rows, the platform's accounts
          WALLET_PLATFORM_SHARDS rows)
  spread  10,000 gifts from the same fans to 1,000 creators
  bare    the same number of requests as `hot` to a bare authenticated DRF endpoint
          (/api/v1/bench/ping, bench/feeds_urls.py) on the same server: the ceiling any
          authenticated request has on this machine, reported next to the gifts

First an unmeasured warm-up (300 balance reads and --warmup-gifts gifts to another creator),
so every server thread has its connection and prepared statements, as a running server has.
For each: throughput (gifts/s), latency p50/p95/p99, errors, CPU per gift of the server, of
Postgres and of the whole machine; afterwards the ledger is
checked: every transfer sums to zero, every balance equals the sum of its lines, no user
balance is negative, balances sum to zero per currency, and the creators' earnings equal
what the successful gifts promised (nothing lost, nothing duplicated).

Run by hand (never in the test suite):

    DAIRA_DEBUG=true .venv/bin/python bench/wallet.py
    DAIRA_DEBUG=true .venv/bin/python bench/wallet.py --workers 4 --concurrency 32 --shards 8

It uses its own database (`daira_bench_wallet`, rebuilt each run) on the same Postgres
server (embedded by default, or DATABASE_URL's server). Writes bench/reports/wallet.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "daira_bench_wallet"
# Tokens are minted here and checked by the server: both must sign with the same key.
SECRET_KEY = "bench-only-secret-key-not-for-production-use-0123456789"
REPORT = ROOT / "bench" / "reports" / "wallet.json"  # wallet-pool.json with --pool


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from daira import embedded

    return embedded.postgres_url()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _recreate_database(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def _redis_url() -> str:
    """One Redis db for this process and the server's workers: snowflake worker ids are leased
    from a counter there, and test runs FLUSHDB their own dbs (a reset counter would hand two
    live processes the same worker id, and their ids would collide)."""
    from daira import embedded

    return os.environ.get("REDIS_URL") or embedded.redis_url(db=15)


def _setup_django(db_url: str, shards: int) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ["REDIS_URL"] = _redis_url()
    os.environ["DAIRA_WALLET_EARNINGS_SHARDS"] = str(shards)
    os.environ["DAIRA_SECRET_KEY"] = SECRET_KEY
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")
    os.environ.setdefault("DAIRA_DEBUG", "true")
    os.environ.setdefault("DAIRA_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    for app in ("accounts", "social", "wallet"):  # what a gift touches; other apps may be mid-change
        call_command("migrate", app, verbosity=0)


def _make_users(prefix: str, count: int) -> list:
    from accounts.models import Profile, User, UserSettings

    users = User.objects.bulk_create([User(handle=f"{prefix}{i}", password="!") for i in range(count)], batch_size=1000)
    Profile.objects.bulk_create([Profile(user=u) for u in users], batch_size=1000)
    UserSettings.objects.bulk_create([UserSettings(user=u) for u in users], batch_size=1000)
    return users


def _fund(fans: list, coins: int) -> None:
    from wallet import ledger
    from wallet.ledger import Line
    from wallet.models import AccountKind, Transfer

    price = coins * 15
    lines = [Line(ledger.platform_account(AccountKind.PROVIDER_CLEARING, provider="sandbox", shard=0), -price * len(fans)),
             Line(ledger.platform_account(AccountKind.COIN_FLOAT, shard=0), price * len(fans)),
             Line(ledger.platform_account(AccountKind.COIN_ISSUANCE, shard=0), -coins * len(fans))]
    lines += [Line(ledger.user_account(fan.pk, AccountKind.COIN_BALANCE), coins) for fan in fans]
    ledger.transfer_post(key="bench-funding", kind=Transfer.Kind.COIN_PURCHASE, lines=lines)


def _tokens(fans: list) -> dict[int, str]:
    from accounts.tests.factories import access_token_for

    return {fan.pk: access_token_for(fan) for fan in fans}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(db_url: str, port: int, workers: int, shards: int, pool: bool = False,
                  asgi: str = "daira") -> subprocess.Popen:
    # Production-like: DEBUG off (no query log); Redis: see _redis_url.
    # Connections: the project's defaults (persistent, one per request thread of daira/lib/asgi.py).
    env = dict(os.environ, DATABASE_URL=db_url, DAIRA_LOG_LEVEL="WARNING",
               DAIRA_WALLET_EARNINGS_SHARDS=str(shards), DAIRA_ALLOWED_HOSTS="127.0.0.1,localhost",
               DAIRA_DEBUG="false", DAIRA_SECRET_KEY=SECRET_KEY,
               REDIS_URL=_redis_url())
    # The project's settings plus the bare endpoint (bench/feeds_settings.py); --pool adds the pool.
    env["DJANGO_SETTINGS_MODULE"] = "bench.wallet_settings" if pool else "bench.feeds_settings"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", {"daira": "daira.asgi", "stock": "bench.stock_asgi"}[asgi] + ":application",
         "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "60"],
        cwd=ROOT, env=env,
    )
    import httpx

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.terminate()
    raise SystemExit("the server did not start")


async def _fire(port: int, jobs: list[tuple[str, int, str]], concurrency: int, server_pid: int | None = None) -> dict:
    """jobs: (token, creator_id, key). Returns throughput, latencies and outcomes.

    Fired with bench/loadgen.py's raw keep-alive client, so the client's CPU (it shares the
    machine) stays small next to the server's. A dropped connection is retried with the SAME
    Idempotency-Key, as a client would; the server must not gift twice (checked after)."""
    from bench.loadgen import Request, run_load

    requests = [
        Request.json("POST", "/api/v1/wallet/gifts", {"gift": "rose", "creator_id": creator_id},
                     headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
        for token, creator_id, key in jobs
    ]
    result = await run_load("127.0.0.1", port, requests, concurrency, server_pid=server_pid)
    result["gifts_per_s"] = round(result["statuses"].get("201", 0) / result["wall_s"], 1) if result["wall_s"] else 0.0
    return result


def _check(expected_gifts: int) -> dict:
    from django.conf import settings
    from django.db.models import Sum

    from wallet import ledger
    from wallet.models import AccountKind, Gift

    creator_part = settings.WALLET_COIN_VALUE_PIASTRES * (100 - settings.WALLET_PLATFORM_SHARE_PERCENT) // 100
    earnings = ledger.Account.objects.filter(kind=AccountKind.EARNINGS).aggregate(total=Sum("balance"))["total"] or 0
    return {
        "invariant_violations": ledger.invariant_violations(),
        "gifts_recorded": Gift.objects.count(),
        "gifts_expected": expected_gifts,
        "earnings_piastres": int(earnings),
        "earnings_expected": expected_gifts * creator_part,
    }


def _service_scenario(fans: list, creator, count: int, threads: int, shards: int) -> dict:
    """The hot account without HTTP: `threads` threads call gift_send for one creator with
    every earnings/platform account split into `shards` rows (1 = no sharding)."""
    import threading

    from django.conf import settings
    from django.db import connection

    from wallet import ledger, services

    settings.DEBUG = False  # no query log in this long-running process
    settings.WALLET_EARNINGS_SHARDS = settings.WALLET_PLATFORM_SHARDS = shards
    ledger.clear_cache()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    per_thread = count // threads

    def work(t: int) -> None:
        try:
            for i in range(per_thread):
                fan = fans[(t * per_thread + i) % len(fans)]
                started = time.perf_counter()
                services.gift_send(sender=fan, gift_code="rose", creator_id=creator.pk,
                                   idempotency_key=f"svc-{shards}-{t}-{i}")
                with lock:
                    latencies.append(time.perf_counter() - started)
        except Exception as exc:  # reported, not hidden
            errors.append(repr(exc))
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {"shards": shards, "threads": threads, "gifts": len(latencies), "wall_s": round(wall, 2),
            "gifts_per_s": round(len(latencies) / wall, 1),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1) if latencies else None,
            "errors": errors[:5]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fans", type=int, default=1000)
    parser.add_argument("--creators", type=int, default=1000)
    parser.add_argument("--hot", type=int, default=1000)
    parser.add_argument("--spread", type=int, default=10000)
    parser.add_argument("--warmup-gifts", type=int, default=500, help="unmeasured gifts to another creator first")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (each holds a DB connection)")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--pool", action="store_true", help="serve with Django's psycopg connection pool")
    parser.add_argument("--asgi", choices=["daira", "stock"], default="daira",
                        help="daira.asgi (pooled threads, the platform's) or Django's stock ASGIHandler")
    parser.add_argument("--service-gifts", type=int, default=2000, help="per sharding setting; 0 to skip")
    parser.add_argument("--service-threads", type=int, default=16)
    args = parser.parse_args()

    server = _server_url()
    _recreate_database(server)
    db_url = _with_database(server, BENCH_DB)
    _setup_django(db_url, args.shards)

    print(f"setting up {args.fans} fans and {args.creators} creators ...", flush=True)
    fans = _make_users("fan", args.fans)
    creators = _make_users("creator", args.creators)
    _fund(fans, coins=100)
    tokens = _tokens(fans)
    port = _free_port()
    process = _start_server(db_url, port, args.workers, args.shards, pool=args.pool, asgi=args.asgi)
    report: dict = {
        "when": datetime.now(UTC).isoformat(), "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                        "load_average_at_start": os.getloadavg()},
        "params": vars(args),
    }
    try:
        # Warm-up (not measured): every worker process and thread opens its connections.
        from bench.loadgen import Request, run_load

        # Gifts too (to a creator not measured), so each thread's connection has prepared the
        # gift path's statements as a long-running server would have.
        warm = [Request("GET", "/api/v1/wallet/balances", {"Authorization": f"Bearer {tokens[fan.pk]}"}) for fan in fans[:300]]
        report["warmup"] = asyncio.run(run_load("127.0.0.1", port, warm, args.concurrency, server_pid=process.pid))
        warm_gifts = [(tokens[fans[i % len(fans)].pk], creators[-1].pk, f"warm-{i}") for i in range(args.warmup_gifts)]
        report["warmup_gifts"] = asyncio.run(_fire(port, warm_gifts, args.concurrency, process.pid))
        warmed = report["warmup_gifts"]["statuses"].get("201", 0)
        print(f"warm-up: {report['warmup']['statuses']}, gifts {report['warmup_gifts']['statuses']}", flush=True)
        hot_creator = creators[0]
        jobs = [(tokens[fans[i % len(fans)].pk], hot_creator.pk, f"hot-{i}") for i in range(args.hot)]
        print(f"hot: {len(jobs)} concurrent gifts to one creator ...", flush=True)
        report["hot"] = asyncio.run(_fire(port, jobs, args.concurrency, process.pid))
        report["hot"]["check"] = _check(warmed + report["hot"]["statuses"].get("201", 0))
        print(json.dumps(report["hot"], indent=2), flush=True)

        bare = [Request("GET", "/api/v1/bench/ping", {"Authorization": f"Bearer {tokens[fans[i % len(fans)].pk]}"})
                for i in range(args.hot)]
        print(f"bare: {len(bare)} requests to /api/v1/bench/ping ...", flush=True)
        report["bare"] = asyncio.run(run_load("127.0.0.1", port, bare, args.concurrency, server_pid=process.pid))
        if report["bare"]["rps"]:
            report["hot_gifts_per_s_over_bare_rps"] = round(report["hot"]["gifts_per_s"] / report["bare"]["rps"], 3)
        print(json.dumps(report["bare"], indent=2), flush=True)

        rng = random.Random(12)
        jobs = [(tokens[fans[i % len(fans)].pk], rng.choice(creators).pk, f"spread-{i}") for i in range(args.spread)]
        print(f"spread: {len(jobs)} gifts over {len(creators)} creators ...", flush=True)
        report["spread"] = asyncio.run(_fire(port, jobs, args.concurrency, process.pid))
        report["spread"]["check"] = _check(warmed + report["hot"]["statuses"].get("201", 0)
                                           + report["spread"]["statuses"].get("201", 0))
        print(json.dumps(report["spread"], indent=2), flush=True)
    finally:
        process.terminate()
        process.wait(timeout=30)
    if args.service_gifts:
        # Same machine, no HTTP: the ledger's hot-account behaviour with and without shards.
        report["service_hot_creator"] = []
        for shards in (1, args.shards):
            print(f"service: {args.service_gifts} gifts to one creator, {args.service_threads} threads, {shards} shard(s) ...", flush=True)
            result = _service_scenario(fans, creators[1], args.service_gifts, args.service_threads, shards)
            print(json.dumps(result), flush=True)
            report["service_hot_creator"].append(result)
        report["service_check"] = _check(sum(int(str(k) == "201") and v for part in ("warmup_gifts", "hot", "spread")
                                             for k, v in report.get(part, {}).get("statuses", {}).items())
                                         + sum(r["gifts"] for r in report["service_hot_creator"]))
        print(json.dumps(report["service_check"]), flush=True)
    report["machine"]["load_average_at_end"] = os.getloadavg()  # the machine is shared: read figures with it
    path = REPORT.with_name("wallet-pool.json") if args.pool else REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"report: {path}")


if __name__ == "__main__":
    main()
