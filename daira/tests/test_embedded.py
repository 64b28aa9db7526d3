"""The embedded Postgres and Redis: start, share, survive a restart, stop.

These run a *second* pair of embedded servers in a temporary var/ on free ports, so
they never disturb the servers the rest of the suite uses.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis

from daira import embedded

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _embedded(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "daira.embedded", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def scratch_env(tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    if os.geteuid() == 0:
        os.chmod(tmp_path, 0o755)  # the Postgres system user must traverse it
    env = dict(os.environ)
    env.update(
        DAIRA_VAR_DIR=str(var_dir),
        DAIRA_EMBEDDED_PG_PORT=str(_free_port()),
        DAIRA_EMBEDDED_REDIS_PORT=str(_free_port()),
    )
    yield env
    _embedded(env, "stop")


def test_embedded_services_start_once_are_shared_and_survive_restart(scratch_env):
    pg_port, redis_port = scratch_env["DAIRA_EMBEDDED_PG_PORT"], scratch_env["DAIRA_EMBEDDED_REDIS_PORT"]
    pg_url = f"postgresql://postgres@127.0.0.1:{pg_port}/daira"
    redis_url = f"redis://127.0.0.1:{redis_port}/0"

    # given: a first start creates the cluster; a second "start" from another process reuses it
    first = _embedded(scratch_env, "start")
    second = _embedded(scratch_env, "start")
    assert first == second == f"postgres://postgres@127.0.0.1:{pg_port}/daira\n{redis_url}\n"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        postmaster_pid = conn.execute("SELECT pg_backend_pid()").fetchone()  # noqa: F841 - proves it answers
        extensions = {row[0] for row in conn.execute("SELECT name FROM pg_available_extensions")}
        conn.execute("CREATE TABLE survivor (name text)")
        conn.execute("INSERT INTO survivor VALUES ('mona')")
    assert {"vector", "pg_trgm"} <= extensions
    redis.Redis.from_url(redis_url).set("survivor", "omar")

    # when: everything stops and starts again
    _embedded(scratch_env, "stop")
    assert "down" in _embedded(scratch_env, "status").splitlines()[0]
    _embedded(scratch_env, "start")

    # then: the data is still there
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT name FROM survivor").fetchall() == [("mona",)]
    assert redis.Redis.from_url(redis_url).get("survivor") == b"omar"


def test_module_reports_the_running_servers_used_by_this_suite(settings):
    # The suite itself runs on the shared embedded servers (or configured URLs).
    assert settings.DATABASES["default"]["PORT"] in (embedded.PG_PORT, str(embedded.PG_PORT)) or os.environ.get(
        "DATABASE_URL"
    )
    assert embedded._port_open(embedded.PG_PORT) or os.environ.get("DATABASE_URL")


@pytest.mark.django_db
def test_embedded_postgres_loads_the_portable_pgvector_and_its_distances_run():
    # The wheel's own vector.so needs AVX-512 (SIGILL elsewhere); postgres_start swaps in a
    # portable build of the same release. Distances and norms must then run on this CPU.
    if os.environ.get("DATABASE_URL") or os.environ.get("DAIRA_PGVECTOR_BUNDLED") == "1":
        pytest.skip("not the embedded Postgres, or the bundled pgvector was kept on purpose")
    from django.db import connection

    from daira import pgvector_build

    assert pgvector_build.is_portable(embedded._pg_install_dir())
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert cursor.fetchone()[0] == pgvector_build.PGVECTOR_VERSION
        cursor.execute("SELECT vector_norm('[3,4]'::vector), '[1,0]'::vector <=> '[0,1]'::vector, "
                       "'[1,2,3]'::vector <-> '[1,2,5]'::vector")
        assert cursor.fetchone() == (5.0, 1.0, 2.0)


def test_pgvector_build_failure_keeps_the_bundled_library_only_where_the_cpu_can_run_it(tmp_path, monkeypatch):
    from daira import pgvector_build

    def broken_build(install_dir):
        raise pgvector_build.PgvectorBuildError("no compiler")

    monkeypatch.delenv("DAIRA_PGVECTOR_BUNDLED", raising=False)
    monkeypatch.setattr(pgvector_build, "_build", broken_build)
    monkeypatch.setattr(pgvector_build, "_cpu_flags", lambda: {"avx2", "fma"})
    with pytest.raises(pgvector_build.PgvectorBuildError, match="needs AVX-512"):
        pgvector_build.ensure_portable(tmp_path)
    monkeypatch.setattr(pgvector_build, "_cpu_flags", lambda: {"avx2", "avx512f"})
    assert pgvector_build.ensure_portable(tmp_path) is False
    # a marker that does not match the library on disk is not trusted
    libdir = tmp_path / "lib" / "postgresql"
    libdir.mkdir(parents=True)
    (libdir / "vector.so").write_bytes(b"bundled")
    (libdir / pgvector_build.MARKER).write_text("0.8.2 " + "0" * 64 + "\n")
    assert not pgvector_build.is_portable(tmp_path)
