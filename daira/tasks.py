"""Platform-wide periodic tasks (scheduled in daira/celery.py)."""

from celery import shared_task

from daira.lib import events


@shared_task(acks_late=True)
def event_batches_sweep_task() -> int:
    """Restart the drain of any batched event queue whose drain died or was lost
    (daira/lib/events.sweep_batches)."""
    return events.sweep_batches()
