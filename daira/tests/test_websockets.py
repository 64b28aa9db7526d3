"""WebSockets: JWT authentication, 4401 for anonymous sockets, cross-process delivery."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets
from channels.testing import WebsocketCommunicator
from django.conf import settings

from accounts.tests.factories import UserFactory, access_token_for
from daira.asgi import application
from daira.lib import realtime

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_anonymous_socket_is_closed_with_4401():
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/events/")
        connected, _ = await communicator.connect()
        closed = await communicator.receive_output(timeout=5)
        await communicator.disconnect()
        return connected, closed

    connected, closed = asyncio.run(scenario())

    assert connected is True
    assert closed == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
def test_socket_with_a_bad_token_is_closed_with_4401():
    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/events/?token=not-a-jwt")
        await communicator.connect()
        closed = await communicator.receive_output(timeout=5)
        await communicator.disconnect()
        return closed

    assert asyncio.run(scenario())["code"] == 4401


@pytest.mark.django_db(transaction=True)
def test_authenticated_socket_gets_broadcasts_and_survives_malformed_frames():
    user = UserFactory()
    token = access_token_for(user)

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/events/", subprotocols=["bearer", token])
        connected, subprotocol = await communicator.connect()
        hello = await communicator.receive_json_from(timeout=5)
        await communicator.send_to(text_data="{oops")
        error = await communicator.receive_json_from(timeout=5)
        await asyncio.get_running_loop().run_in_executor(
            None, realtime.send_now, realtime.user_group(user.pk), "test.ping", {"n": 1}
        )
        relayed = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return connected, subprotocol, hello, error, relayed

    connected, subprotocol, hello, error, relayed = asyncio.run(scenario())

    assert connected is True
    assert subprotocol == "bearer"
    assert hello == {"event": "connected", "payload": {"user_id": str(user.pk)}}
    assert error["event"] == "error" and error["payload"]["code"] == "malformed"
    assert relayed == {"event": "test.ping", "payload": {"n": 1}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_socket_on_another_server_process_receives_a_broadcast_from_this_one():
    # given: a user, and a real uvicorn process on the same test database and Redis
    user = UserFactory()
    token = access_token_for(user)
    db = settings.DATABASES["default"]
    port = _free_port()
    env = dict(os.environ)
    env.update(
        DAIRA_DEBUG="true",
        DAIRA_SECRET_KEY=settings.SECRET_KEY,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
    )
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "uvicorn"), "daira.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--lifespan", "off", "--log-level", "warning"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        async def scenario():
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket_ = await websockets.connect(f"ws://127.0.0.1:{port}/ws/events/?token={token}")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
            async with socket_:
                hello = json.loads(await asyncio.wait_for(socket_.recv(), 10))
                # when: this process (not the server) broadcasts to the user's group
                await asyncio.get_running_loop().run_in_executor(
                    None, realtime.send_now, realtime.user_group(user.pk), "message.created", {"message_id": "42"}
                )
                received = json.loads(await asyncio.wait_for(socket_.recv(), 10))
            return hello, received

        hello, received = asyncio.run(scenario())
    finally:
        server.terminate()
        output = server.communicate(timeout=15)[0]

    # then
    assert hello["event"] == "connected", output
    assert received == {"event": "message.created", "payload": {"message_id": "42"}}


@pytest.mark.django_db(transaction=True)
def test_revoking_a_session_closes_its_open_sockets_but_not_the_others():
    from accounts.services import session_revoke
    from accounts.tests.factories import login_for

    # given: one user with two devices, each with a socket open
    user = UserFactory()
    phone, laptop = login_for(user, device_name="phone"), login_for(user, device_name="laptop")

    async def scenario():
        phone_socket = WebsocketCommunicator(application, f"/ws/events/?token={phone.tokens.access}")
        laptop_socket = WebsocketCommunicator(application, f"/ws/events/?token={laptop.tokens.access}")
        for socket_ in (phone_socket, laptop_socket):
            await socket_.connect()
            await socket_.receive_json_from(timeout=5)  # "connected"
        # when: the phone's session is revoked (from another device, or the admin)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: session_revoke(user=user, session_id=phone.session.pk)
        )
        phone_event = await phone_socket.receive_json_from(timeout=5)
        phone_closed = await phone_socket.receive_output(timeout=5)
        laptop_event = await laptop_socket.receive_json_from(timeout=5)
        laptop_still_open = await laptop_socket.receive_nothing(timeout=0.3)
        await laptop_socket.disconnect()
        return phone_event, phone_closed, laptop_event, laptop_still_open

    phone_event, phone_closed, laptop_event, laptop_still_open = asyncio.run(scenario())

    # then
    assert phone_event == {"event": "session.revoked", "payload": {"session_ids": [str(phone.session.pk)]}}
    assert phone_closed == {"type": "websocket.close", "code": 4401}
    assert laptop_event == phone_event
    assert laptop_still_open is True
