"""Realtime over /ws/events/: every device gets the events, REST and socket sends are the same,
typing throttle and expiry, presence TTL, socket counts, malformed frames."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.models import UserSettings
from accounts.tests.factories import UserFactory, access_token_for
from daira.asgi import application
from daira.lib.redis import get_redis
from messaging import live, selectors, services
from messaging.models import Message
from messaging.tests.conftest import follow

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test runs its own event loop; channels-redis binds its locks to the loop that
    first used the layer, so every test starts with a new layer instance."""
    from channels.layers import channel_layers

    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


async def _connect(user, token=None):
    token = token or await sync_to_async(access_token_for)(user)
    communicator = WebsocketCommunicator(application, "/ws/events/", subprotocols=["bearer", token])
    connected, _ = await communicator.connect()
    assert connected is True
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["event"] == "connected"
    return communicator


async def _next(communicator, event: str, timeout: float = 5):
    """The next frame named `event`, skipping others (presence and the like)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = await communicator.receive_json_from(timeout=max(0.05, deadline - time.monotonic()))
        if frame["event"] == event:
            return frame


async def _drain(communicator, timeout: float = 0.3) -> list[dict]:
    """Every frame that arrives within `timeout`. (A timed-out receive would cancel the
    application under test, so wait with receive_nothing instead.)"""
    frames = []
    while not await communicator.receive_nothing(timeout=timeout):
        frames.append(await communicator.receive_json_from())
    return frames


def _pair():
    mona, omar = UserFactory(), UserFactory()
    follow(mona, omar)
    follow(omar, mona)
    conversation = services.conversation_direct_start(actor=mona, other_id=omar.pk)
    return mona, omar, conversation


def test_every_device_of_every_participant_gets_message_created_from_a_rest_send(auth_client):
    # given: omar on two phones, mona on one
    mona, omar, conversation = _pair()
    tokens = {"mona": access_token_for(mona), "omar1": access_token_for(omar), "omar2": access_token_for(omar)}

    async def scenario():
        sockets = [await _connect(mona, tokens["mona"]), await _connect(omar, tokens["omar1"]),
                   await _connect(omar, tokens["omar2"])]
        count = await sync_to_async(live.socket_count)(omar.pk)
        # when: mona sends over REST
        response = await sync_to_async(
            lambda: auth_client(mona).post(f"/api/v1/conversations/{conversation.pk}/messages",
                                           {"body": "hello", "client_id": "r-1"}, format="json")
        )()
        frames = [await _next(s, "message.created") for s in sockets]
        for s in sockets:
            await s.disconnect()
        return count, response, frames

    count, response, frames = asyncio.run(scenario())

    # then
    assert count == 2
    assert response.status_code == 201
    assert [f["payload"]["id"] for f in frames] == [response.json()["id"]] * 3
    assert frames[0]["payload"]["body"] == "hello"
    assert frames[0]["payload"] == frames[1]["payload"] == frames[2]["payload"]


def test_a_socket_send_produces_the_same_event_as_rest_and_no_echo_frame():
    mona, omar, conversation = _pair()

    async def scenario():
        mona_socket, omar_socket = await _connect(mona), await _connect(omar)
        await mona_socket.send_json_to({"type": "message.send", "conversation_id": str(conversation.pk),
                                        "body": "via socket", "client_id": "s-1"})
        received = await _next(omar_socket, "message.created")
        own = await _next(mona_socket, "message.created")
        # a retried frame (same client_id) sends nothing new
        await mona_socket.send_json_to({"type": "message.send", "conversation_id": conversation.pk,
                                        "body": "via socket", "client_id": "s-1"})
        extra = [f for f in await _drain(omar_socket) if f["event"] == "message.created"]
        await mona_socket.disconnect()
        await omar_socket.disconnect()
        return received, own, extra

    received, own, extra = asyncio.run(scenario())

    message = Message.objects.get()
    assert received == own
    assert received["payload"]["id"] == str(message.pk)
    assert received["payload"]["client_id"] == "s-1"
    assert sorted(received["payload"]) == sorted(selectors.messages_render([message])[0].keys() - {"reactions"})
    assert extra == []


def test_read_and_reaction_frames_reach_the_other_side():
    mona, omar, conversation = _pair()
    message = services.message_send(actor=mona, conversation_id=conversation.pk, body="read me")

    async def scenario():
        mona_socket, omar_socket = await _connect(mona), await _connect(omar)
        await omar_socket.send_json_to({"type": "conversation.read", "conversation_id": conversation.pk})
        read = await _next(mona_socket, "conversation.read")
        await omar_socket.send_json_to({"type": "message.react", "message_id": message.pk, "emoji": "👍"})
        reaction = await _next(mona_socket, "reaction.added")
        await mona_socket.disconnect()
        await omar_socket.disconnect()
        return read, reaction

    read, reaction = asyncio.run(scenario())

    assert read["payload"]["last_read_message_id"] == str(message.pk)
    assert read["payload"]["user_id"] == str(omar.pk)
    assert reaction["payload"] == {"message_id": str(message.pk), "conversation_id": str(conversation.pk),
                                   "user_id": str(omar.pk), "emoji": "👍"}


def test_malformed_frames_get_an_error_event_and_the_socket_stays_open():
    mona, omar, conversation = _pair()
    bad_frames = [
        "not json",
        "[1, 2]",
        '{"no": "type"}',
        '{"type": "nope"}',
        '{"type": "message.send"}',
        '{"type": "message.send", "conversation_id": "abc", "body": "x"}',
        '{"type": "message.send", "conversation_id": 99999999999999999999999, "body": "x"}',
        '{"type": "message.send", "conversation_id": 1, "body": "x"}',
        f'{{"type": "message.send", "conversation_id": {conversation.pk}, "body": 5}}',
        f'{{"type": "message.send", "conversation_id": {conversation.pk}, "body": "x", "media_ids": "1"}}',
        '{"type": "typing", "conversation_id": true}',
        '{"type": "conversation.read", "conversation_id": null}',
        '{"type": "conversation.open", "conversation_id": 42}',
        '{"type": "message.react", "message_id": 1, "emoji": ["x"]}',
    ]

    async def scenario():
        socket = await _connect(mona)
        codes = []
        for frame in bad_frames:
            await socket.send_to(text_data=frame)
            reply = await _next(socket, "error")
            codes.append(reply["payload"]["code"])
        await socket.send_json_to({"type": "ping"})
        pong = await _next(socket, "pong")
        await socket.disconnect()
        return codes, pong

    codes, pong = asyncio.run(scenario())

    assert codes == ["malformed", "malformed", "malformed", "unknown_type", "invalid", "invalid", "invalid",
                     "not_found", "invalid", "invalid", "invalid", "invalid", "not_found", "invalid"]
    assert pong == {"event": "pong", "payload": {}}
    assert Message.objects.exists() is False


def test_typing_is_throttled_per_sender_and_expires(settings):
    settings.MESSAGING_TYPING_THROTTLE_MS = 300
    settings.MESSAGING_TYPING_TTL_MS = 500
    mona, omar, conversation = _pair()

    async def scenario():
        mona_socket, omar_socket = await _connect(mona), await _connect(omar)
        for _ in range(3):  # a burst: only the first goes out
            await mona_socket.send_json_to({"type": "typing", "conversation_id": conversation.pk})
        first = await _next(omar_socket, "typing")
        burst = [f for f in await _drain(omar_socket, 0.15) if f["event"] == "typing"]
        typing_now = await sync_to_async(live.typing_users)(conversation.pk)
        await asyncio.sleep(0.6)  # past both the throttle and the expiry
        typing_later = await sync_to_async(live.typing_users)(conversation.pk)
        await mona_socket.send_json_to({"type": "typing", "conversation_id": conversation.pk})
        second = await _next(omar_socket, "typing")
        mine = [f for f in await _drain(mona_socket, 0.1) if f["event"] == "typing"]
        await mona_socket.disconnect()
        await omar_socket.disconnect()
        return first, burst, typing_now, typing_later, second, mine

    first, burst, typing_now, typing_later, second, mine = asyncio.run(scenario())

    assert first["payload"]["user_id"] == str(mona.pk)
    assert first["payload"]["expires_in_ms"] == 500
    assert burst == []
    assert typing_now == [mona.pk]
    assert typing_later == []
    assert second["payload"]["conversation_id"] == str(conversation.pk)
    assert mine == []  # the typist's own devices are not told


def test_rest_typing_is_throttled_the_same_way(auth_client):
    mona, omar, conversation = _pair()
    client = auth_client(mona)

    first = client.post(f"/api/v1/conversations/{conversation.pk}/typing")
    second = client.post(f"/api/v1/conversations/{conversation.pk}/typing")

    assert (first.json(), second.json()) == ({"sent": True}, {"sent": False})


def test_presence_heartbeat_keeps_a_60_second_key_and_contacts_see_online_then_offline():
    mona, omar, conversation = _pair()

    async def scenario():
        omar_socket = await _connect(omar)
        mona_socket = await _connect(mona)
        online = await _next(omar_socket, "presence")
        await mona_socket.send_json_to({"type": "presence.heartbeat"})
        await mona_socket.send_json_to({"type": "ping"})
        await _next(mona_socket, "pong")
        ttl = await sync_to_async(live.presence_ttl_ms)(mona.pk)
        seen_online = await sync_to_async(selectors.presence_for)(viewer=omar, user_ids=[mona.pk])
        await mona_socket.disconnect()
        offline = await _next(omar_socket, "presence")
        await omar_socket.disconnect()
        return online, ttl, seen_online, offline

    online, ttl, seen_online, offline = asyncio.run(scenario())

    assert online["payload"]["user_id"] == str(mona.pk) and online["payload"]["status"] == "online"
    assert 59_000 < ttl <= 60_000
    assert seen_online[str(mona.pk)]["status"] == "online"
    assert offline["payload"]["status"] == "offline"
    assert selectors.presence_for(viewer=omar, user_ids=[mona.pk])[str(mona.pk)]["status"] == "offline"


def test_presence_lapses_when_heartbeats_stop():
    mona, omar, _ = _pair()
    services.presence_heartbeat(user=mona)
    assert selectors.presence_for(viewer=omar, user_ids=[mona.pk])[str(mona.pk)]["status"] == "online"

    # no heartbeat for the key's TTL (shortened here instead of waiting a minute)
    get_redis().pexpire(f"msg:presence:{mona.pk}", 1)
    time.sleep(0.05)

    status = selectors.presence_for(viewer=omar, user_ids=[mona.pk])[str(mona.pk)]
    assert status["status"] == "offline"
    assert status["last_seen_at"] is not None


def test_presence_is_hidden_when_activity_status_is_off():
    mona, omar, _ = _pair()
    UserSettings.objects.filter(user=mona).update(show_activity_status=False)

    async def scenario():
        omar_socket = await _connect(omar)
        mona_socket = await _connect(mona)
        frames = await _drain(omar_socket, 0.3)
        await mona_socket.disconnect()
        frames += await _drain(omar_socket, 0.3)
        await omar_socket.disconnect()
        return frames

    frames = asyncio.run(scenario())

    assert [f for f in frames if f["event"] == "presence"] == []
    assert selectors.presence_for(viewer=omar, user_ids=[mona.pk]) == {str(mona.pk): {"status": "hidden", "last_seen_at": None}}


def test_socket_count_follows_connects_and_disconnects():
    (mona,) = [UserFactory()]

    async def scenario():
        first, second = await _connect(mona), await _connect(mona)
        both = await sync_to_async(live.socket_count)(mona.pk)
        await first.disconnect()
        await asyncio.sleep(0.1)
        one = await sync_to_async(live.socket_count)(mona.pk)
        await second.disconnect()
        await asyncio.sleep(0.1)
        none = await sync_to_async(live.socket_count)(mona.pk)
        return both, one, none

    assert asyncio.run(scenario()) == (2, 1, 0)
