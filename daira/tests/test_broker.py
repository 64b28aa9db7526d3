"""daira/lib/broker.py: Celery's Redis transport keeps one client per connection pool instead
of building one per publish. Messages must still land where kombu's own transport puts them."""

import base64
import json

from kombu.transport import redis as kombu_redis

from daira.celery import app
from daira.lib import broker
from daira.lib.redis import get_redis


def _queued(queue: str) -> list[tuple[str, dict]]:
    """(task name, kwargs) of each message waiting in `queue` (a Redis list), oldest first."""
    found = []
    for raw in reversed(get_redis().lrange(queue, 0, -1)):
        message = json.loads(raw)
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], kwargs))
    return found


def test_the_celery_app_publishes_through_our_transport():
    with app.producer_or_acquire() as producer:
        assert isinstance(producer.channel, broker.Channel)


def test_published_tasks_land_in_their_routed_queues_on_one_client(monkeypatch):
    created = []
    original = kombu_redis.Channel._create_client

    def counting(self, asynchronous=False):
        created.append(asynchronous)
        return original(self, asynchronous=asynchronous)

    monkeypatch.setattr(kombu_redis.Channel, "_create_client", counting)
    with app.producer_or_acquire() as producer:
        producer.channel._sync_client = None  # as a fresh channel has it

    # when: three publishes to the default queue and one to a routed one
    for marker in ("a", "b", "c"):
        app.send_task("messaging.tasks.gift_notify_task", kwargs={"gift_id": marker})
    app.send_task("feeds.tasks.post_fan_out_task", kwargs={"post_id": 7})

    # then: each message is where kombu routes it, in order, with its kwargs
    assert _queued("default") == [("messaging.tasks.gift_notify_task", {"gift_id": m}) for m in ("a", "b", "c")]
    assert _queued("fanout") == [("feeds.tasks.post_fan_out_task", {"post_id": 7})]
    # and: one sync client served all four publishes (kombu's own builds one per publish)
    assert created == [False]


def test_a_closed_channel_gets_a_client_on_its_new_pool():
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as client:
            assert client.ping()
        old_pool = channel.pool
        channel._pool = None  # what closing the channel's pool does

        with channel.conn_or_acquire() as client:
            assert client.connection_pool is channel.pool is not old_pool
            assert client.ping()
