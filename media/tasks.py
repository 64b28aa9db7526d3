"""Celery tasks of the media app (queue `media`, routed by name in daira/celery.py).

Thin wrappers around services. At-least-once (acks_late): `asset_process_task` is
single-flight through the asset's lease, so a redelivered or duplicated message does
nothing while another worker holds the asset, and nothing once it is ready or failed.
Bound to the project's app (not shared_task) so that sending works in any process, even
one that never imported daira.celery (the web process does not, today).
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from daira.celery import app
from media import services
from media.models import MediaAsset

TRANSIENT = (OperationalError, InterfaceError, RedisConnectionError, BotoCoreError, ConnectionError, TimeoutError)


@app.task(
    name="media.tasks.asset_process_task",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
    time_limit=settings.MEDIA_TASK_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.MEDIA_TASK_TIME_LIMIT_SECONDS - 60,
)
def asset_process_task(asset_id: int) -> None:
    try:
        services.asset_process(asset_id=asset_id)
    except SoftTimeLimitExceeded:
        asset = MediaAsset.objects.filter(pk=asset_id).first()
        if asset is not None:
            services.asset_mark_failed(asset=asset, code="processing_timeout", message="Processing took too long.")


@app.task(name="media.tasks.assets_requeue_stale_task", acks_late=True)
def assets_requeue_stale_task() -> int:
    return len(services.assets_requeue_stale())


@app.task(name="media.tasks.uploads_expired_delete_task", acks_late=True)
def uploads_expired_delete_task() -> int:
    return services.uploads_expired_delete()
