"""A small HTTP/1.1 keep-alive load generator for the benchmarks (asyncio, raw sockets).

Why not httpx: on this 2-core machine the client shares the CPU with the server it measures;
httpx.AsyncClient spent about 1.25 ms of CPU per request, a large share of what a gift costs
the server, so the figures measured the client as much as the server. This client writes the
request bytes and parses only the status line, Content-Length or chunked framing: tens of
microseconds per request. It is a measuring instrument, not a general HTTP client (no TLS,
no redirects, no compression).

    result = asyncio.run(run_load("127.0.0.1", 8000, jobs, concurrency=32))

`jobs` is a list of Request; each of `concurrency` connections takes the next job until none
are left. A dropped connection is reopened and the same request sent again (clients retry;
with an Idempotency-Key the server must not act twice).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, method: str, path: str, payload, headers: dict[str, str] | None = None) -> Request:
        return cls(method, path, {**(headers or {}), "Content-Type": "application/json"},
                   json.dumps(payload).encode())


@dataclass
class Response:
    status: int
    body: bytes

    def json(self):
        return json.loads(self.body)


class Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, request: Request) -> Response:
        if self.writer is None:
            await self._open()
        head = [f"{request.method} {request.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{name}: {value}" for name, value in request.headers.items()]
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(request.body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + request.body)
        raw_head = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            body = b"".join(chunks)
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, body)


def _cpu_seconds(processes) -> float:
    """User + system CPU of `processes`, skipping any that have exited."""
    import psutil

    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants (uvicorn's worker processes)."""
    import psutil

    root = psutil.Process(pid)
    return _cpu_seconds([root, *root.children(recursive=True)])


def machine_busy_cpu_seconds() -> float:
    """CPU seconds every core of the machine spent busy (not idle or waiting on I/O)."""
    import psutil

    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def postgres_cpu_seconds() -> float:
    """User + system CPU of the machine's live Postgres processes. A backend that exits
    during the run (a connection closed by CONN_MAX_AGE) drops out, so the figure then
    undercounts; read it for runs shorter than the connections' lifetime."""
    import psutil

    return _cpu_seconds(p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres"))


async def run_load(host: str, port: int, jobs: list[Request], concurrency: int,
                   on_response=None, retries: int = 3, server_pid: int | None = None) -> dict:
    """Send every job over `concurrency` keep-alive connections.

    Returns requests, wall_s, rps, latency percentiles (ms, each including retries),
    statuses {code: count}, retries (dropped connections) and the client's CPU per request;
    with `server_pid`, also the server's CPU per request (its process tree), the figure that
    does not depend on how much CPU the client took from the server on a shared machine;
    and always the machine's busy CPU and Postgres's CPU per request (where the cores went).
    `on_response(request, response)` is called for each final response, e.g. to check bodies.
    """
    queue = iter(jobs)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    dropped = 0

    async def worker() -> None:
        nonlocal dropped
        connection = Connection(host, port)
        try:
            for request in queue:
                started = time.perf_counter()
                for attempt in range(retries + 1):
                    try:
                        response = await connection.send(request)
                        break
                    except (ConnectionError, asyncio.IncompleteReadError):
                        connection.close()
                        dropped += 1
                        if attempt == retries:
                            raise
                latencies.append(time.perf_counter() - started)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if on_response is not None:
                    on_response(request, response)
        finally:
            connection.close()

    server_cpu_before = process_tree_cpu_seconds(server_pid) if server_pid else 0.0
    machine_cpu_before, postgres_cpu_before = machine_busy_cpu_seconds(), postgres_cpu_seconds()
    client_cpu_before = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu_before
    server_cpu = process_tree_cpu_seconds(server_pid) - server_cpu_before if server_pid else None
    machine_cpu = machine_busy_cpu_seconds() - machine_cpu_before
    postgres_cpu = postgres_cpu_seconds() - postgres_cpu_before
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else 0.0

    return {
        "requests": len(latencies), "wall_s": round(wall, 2), "rps": round(len(latencies) / wall, 1) if wall else 0.0,
        "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else 0.0,
        "statuses": {str(code): count for code, count in sorted(statuses.items())}, "retries": dropped,
        "client_cpu_ms_per_request": round(client_cpu * 1000 / max(1, len(latencies)), 3),
        "server_cpu_ms_per_request": (round(server_cpu * 1000 / max(1, len(latencies)), 3)
                                      if server_cpu is not None else None),
        "postgres_cpu_ms_per_request": round(postgres_cpu * 1000 / max(1, len(latencies)), 3),
        "machine_cpu_ms_per_request": round(machine_cpu * 1000 / max(1, len(latencies)), 3),
        "machine_busy_percent": round(machine_cpu * 100 / (wall * (os.cpu_count() or 1)), 1) if wall else 0.0,
    }
