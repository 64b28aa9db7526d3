"""Accounts Celery tasks: thin, idempotent wrappers around services."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from accounts import services
from accounts.models import DataExport


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=3)
def data_export_build_task(export_id: int) -> None:
    services.data_export_build(export_id=int(export_id))


@shared_task(acks_late=True)
def users_suspensions_lift_task() -> int:
    return services.users_suspensions_lift()


@shared_task(acks_late=True)
def users_purge_deactivated_task() -> int:
    return services.users_purge_deactivated()


@shared_task(acks_late=True)
def accounts_housekeeping_task() -> int:
    """Re-queue exports stuck pending (lost broker message), drop expired export files, and
    prune used or expired OTP challenges and long-dead sessions."""
    stale = timezone.now() - timedelta(minutes=15)
    for export_id in DataExport.objects.filter(status=DataExport.Status.PENDING, created_at__lte=stale).values_list(
        "pk", flat=True
    ):
        data_export_build_task.delay(export_id)
    services.otp_challenges_prune()
    services.sessions_prune()
    return services.data_exports_expire()
