"""Wallet Celery tasks: thin, idempotent wrappers around services (beat schedule in daira/celery.py)."""

from celery import shared_task

from wallet import services


@shared_task(acks_late=True)
def payments_reconcile_stale_task() -> dict:
    """Ask providers about payments stuck in pending; expire the abandoned ones."""
    return services.payments_reconcile_stale()


@shared_task(acks_late=True)
def subscriptions_renew_due_task() -> dict:
    """Renew due subscriptions; retry failed ones within the grace period; end canceled ones."""
    return services.subscriptions_renew_due()
