"""Benchmark: live chat delivery over WebSockets across two ASGI processes (issue 9).

Opens N authenticated sockets (half on each of two uvicorn processes), then sends
messages over the sockets themselves (`message.send` frames, the full production path:
consumer -> service -> Postgres -> change log -> channels-redis -> the other process ->
recipients' sockets) in two scenarios:

- 1:1: random pairs (each pair follows each other), one recipient per message;
- group: 50-member groups, 49 recipients per message.

For each delivery it records the time from the send frame to the `message.created`
frame on the recipient's socket, and reports p50/p95/p99 latency at a paced rate, plus
the delivered messages per second of a burst. Goal (issue 9): p95 < 50 ms at 1,000 sockets.

Run by hand (never in the test suite):

    DAIRA_DEBUG=true DAIRA_REDIS_DB=7 .venv/bin/python bench/realtime.py --sockets 200 1000 2000

It uses its own database (`daira_bench_realtime`, migrated on first use) on the same
Postgres server, and the Redis db of DAIRA_REDIS_DB. Writes bench/reports/realtime.json
(`--layer pubsub`: realtime-pubsub.json, servers on channels-redis' pub/sub layer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "daira_bench_realtime"
REPORTS = ROOT / "bench" / "reports"
GROUP_SIZE = 50


def _raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(target, 65536), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from daira import embedded

    return embedded.postgres_url()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _setup(url: str) -> str:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    bench_url = _with_database(url, BENCH_DB)
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")
    os.environ.setdefault("DAIRA_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    # Only what a message send touches; apps above messaging's dependencies may be mid-change.
    for app in ("accounts", "social", "moderation", "media", "messaging"):
        call_command("migrate", app, verbosity=0)
    return bench_url


def _make_users(n: int) -> list[tuple[int, str]]:
    """n established users (older than the new-account caps) with an access token each."""
    from accounts.models import Profile, User, UserSettings
    from accounts.tests.factories import access_token_for
    from daira.lib import ids

    run = uuid.uuid4().hex[:6]
    joined = datetime.now(UTC) - timedelta(days=60)
    users = [User(id=ids.next_id(), handle=f"b{run}_{i}", date_joined=joined, password="!") for i in range(n)]
    User.objects.bulk_create(users, batch_size=1000)
    Profile.objects.bulk_create([Profile(user=u) for u in users], batch_size=1000)
    UserSettings.objects.bulk_create([UserSettings(user=u) for u in users], batch_size=1000)
    return [(u.pk, access_token_for(u)) for u in users]


def _make_conversations(user_ids: list[int]) -> tuple[list[tuple[int, int, int]], list[tuple[int, list[int]]]]:
    """1:1 pairs (conversation, a, b) over all users, and 50-member groups over all users."""
    from messaging.models import Conversation, Participant
    from social.models import Follow

    shuffled = user_ids[:]
    random.shuffle(shuffled)
    pairs, follows, participants, conversations = [], [], [], []
    for a, b in zip(shuffled[0::2], shuffled[1::2]):
        conversation = Conversation(kind="direct", direct_key=Conversation.direct_key_for(a, b), member_count=2)
        conversations.append(conversation)
        participants += [Participant(conversation=conversation, user_id=a), Participant(conversation=conversation, user_id=b)]
        follows += [Follow(follower_id=a, followee_id=b), Follow(follower_id=b, followee_id=a)]
        pairs.append((conversation, a, b))
    groups = []
    random.shuffle(shuffled)
    for start in range(0, len(shuffled) - GROUP_SIZE + 1, GROUP_SIZE):
        members = shuffled[start:start + GROUP_SIZE]
        conversation = Conversation(kind="group", name="bench", member_count=len(members))
        conversations.append(conversation)
        participants += [Participant(conversation=conversation, user_id=m, role="admin" if i == 0 else "member")
                         for i, m in enumerate(members)]
        groups.append((conversation, members))
    Conversation.objects.bulk_create(conversations, batch_size=1000)
    Participant.objects.bulk_create(participants, batch_size=2000)
    Follow.objects.bulk_create(follows, batch_size=2000, ignore_conflicts=True)
    return [(c.pk, a, b) for c, a, b in pairs], [(c.pk, m) for c, m in groups]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(port: int, database_url: str, redis_url: str, layer: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(DAIRA_DEBUG="true", DATABASE_URL=database_url, REDIS_URL=redis_url, DAIRA_LOG_LEVEL="WARNING",
               DAIRA_DB_CONN_MAX_AGE="60")
    if layer == "pubsub":
        env["DJANGO_SETTINGS_MODULE"] = "bench.pubsub_settings"
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "uvicorn"), "daira.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--lifespan", "off", "--log-level", "warning", "--no-access-log",
         "--ws-max-queue", "256", "--backlog", "4096"],
        # Server logs go to a file: an unread pipe fills up and blocks the server mid-run.
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(REPORTS / f"realtime-server-{port}.log").open("wb"),
        preexec_fn=_raise_open_files,
    )


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50_ms": pick(0.50), "p95_ms": pick(0.95), "p99_ms": pick(0.99), "max_ms": round(ordered[-1] * 1000, 2)}


class Fleet:
    """N sockets and the receipt times of every message.created frame they get."""

    def __init__(self) -> None:
        self.sockets: dict[int, object] = {}
        self.sent_at: dict[str, float] = {}
        self.expected: dict[str, int] = {}
        self.latencies: list[float] = []
        self.received: dict[str, int] = {}
        self.errors: list[dict] = []
        self.done = asyncio.Event()

    async def open(self, user_id: int, token: str, port: int) -> None:
        import websockets

        for attempt in range(3):
            try:
                ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/events/?token={token}",
                                              open_timeout=120, ping_interval=None, max_queue=None)
                break
            except Exception:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
        hello = json.loads(await ws.recv())
        assert hello["event"] == "connected", hello
        self.sockets[user_id] = ws
        asyncio.get_running_loop().create_task(self._read(user_id, ws))

    async def _read(self, user_id: int, ws) -> None:
        try:
            async for raw in ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                if frame["event"] == "message.created":
                    payload = frame["payload"]
                    client_id = payload["client_id"]
                    if payload["sender_id"] == str(user_id) or client_id not in self.sent_at:
                        continue
                    self.latencies.append(now - self.sent_at[client_id])
                    self.received[client_id] = self.received.get(client_id, 0) + 1
                elif frame["event"] == "error":
                    self.errors.append(frame["payload"])
        except Exception:
            pass

    async def send(self, sender: int, conversation_id: int, recipients: int) -> None:
        client_id = uuid.uuid4().hex
        self.expected[client_id] = recipients
        self.sent_at[client_id] = time.perf_counter()
        await self.sockets[sender].send(json.dumps({
            "type": "message.send", "conversation_id": str(conversation_id), "client_id": client_id,
            "body": f"bench message {client_id}",
        }))

    def reset(self) -> None:
        self.sent_at.clear()
        self.expected.clear()
        self.latencies.clear()
        self.received.clear()

    def delivered(self) -> int:
        return sum(self.received.values())

    def wanted(self) -> int:
        return sum(self.expected.values())


async def _wait_for_deliveries(fleet: Fleet, timeout: float) -> float:
    start = time.perf_counter()
    while fleet.delivered() < fleet.wanted() and time.perf_counter() - start < timeout:
        await asyncio.sleep(0.02)
    return time.perf_counter()


async def _scenario(fleet: Fleet, picks, recipients: int, rate: float, paced_count: int, burst_count: int) -> dict:
    # paced: latency at a steady, modest rate
    fleet.reset()
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(paced_count):
        sender, conversation_id = picks()
        await fleet.send(sender, conversation_id, recipients)
        delay = start + (i + 1) * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await _wait_for_deliveries(fleet, 30)
    paced = {"messages": paced_count, "rate_per_s": rate, "deliveries": fleet.delivered(),
             "deliveries_expected": fleet.wanted(), **_percentiles(fleet.latencies)}
    # burst: throughput, everything at once
    fleet.reset()
    start = time.perf_counter()
    await asyncio.gather(*(fleet.send(*picks(), recipients) for _ in range(burst_count)))
    end = await _wait_for_deliveries(fleet, 60)
    elapsed = end - start
    complete = sum(1 for cid, n in fleet.received.items() if n >= fleet.expected[cid])
    burst = {"messages": burst_count, "seconds": round(elapsed, 3), "deliveries": fleet.delivered(),
             "deliveries_expected": fleet.wanted(), "messages_per_s": round(complete / elapsed, 1),
             "deliveries_per_s": round(fleet.delivered() / elapsed, 1), **_percentiles(fleet.latencies)}
    return {"paced": paced, "burst": burst}


async def _run_size(n: int, database_url: str, redis_url: str, rate_1to1: float, rate_group: float,
                    messages: int, layer: str) -> dict:
    from asgiref.sync import sync_to_async

    users = await sync_to_async(_make_users)(n)
    pairs, groups = await sync_to_async(_make_conversations)([uid for uid, _ in users])
    ports = [_free_port(), _free_port()]
    servers = [_start_server(port, database_url, redis_url, layer) for port in ports]
    fleet = Fleet()
    try:
        for port in ports:  # wait until both servers accept connections
            deadline = time.monotonic() + 90
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.3)
        semaphore = asyncio.Semaphore(25)
        opened = time.perf_counter()

        failed_connects = 0

        async def open_one(index: int, uid: int, token: str) -> None:
            nonlocal failed_connects
            async with semaphore:
                try:
                    await fleet.open(uid, token, ports[index % 2])
                except Exception:
                    failed_connects += 1

        await asyncio.gather(*(open_one(i, uid, token) for i, (uid, token) in enumerate(users)))
        connect_seconds = time.perf_counter() - opened
        await asyncio.sleep(1)
        # Only conversations whose members all connected take part (a missing socket is a
        # connect failure, reported separately, not a lost delivery).
        live_pairs = [p for p in pairs if p[1] in fleet.sockets and p[2] in fleet.sockets]
        live_groups = [g for g in groups if all(m in fleet.sockets for m in g[1])]

        def pick_pair():
            conversation_id, a, b = random.choice(live_pairs)
            return (a, conversation_id) if random.random() < 0.5 else (b, conversation_id)

        def pick_group():
            conversation_id, members = random.choice(live_groups)
            return random.choice(members), conversation_id

        one_to_one = await _scenario(fleet, pick_pair, 1, rate_1to1, messages, messages) if live_pairs else None
        group = await _scenario(fleet, pick_group, GROUP_SIZE - 1, rate_group, max(20, messages // 5),
                                max(20, messages // 5)) if live_groups else None
        return {"sockets_requested": n, "sockets": len(fleet.sockets), "failed_connects": failed_connects,
                "connect_seconds": round(connect_seconds, 2), "groups_used": len(live_groups),
                "one_to_one": one_to_one, "group_50": group, "socket_errors": fleet.errors[:5],
                "socket_error_count": len(fleet.errors)}
    finally:
        for ws in list(fleet.sockets.values()):
            try:
                await asyncio.wait_for(ws.close(), 2)
            except Exception:
                pass
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def main() -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, nargs="+", default=[200, 1000, 2000])
    parser.add_argument("--messages", type=int, default=200, help="1:1 messages per phase (groups: a fifth)")
    parser.add_argument("--rate", type=float, default=20.0, help="paced 1:1 messages per second")
    parser.add_argument("--group-rate", type=float, default=4.0, help="paced group messages per second")
    parser.add_argument("--layer", choices=["project", "pubsub"], default="project",
                        help="channels-redis layer of the servers (project: daira/settings.py, now pub/sub)")
    args = parser.parse_args()

    limit = _raise_open_files()
    database_url = _setup(_server_url())
    from django.conf import settings

    results = []
    for n in args.sockets:
        print(f"--- {n} sockets", flush=True)
        result = asyncio.run(_run_size(n, database_url, settings.REDIS_URL, args.rate, args.group_rate, args.messages,
                                       args.layer))
        print(json.dumps(result, indent=2), flush=True)
        results.append(result)
    report = {
        "benchmark": "realtime",
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "open_files": limit,
                    "load_average_at_end": os.getloadavg()},
        "processes": 2,
        "layer": args.layer,
        "settings": {"messages": args.messages, "rate": args.rate, "group_rate": args.group_rate},
        "results": results,
    }
    path = REPORTS / ("realtime.json" if args.layer == "project" else f"realtime-{args.layer}.json")
    REPORTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
