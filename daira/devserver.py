"""`make run`: set up and run the whole platform on one machine.

Starts the embedded Postgres and Redis (unless DATABASE_URL / REDIS_URL are set),
migrates, seeds demo data, then runs as child processes, with prefixed logs:
  web     uvicorn serving HTTP and WebSockets (daira.asgi) on 127.0.0.1:8000
  worker  a Celery worker on the queues default, fanout, media, embeddings
  beat    Celery beat (the schedule in daira/celery.py)
Ctrl-C (or SIGTERM) stops the children, then the embedded services it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = os.environ.get("DAIRA_HOST", "127.0.0.1")
PORT = int(os.environ.get("DAIRA_PORT", "8000"))
COLOURS = {"web": "\033[36m", "worker": "\033[33m", "beat": "\033[35m", "setup": "\033[32m"}
RESET = "\033[0m"
_print_lock = threading.Lock()


def say(name: str, line: str) -> None:
    colour = COLOURS.get(name, "") if sys.stdout.isatty() else ""
    reset = RESET if colour else ""
    with _print_lock:
        sys.stdout.write(f"{colour}{name:>6} |{reset} {line}\n")
        sys.stdout.flush()


def run_step(name: str, args: list[str]) -> None:
    say("setup", f"{name}: {' '.join(args)}")
    started = time.monotonic()
    result = subprocess.run([sys.executable, *args], cwd=BASE_DIR)
    if result.returncode != 0:
        say("setup", f"{name} failed with exit code {result.returncode}")
        raise SystemExit(result.returncode)
    say("setup", f"{name} done in {time.monotonic() - started:.1f}s")


def pump(name: str, process: subprocess.Popen) -> None:
    assert process.stdout is not None
    for raw in iter(process.stdout.readline, b""):
        say(name, raw.decode(errors="replace").rstrip())


def wait_ready(timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{PORT}/health/ready", timeout=2) as response:
                if response.status == 200:
                    return True
        except Exception:
            pass
        time.sleep(0.3)
    return False


def main() -> int:
    os.environ.setdefault("DAIRA_DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    began = time.monotonic()

    from daira import embedded

    started_embedded = []
    if not os.environ.get("DATABASE_URL"):
        was_up = embedded._port_open(embedded.PG_PORT)
        say("setup", f"postgres: {embedded.postgres_url()} ({'already running' if was_up else 'started'})")
        if not was_up:
            started_embedded.append("postgres")
    if not os.environ.get("REDIS_URL"):
        was_up = embedded._port_open(embedded.REDIS_PORT)
        say("setup", f"redis: {embedded.redis_url()} ({'already running' if was_up else 'started'})")
        if not was_up:
            started_embedded.append("redis")

    run_step("migrate", ["manage.py", "migrate", "--noinput"])
    run_step("seed_demo", ["manage.py", "seed_demo"])

    bin_dir = Path(sys.executable).parent
    commands = {
        "web": [str(bin_dir / "uvicorn"), "daira.asgi:application", "--host", HOST, "--port", str(PORT),
                "--lifespan", "off", "--no-access-log", "--ws-max-size", "1048576"],
        "worker": [str(bin_dir / "celery"), "-A", "daira", "worker", "-Q", "default,fanout,media,embeddings",
                   "--concurrency", os.environ.get("DAIRA_WORKER_CONCURRENCY", "2"), "--loglevel", "INFO",
                   "--hostname", "worker@%h"],
        "beat": [str(bin_dir / "celery"), "-A", "daira", "beat", "--loglevel", "INFO",
                 "--schedule", str(BASE_DIR / "var" / "celerybeat-schedule")],
    }
    processes: dict[str, subprocess.Popen] = {}
    stopping = threading.Event()

    def stop(*_args) -> None:
        if stopping.is_set():
            return
        stopping.set()
        say("setup", "stopping…")
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, process in processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say("setup", f"{name} did not stop in time; killing it")
                process.kill()
        if "redis" in started_embedded:
            embedded.redis_stop()
        if "postgres" in started_embedded:
            embedded.postgres_stop()
        say("setup", "stopped cleanly")

    signal.signal(signal.SIGINT, lambda *a: stop())
    signal.signal(signal.SIGTERM, lambda *a: stop())

    for name, command in commands.items():
        # Own process group: a terminal Ctrl-C reaches only us, and we stop the children in order.
        processes[name] = subprocess.Popen(
            command, cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        threading.Thread(target=pump, args=(name, processes[name]), daemon=True).start()

    if wait_ready():
        base = f"http://{HOST}:{PORT}"
        for line in [
            f"DAIRA is up after {time.monotonic() - began:.1f}s:",
            f"  API       {base}/api/v1/",
            f"  API docs  {base}/api/docs/   (OpenAPI schema: {base}/api/schema/)",
            f"  GraphQL   {base}/graphql/",
            f"  Admin     {base}/admin/      (demo admin: admin / daira-admin-demo)",
            f"  Metrics   {base}/metrics",
            f"  Health    {base}/health/ready",
            f"  Events    ws://{HOST}:{PORT}/ws/events/?token=<access token>",
            "  Demo users: mona, omar, layla (password: daira-demo-pass)",
            "Press Ctrl-C to stop.",
        ]:
            say("setup", line)
    else:
        say("setup", "the web server did not become ready within 60s; see the logs above")

    exit_code = 0
    while not stopping.is_set():
        for name, process in processes.items():
            if process.poll() is not None and not stopping.is_set():
                say("setup", f"{name} exited with code {process.returncode}; stopping everything")
                exit_code = process.returncode or 1
                stop()
                break
        time.sleep(0.5)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
