"""The HTTP plumbing: one JSON error shape, request ids, docs, GraphQL auth, health."""

import json
import re
import subprocess
import time

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("daira.tests.urls")]


def test_unknown_route_is_json_404(api_client):
    response = api_client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No such endpoint.", "fields": {}}}


def test_malformed_json_is_400(api_client):
    response = api_client.post("/api/v1/test/echo", data=b'{"a": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"


@pytest.mark.parametrize("raw", [
    b'{"a": "\\ud800"}', b'{"a": ["ok", {"\\udfff": 1}]}', b'{"a": NaN}', b'{"a": "\xff"}',
])
def test_json_that_is_not_valid_unicode_or_strict_json_is_400(api_client, raw):
    # a lone surrogate escape decodes to a Python string no database or encoder accepts
    response = api_client.post("/api/v1/test/echo", data=raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"


def test_json_with_escaped_surrogate_pairs_is_accepted(api_client):
    response = api_client.post("/api/v1/test/echo", data=b'{"a": "\\ud83d\\ude00 \\u0645"}',
                               content_type="application/json")

    assert response.status_code == 200
    assert response.json()["received"] == {"a": "\U0001f600 \u0645"}


def test_body_over_the_limit_is_413(api_client, settings):
    settings.DAIRA_MAX_BODY_BYTES = 1_000

    response = api_client.post("/api/v1/test/echo", data=json.dumps({"a": "x" * 2_000}), content_type="application/json")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_application_error_maps_to_status_code_and_fields(api_client):
    response = api_client.get("/api/v1/test/conflict")

    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "handle_taken", "message": "That handle is taken.", "fields": {"handle": ["That handle is taken."]}}
    }


def test_rate_limited_has_retry_after(api_client):
    response = api_client.get("/api/v1/test/limited")

    assert response.status_code == 429
    assert response["Retry-After"] == "42"
    assert response.json()["error"]["retry_after"] == 42


def test_unhandled_exception_is_500_with_request_id_and_no_trace():
    # A plain client that does not re-raise: we want to see what a phone would see.
    client = Client(raise_request_exception=False)
    from django.core.signals import got_request_exception

    # The suite fails on any 500 through this signal; this test provokes one on purpose.
    receivers = got_request_exception.receivers[:]
    got_request_exception.receivers.clear()
    try:
        response = client.get("/api/v1/test/boom", HTTP_X_REQUEST_ID="req-123")
    finally:
        got_request_exception.receivers[:] = receivers

    assert response.status_code == 500
    body = response.json()
    assert body == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side.", "fields": {},
                  "request_id": "req-123"}
    }
    assert b"ZeroDivisionError" not in response.content
    assert response["X-Request-ID"] == "req-123"


def test_every_response_carries_a_request_id(api_client):
    response = api_client.get("/health/live")

    assert response.status_code == 200
    assert len(response["X-Request-ID"]) == 32


def test_openapi_schema_and_swagger_ui_are_served_with_local_assets(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = Client().get("/api/docs/")

    assert schema.status_code == 200
    assert docs.status_code == 200
    html = docs.content.decode()
    # no asset from another host (the page also carries a random token, so match URLs, not "cdn")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"https?://[^\s\"']*cdn", html, re.IGNORECASE)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html


def test_graphiql_is_served_from_local_assets_with_integrity_pins():
    response = Client().get("/graphql/", HTTP_ACCEPT="text/html")

    html = response.content.decode()
    assert response.status_code == 200
    assert "cdn.jsdelivr" not in html
    assert html.count('integrity="sha256-') == 8
    assert "/static/vendor/graphiql/graphiql.min.js" in html


def test_graphql_uses_the_same_bearer_authentication(graphql):
    user = UserFactory(handle="mona")

    anonymous = graphql("{ apiVersion }")
    authenticated = graphql("{ apiVersion }", user=user)

    assert anonymous == {"data": {"apiVersion": "1.0.0"}}
    assert authenticated == {"data": {"apiVersion": "1.0.0"}}


def test_graphql_malformed_body_is_a_client_error():
    response = Client().post("/graphql/", data=b"{not json", content_type="application/json")

    assert response.status_code == 400


def test_health_ready_reports_every_part(api_client):
    response = api_client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert set(response.json()["checks"]) == {"postgres", "redis", "broker"}


@pytest.mark.slow
def test_health_ready_names_a_stopped_redis_as_503(api_client, settings, tmp_path):
    # given: a real Redis of our own, which we then stop
    from daira.embedded import _redis_binary

    port = 6400 + (int(time.time()) % 500)
    server = subprocess.Popen(
        [_redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        settings.REDIS_URL = settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while Client().get("/health/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Client().get("/health/ready").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)

    # when (a plain client: the strict one refuses any 5xx)
    response = Client().get("/health/ready")

    # then
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis", "broker"]
    assert body["checks"]["postgres"]["ok"] is True
    assert body["error"]["code"] == "unavailable"


def test_private_media_is_not_served_by_its_raw_path(api_client, settings, tmp_path):
    # given: a private file and a public one in local storage
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "private" / "1" / "tok").mkdir(parents=True)
    (tmp_path / "private" / "1" / "tok" / "a.jpg").write_bytes(b"secret")
    (tmp_path / "media" / "2").mkdir(parents=True)
    (tmp_path / "media" / "2" / "b.jpg").write_bytes(b"public")

    # when
    private = api_client.get("/media/private/1/tok/a.jpg")
    sneaky = api_client.get("/media/media/../private/1/tok/a.jpg")
    public = api_client.get("/media/media/2/b.jpg")

    # then
    assert (private.status_code, sneaky.status_code) == (404, 404)
    assert public.status_code == 200
    assert b"".join(public.streaming_content) == b"public"
