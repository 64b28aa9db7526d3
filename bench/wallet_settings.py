"""Settings for bench/wallet.py's server with `--pool`: bench/feeds_settings.py's (the
project's plus the bare endpoint /api/v1/bench/ping) with Django 5.2's psycopg connection pool (each ASGI request runs its sync view in its own thread, so
without a pool every request opens a new Postgres connection)."""

import os

from bench.feeds_settings import *  # noqa: F401,F403
from bench.feeds_settings import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool, not persistent connections, reuses them
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": 2,
    "max_size": int(os.environ.get("DAIRA_BENCH_POOL_SIZE", "16")),
    "timeout": 30,
}
