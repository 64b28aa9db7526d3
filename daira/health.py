"""Liveness and readiness probes.

/health/live: the process answers. /health/ready: Postgres, Redis and the Celery
broker answer; otherwise 503 naming each failing part, so a load balancer takes the
instance out and an operator sees why.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def _check_postgres() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_redis() -> None:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


def _check_broker() -> None:
    from kombu import Connection

    options = {"socket_connect_timeout": 1, "socket_timeout": 1}
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=1, transport_options=options) as conn:
        if conn.transport_cls in ("redis", "rediss"):
            # kombu's Redis transport connects lazily; a PING through a channel is a real check.
            conn.default_channel.client.ping()
        else:
            conn.ensure_connection(max_retries=1, timeout=1)


CHECKS = {"postgres": _check_postgres, "redis": _check_redis, "broker": _check_broker}


@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request):
    results: dict[str, dict] = {}
    failing: list[str] = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; say which part and why
            results[name] = {"ok": False, "error": exc.__class__.__name__}
            failing.append(name)
        else:
            results[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    if failing:
        return JsonResponse(
            {
                "status": "unavailable",
                "failing": failing,
                "checks": results,
                "error": {"code": "unavailable", "message": f"Not ready: {', '.join(failing)} unavailable.", "fields": {}},
            },
            status=503,
        )
    return JsonResponse({"status": "ok", "checks": results})
