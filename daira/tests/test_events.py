"""Events are sent after commit, never after a rollback, and reach a real Celery worker."""

import pytest
from celery import shared_task
from django.db import transaction

from daira.lib import events
from daira.lib.redis import get_redis

DELIVERED_KEY = "test:events:delivered"


@shared_task(name="daira.tests.record_delivery_task")
def record_delivery_task(marker: str) -> None:
    get_redis().rpush(DELIVERED_KEY, marker)


@pytest.fixture
def routed_test_event(monkeypatch):
    monkeypatch.setitem(events.ROUTES, "test.happened", ["daira.tests.record_delivery_task"])
    return "test.happened"


@pytest.mark.django_db(transaction=True)
def test_event_is_sent_only_after_commit(emitted_events, routed_test_event, mocker):
    send_task = mocker.patch("daira.celery.app.send_task")

    with transaction.atomic():
        events.emit_on_commit(routed_test_event, marker="a")
        # then: nothing has been sent while the transaction is open
        assert emitted_events == []
        assert send_task.call_count == 0

    assert emitted_events == [("test.happened", {"marker": "a"})]
    send_task.assert_called_once_with("daira.tests.record_delivery_task", kwargs={"marker": "a"},
                                      argsrepr="()", kwargsrepr="{'marker': 'a'}")


@pytest.mark.django_db(transaction=True)
def test_event_is_not_sent_when_the_transaction_rolls_back(emitted_events, routed_test_event, mocker):
    send_task = mocker.patch("daira.celery.app.send_task")

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            events.emit_on_commit(routed_test_event, marker="lost")
            raise RuntimeError("rollback")

    assert emitted_events == []
    assert send_task.call_count == 0


def test_unknown_event_names_fail_loudly():
    with pytest.raises(KeyError, match="Unknown event 'post.craeted'"):
        events.emit_on_commit("post.craeted", post_id=1)


def test_every_route_names_an_importable_task():
    """A typo in the routing table would silently drop events in production."""
    from daira.celery import app

    app.loader.import_default_modules()
    missing = [task for tasks in events.ROUTES.values() for task in tasks if task not in app.tasks]
    assert missing == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_routed_event_runs_on_a_real_worker(routed_test_event):
    from celery.contrib.testing.worker import start_worker

    from daira.celery import app

    # given: a real worker consuming the real Redis broker
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["default"]):
        # when
        with transaction.atomic():
            events.emit_on_commit(routed_test_event, marker="delivered")

        # then: the task ran in the worker and recorded the delivery
        popped = get_redis().blpop(DELIVERED_KEY, timeout=20)
    assert popped == (DELIVERED_KEY.encode(), b"delivered")
