"""daira.lib.realtime: sync sends reach the channel layer's subscribers (real Redis)."""

import asyncio

import pytest
from channels.layers import channel_layers, get_channel_layer

from daira.lib import realtime


def _receive_after(groups, send, count):
    """Subscribe a fresh channel to `groups` on the real layer, call `send` from a worker
    thread (as a request thread would), and return the next `count` messages."""
    layer = get_channel_layer()

    async def scenario():
        channel = await layer.new_channel()
        for group in groups:
            await layer.group_add(group, channel)
        await asyncio.get_running_loop().run_in_executor(None, send)
        received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(count)]
        for group in groups:
            await layer.group_discard(group, channel)
        return received

    return asyncio.run(scenario())


def test_send_now_publishes_the_layers_own_frame_on_a_persistent_connection():
    # given
    group = realtime.user_group(987654321)

    # when: two sends, as two gifts in a row would make
    def send():
        realtime.send_now(group, "gift.received", {"id": "1", "coins": 1})
        realtime.send_now(group, "gift.received", {"id": "2", "coins": 5})

    received = _receive_after([group], send, 2)

    # then: the subscriber decodes both, in order
    assert received == [
        {"type": "relay", "event": "gift.received", "payload": {"id": "1", "coins": 1}},
        {"type": "relay", "event": "gift.received", "payload": {"id": "2", "coins": 5}},
    ]


def test_send_many_now_delivers_to_every_group_in_one_call():
    # given: one socket listening on three users' groups
    groups = [realtime.user_group(uid) for uid in (11, 12, 13)]
    frames = [(group, realtime.relay_message("presence", {"user_id": group})) for group in groups]

    # when
    received = _receive_after(groups, lambda: realtime.send_many_now(frames), 3)

    # then
    assert sorted(m["payload"]["user_id"] for m in received) == sorted(groups)


def test_a_non_pubsub_layer_is_used_through_its_own_group_send(settings):
    # given: channels-redis's list-based core layer on the same real Redis: its groups are
    # not pub/sub channels, so the sync publisher must not be used for it
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": "daira-ws-core-test"},
    }}
    channel_layers.backends.clear()
    try:
        group = realtime.user_group(5)
        layer = get_channel_layer()

        async def scenario():
            channel = await layer.new_channel()
            await layer.group_add(group, channel)
            await asyncio.get_running_loop().run_in_executor(None, realtime.send_now, group, "test.ping", {"n": 1})
            return await asyncio.wait_for(layer.receive(channel), 5)

        # when / then
        assert asyncio.run(scenario()) == {"type": "relay", "event": "test.ping", "payload": {"n": 1}}
    finally:
        channel_layers.backends.clear()


def test_a_redis_failure_is_logged_not_raised(settings, caplog):
    # given: a layer pointing at a port nothing listens on
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/0"}], "prefix": "daira-ws"},
    }}
    channel_layers.backends.clear()
    try:
        # when
        realtime.send_now(realtime.user_group(1), "test.ping", {"n": 1})
    finally:
        channel_layers.backends.clear()

    # then
    assert any(record.message == "realtime.send_failed" for record in caplog.records)


@pytest.fixture(autouse=True)
def _fresh_layers():
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
