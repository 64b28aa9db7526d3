"""Two real uvicorn processes on the test database and Redis, one client on each: a message sent
on one server's socket reaches the other server's socket (channels-redis), and typing too."""

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
from django.conf import settings

from accounts.tests.factories import UserFactory, access_token_for
from messaging import services
from messaging.models import Message
from messaging.tests.conftest import follow

BASE_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(port: int) -> subprocess.Popen:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        DAIRA_DEBUG="true",
        DAIRA_SECRET_KEY=settings.SECRET_KEY,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
    )
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "uvicorn"), "daira.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--lifespan", "off", "--log-level", "warning"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


async def _open(port: int, token: str):
    deadline = time.monotonic() + 30
    while True:
        try:
            ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/events/?token={token}")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert hello["event"] == "connected"
    return ws


async def _next(ws, event: str) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["event"] == event:
            return frame


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_chat_between_two_server_processes():
    # given: mona on server A, omar on server B
    mona, omar = UserFactory(), UserFactory()
    follow(mona, omar)
    follow(omar, mona)
    conversation = services.conversation_direct_start(actor=mona, other_id=omar.pk)
    mona_token, omar_token = access_token_for(mona), access_token_for(omar)
    port_a, port_b = _free_port(), _free_port()
    servers = [_start_server(port_a), _start_server(port_b)]
    try:
        async def scenario():
            mona_ws = await _open(port_a, mona_token)
            omar_ws = await _open(port_b, omar_token)
            async with mona_ws, omar_ws:
                # when: mona sends on A; omar types and reads on B
                await mona_ws.send(json.dumps({"type": "message.send", "conversation_id": str(conversation.pk),
                                               "body": "across processes", "client_id": "mp-1"}))
                delivered = await _next(omar_ws, "message.created")
                echoed = await _next(mona_ws, "message.created")
                await omar_ws.send(json.dumps({"type": "typing", "conversation_id": str(conversation.pk)}))
                typing = await _next(mona_ws, "typing")
                await omar_ws.send(json.dumps({"type": "conversation.read", "conversation_id": str(conversation.pk)}))
                read = await _next(mona_ws, "conversation.read")
                await omar_ws.send("{broken")
                error = await _next(omar_ws, "error")
                await omar_ws.send(json.dumps({"type": "ping"}))
                pong = await _next(omar_ws, "pong")
            return delivered, echoed, typing, read, error, pong

        delivered, echoed, typing, read, error, pong = asyncio.run(scenario())
    finally:
        outputs = []
        for server in servers:
            server.terminate()
            outputs.append(server.communicate(timeout=15)[0])

    # then
    message = Message.objects.get()
    assert delivered["payload"]["id"] == str(message.pk), outputs
    assert delivered == echoed
    assert typing["payload"]["user_id"] == str(omar.pk)
    assert read["payload"]["last_read_message_id"] == str(message.pk)
    assert error["payload"]["code"] == "malformed"
    assert pong["event"] == "pong"
