"""daira/lib/asgi.py: HTTP through the pooled-thread ASGI handler that production serves."""

import asyncio
import json
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.db import connection, connections
from django.http import JsonResponse
from django.urls import path

from accounts.tests.factories import UserFactory, access_token_for
from daira.lib.asgi import PooledThreadASGIHandler
from daira.urls import urlpatterns as real_urlpatterns


def whoami(request):
    """Which thread served the view, and which Postgres backend it talked to."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend_pid,) = cursor.fetchone()
    return JsonResponse({"thread": threading.current_thread().name, "backend_pid": backend_pid})


urlpatterns = [path("test/whoami", whoami), *real_urlpatterns]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]


async def _request(app, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> dict:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items())],
        "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(timeout=10)
    chunks = []
    while True:
        message = await communicator.receive_output(timeout=10)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=10)
    return {"status": start["status"], "headers": {k.decode().lower(): v.decode() for k, v in start["headers"]},
            "body": b"".join(chunks)}


@pytest.fixture
def handler():
    app = PooledThreadASGIHandler(threads=2)
    yield app
    # The pool's threads keep their connections; close them so the test database can go.
    # The barrier makes each of the two threads take one of the two closing jobs.
    barrier = threading.Barrier(2)

    def close_this_threads_connections():
        barrier.wait(timeout=10)
        connections.close_all()

    for job in [app._executor.submit(close_this_threads_connections) for _ in range(2)]:
        job.result()
    app._executor.shutdown(wait=True)


def test_a_request_gets_the_full_middleware_chain(handler):
    response = asyncio.run(_request(handler, "GET", "/health/live"))

    assert response["status"] == 200
    assert response["headers"]["x-request-id"]  # set by daira's request-id middleware


def test_errors_keep_the_json_shape(handler):
    response = asyncio.run(_request(handler, "GET", "/api/v1/no-such-thing"))

    assert response["status"] == 404
    assert b'"not_found"' in response["body"]


def test_an_authenticated_api_call_sees_its_user(handler):
    user = UserFactory()

    response = asyncio.run(_request(handler, "GET", "/api/v1/wallet/balances",
                                    {"Authorization": f"Bearer {access_token_for(user)}"}))
    anonymous = asyncio.run(_request(handler, "GET", "/api/v1/wallet/balances"))

    assert response["status"] == 200
    assert anonymous["status"] == 401


def test_views_run_in_the_bounded_pool_and_keep_their_connection(handler, monkeypatch):
    # given: persistent connections, as in production (every thread's wrapper shares this dict)
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)

    async def many():
        return await asyncio.gather(*(_request(handler, "GET", "/test/whoami") for _ in range(12)))

    # when: more requests at once than the pool has threads
    responses = asyncio.run(many())

    # then: every one served, by at most two threads of the pool, each reusing one connection
    served = [json.loads(r["body"]) for r in responses]
    assert [r["status"] for r in responses] == [200] * 12
    assert {s["thread"].split("_")[0] for s in served} == {"daira-http"}
    threads = {s["thread"] for s in served}
    assert 1 <= len(threads) <= 2
    assert len({s["backend_pid"] for s in served}) == len(threads)
