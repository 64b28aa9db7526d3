"""Domain events: the one routing table from event names to the Celery tasks that handle them.

A lower app never imports a higher one (DESIGN.md); it emits an event instead:

    events.emit_on_commit("post.created", post_id=post.pk)

Each route is sent by task *name* (`celery_app.send_task`), inside
`transaction.on_commit`, so nothing is announced for a rolled-back write and the
emitting app never imports the subscriber. Payloads are small JSON-able dicts of ids.
Queues are chosen by task name in `daira/celery.py` (`task_routes`).

Subscribing a task: add its dotted name to the event's list below. Handlers must be
idempotent (at-least-once delivery, `acks_late`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

ROUTES: dict[str, list[str]] = {
    # --- platform ---
    "system.ping": [],
    # --- accounts ---
    # --- social ---
    # --- moderation ---
    # --- media ---
    # --- content ---
    # --- messaging ---
    # --- wallet ---
}

# Observers see every event as it is sent (after commit). Tests use this to assert on
# emitted events without a broker; production has none.
_observers: list[Callable[[str, dict[str, Any]], None]] = []


def add_observer(observer: Callable[[str, dict[str, Any]], None]) -> None:
    _observers.append(observer)


def remove_observer(observer: Callable[[str, dict[str, Any]], None]) -> None:
    if observer in _observers:
        _observers.remove(observer)


def _send(name: str, payload: dict[str, Any]) -> None:
    for observer in list(_observers):
        observer(name, payload)
    # Imported here: the Celery app imports Django settings, and events is imported by models.
    from daira.celery import app as celery_app

    for task_name in ROUTES.get(name, []):
        try:
            celery_app.send_task(task_name, kwargs=payload)
        except Exception:
            # The write is already committed; a lost broker must not turn it into a 500.
            # The handlers' periodic reconcilers (feeds rebuild, reindex) repair the gap.
            logger.exception("event.send_failed", extra={"event": name, "task": task_name})


def emit_on_commit(name: str, **payload: Any) -> None:
    """Send event `name` with `payload` to its routes once the current transaction commits.

    Raises KeyError for an unknown event name, so typos fail in tests rather than
    silently dropping events. Outside a transaction it is sent at once.
    """
    if name not in ROUTES:
        raise KeyError(f"Unknown event {name!r}: add it to daira.lib.events.ROUTES")
    transaction.on_commit(lambda: _send(name, payload))
