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
    missing = [events.route_task(route) for routes in events.ROUTES.values() for route in routes
               if events.route_task(route) not in app.tasks]
    assert missing == []


def test_every_beat_entry_names_an_importable_task():
    from daira.celery import app

    app.loader.import_default_modules()
    missing = [entry["task"] for entry in app.conf.beat_schedule.values() if entry["task"] not in app.tasks]
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


# --- Batched routes ---------------------------------------------------------------------------
BATCH_TASK = "daira.tests.record_batch_task"


@shared_task(name=BATCH_TASK)
def record_batch_task(key: str) -> int:
    return events.drain_batches(BATCH_TASK, key, lambda payloads: get_redis().rpush(
        DELIVERED_KEY, *[f"{key}:{p['marker']}" for p in payloads]))


@pytest.fixture
def batched_test_event(monkeypatch):
    monkeypatch.setitem(events.ROUTES, "test.burst", [events.Batched(BATCH_TASK, key="creator_id")])
    return "test.burst"


def _queued_tasks() -> list[tuple[str, dict]]:
    import base64
    import json

    found = []
    for raw in reversed(get_redis().lrange("default", 0, -1)):
        message = json.loads(raw)
        found.append((message["headers"]["task"], json.loads(base64.b64decode(message["body"]))[1]))
    return found


def _delivered() -> list[str]:
    return [item.decode() for item in get_redis().lrange(DELIVERED_KEY, 0, -1)]


def test_a_burst_for_one_key_publishes_one_task_that_drains_it_in_order(batched_test_event, emitted_events):
    # when: five events for creator 7 and one for creator 8
    for marker in "abcde":
        events._send(batched_test_event, {"creator_id": 7, "marker": marker})
    events._send(batched_test_event, {"creator_id": 8, "marker": "z"})

    # then: one task per key was published, and observers saw every event
    assert _queued_tasks() == [(BATCH_TASK, {"key": "7"}), (BATCH_TASK, {"key": "8"})]
    assert len(emitted_events) == 6
    # when: the tasks run
    assert record_batch_task(key="7") == 5
    assert record_batch_task(key="8") == 1
    # then: every payload was handled once, oldest first, and nothing is left queued or claimed
    assert _delivered() == ["7:a", "7:b", "7:c", "7:d", "7:e", "8:z"]
    assert get_redis().keys("events:batch*") == []
    # and: the next event publishes a new task
    events._send(batched_test_event, {"creator_id": 7, "marker": "f"})
    assert _queued_tasks()[-1] == (BATCH_TASK, {"key": "7"})


def test_events_queued_while_a_drain_runs_are_handled_by_it(batched_test_event, emitted_events):
    events._send(batched_test_event, {"creator_id": 7, "marker": "a"})
    seen = []

    def handle_and_meet_a_late_event(payloads):
        seen.extend(p["marker"] for p in payloads)
        if len(seen) == 1:  # a gift that arrives while the first batch is being handled
            events._send(batched_test_event, {"creator_id": 7, "marker": "late"})

    assert events.drain_batches(BATCH_TASK, "7", handle_and_meet_a_late_event) == 2

    # then: the running drain handled it, no second task was published, nothing is left
    assert seen == ["a", "late"]
    assert _queued_tasks() == [(BATCH_TASK, {"key": "7"})]
    assert get_redis().keys("events:batch*") == []


def test_a_second_drain_of_a_key_leaves_it_to_the_running_one(batched_test_event):
    # given: a drain of creator 7 whose claim expired while it waited, so a second was published
    for marker in "ab":
        events._send(batched_test_event, {"creator_id": 7, "marker": marker})
    second = []

    def first_handler(payloads):
        # when: the second drain starts while the first is handling its batch
        second.append(events.drain_batches(BATCH_TASK, "7", lambda batch: pytest.fail("two drains at once")))

    assert events.drain_batches(BATCH_TASK, "7", first_handler) == 2
    # then: the second drain did nothing, and the first trimmed only what it handled
    assert second == [0]
    assert get_redis().keys("events:batch*") == []


def test_a_drain_whose_lock_was_taken_over_trims_nothing(batched_test_event):
    for marker in "ab":
        events._send(batched_test_event, {"creator_id": 7, "marker": marker})
    queue = f"events:batch:{BATCH_TASK}:7"

    def slow_handler(payloads):
        get_redis().set(f"{queue}:running", "another drain's token")  # ours expired; another took it

    assert events.drain_batches(BATCH_TASK, "7", slow_handler) == 2
    # then: the batch is still queued for the drain that owns the queue now (at least once)
    assert get_redis().llen(queue) == 2
    get_redis().delete(f"{queue}:running")
    assert record_batch_task(key="7") == 2
    assert _delivered() == ["7:a", "7:b"]


def test_a_failing_handler_leaves_its_batch_for_the_next_drain(batched_test_event):
    for marker in "ab":
        events._send(batched_test_event, {"creator_id": 7, "marker": marker})

    def broken(payloads):
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        events.drain_batches(BATCH_TASK, "7", broken)

    # then: nothing was lost; while the claim lives no new task is published
    events._send(batched_test_event, {"creator_id": 7, "marker": "c"})
    assert _queued_tasks() == [(BATCH_TASK, {"key": "7"})]
    # when: the claim expires, the next event publishes a drain that handles everything
    get_redis().delete(f"events:batch:{BATCH_TASK}:7:claim")
    events._send(batched_test_event, {"creator_id": 7, "marker": "d"})
    assert _queued_tasks() == [(BATCH_TASK, {"key": "7"})] * 2
    assert record_batch_task(key="7") == 4
    assert _delivered() == ["7:a", "7:b", "7:c", "7:d"]


def test_a_lost_broker_releases_the_claim_so_the_next_event_publishes_again(batched_test_event, mocker, caplog):
    send_task = mocker.patch("daira.celery.app.send_task", side_effect=ConnectionError("broker down"))
    events._send(batched_test_event, {"creator_id": 7, "marker": "a"})  # logged, not raised
    assert "event.send_failed" in caplog.text

    send_task.side_effect = None
    events._send(batched_test_event, {"creator_id": 7, "marker": "b"})

    assert send_task.call_count == 2
    assert record_batch_task(key="7") == 2


def test_the_sweep_restarts_a_drain_the_broker_lost(batched_test_event, mocker):
    # given: creator 7's drain task was published and then lost, and its claim has expired
    send_task = mocker.patch("daira.celery.app.send_task")
    events._send(batched_test_event, {"creator_id": 7, "marker": "a"})
    get_redis().delete(f"events:batch:{BATCH_TASK}:7:claim")
    # and: creator 8's queue is drained, creator 9's drain is still claimed
    events._send(batched_test_event, {"creator_id": 8, "marker": "b"})
    assert record_batch_task(key="8") == 1
    events._send(batched_test_event, {"creator_id": 9, "marker": "c"})
    send_task.reset_mock()

    # when: the sweep runs twice
    assert events.sweep_batches() == 1
    assert events.sweep_batches() == 0

    # then: it published one drain for creator 7 only, which handles the stranded gift
    send_task.assert_called_once_with(BATCH_TASK, kwargs={"key": "7"}, argsrepr="()", kwargsrepr="{'key': '7'}")
    assert record_batch_task(key="7") == 1
    assert _delivered() == ["8:b", "7:a"]
    # and: drained keys have left the index; creator 9's claimed queue is still there
    assert get_redis().smembers(f"events:batch-index:{BATCH_TASK}") == {b"9"}


def test_the_sweep_releases_the_claim_when_the_broker_is_down(batched_test_event, mocker, caplog):
    events._send(batched_test_event, {"creator_id": 7, "marker": "a"})
    claim = f"events:batch:{BATCH_TASK}:7:claim"
    get_redis().delete(claim)
    mocker.patch("daira.celery.app.send_task", side_effect=ConnectionError("broker down"))

    assert events.sweep_batches() == 0

    assert "event.sweep_publish_failed" in caplog.text
    assert not get_redis().exists(claim)  # the next sweep or event tries again


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_batched_route_runs_on_a_real_worker(batched_test_event):
    from celery.contrib.testing.worker import start_worker

    from daira.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["default"]):
        with transaction.atomic():
            for marker in "abc":
                events.emit_on_commit(batched_test_event, creator_id=5, marker=marker)
        delivered = []
        while len(delivered) < 3:
            popped = get_redis().blpop(DELIVERED_KEY, timeout=20)
            assert popped is not None, f"only {delivered} arrived"
            delivered.append(popped[1].decode())
    assert delivered == ["5:a", "5:b", "5:c"]
