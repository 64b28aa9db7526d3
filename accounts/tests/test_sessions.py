from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuthEvent, DeviceSession
from accounts.tests.factories import UserFactory, login_for

pytestmark = pytest.mark.django_db


def _refresh(api_client, token):
    return api_client.post("/api/v1/auth/token/refresh", {"refresh": token}, format="json")


def test_login_by_handle_phone_and_email_issues_tokens_with_string_ids(api_client):
    # given
    user = UserFactory(handle="mona", phone="+201012345678", email="mona@example.com")

    for identifier in ("Mona", "01012345678", "MONA@example.com"):
        # when
        response = api_client.post("/api/v1/auth/login", {"identifier": identifier,
                                                          "password": "correct-horse-battery",
                                                          "device_name": "Galaxy A54"}, format="json")

        # then
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["two_factor_required"] is False
        assert body["user"]["id"] == str(user.pk)
        assert body["tokens"]["session_id"] == str(DeviceSession.objects.filter(user=user).latest("id").pk)
    assert DeviceSession.objects.filter(user=user, device_name="Galaxy A54").count() == 3


def test_wrong_password_is_401_and_audit_logged(api_client):
    user = UserFactory(handle="mona")

    response = api_client.post("/api/v1/auth/login", {"identifier": "mona", "password": "nope"}, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert list(AuthEvent.objects.filter(user=user).values_list("kind", flat=True)) == ["login_failed"]
    assert DeviceSession.objects.filter(user=user).exists() is False


def test_refresh_rotates_and_old_access_token_keeps_working_until_expiry(api_client):
    # given
    user = UserFactory()
    first = login_for(user).tokens

    # when
    response = _refresh(api_client, first.refresh)

    # then
    assert response.status_code == 200
    second = response.json()
    assert second["refresh"] != first.refresh
    assert second["session_id"] == str(first.session_id)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {second['access']}")
    assert api_client.get("/api/v1/me").status_code == 200
    assert _refresh(api_client, second["refresh"]).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_session_family(api_client):
    # given: a stolen copy of the first refresh token; the owner has rotated since
    user = UserFactory()
    first = login_for(user).tokens
    second = _refresh(api_client, first.refresh).json()
    third = _refresh(api_client, second["refresh"]).json()

    # when: the thief replays the old one
    response = _refresh(api_client, first.refresh)

    # then: refused, the session is gone, and every token of the family is dead
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_reused"
    session = DeviceSession.objects.get(pk=first.session_id)
    assert session.revoked_reason == "token_reuse"
    assert _refresh(api_client, third["refresh"]).status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {third['access']}")
    assert api_client.get("/api/v1/me").status_code == 401
    assert AuthEvent.objects.filter(user=user, kind="token_reuse").count() == 1


def test_other_sessions_survive_token_reuse_in_one_session(api_client):
    user = UserFactory()
    victim = login_for(user).tokens
    other = login_for(user, device_name="laptop").tokens
    _refresh(api_client, victim.refresh)

    _refresh(api_client, victim.refresh)

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other.access}")
    assert api_client.get("/api/v1/me").status_code == 200


def test_revoked_session_access_token_is_refused_at_once(auth_client, api_client):
    # given
    user = UserFactory()
    phone = login_for(user, device_name="phone").tokens
    laptop = login_for(user, device_name="laptop").tokens
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {laptop.access}")

    # when: the phone revokes the laptop's session
    phone_client = type(api_client)()
    phone_client.credentials(HTTP_AUTHORIZATION=f"Bearer {phone.access}")
    response = phone_client.delete(f"/api/v1/me/sessions/{laptop.session_id}")

    # then
    assert response.status_code == 204
    refused = api_client.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "session_revoked"
    assert phone_client.get("/api/v1/me").status_code == 200


def test_revoked_session_token_is_refused_by_graphql_too(graphql):
    user = UserFactory()
    tokens = login_for(user).tokens
    DeviceSession.objects.filter(pk=tokens.session_id).update(revoked_at=timezone.now())
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")
    body = client.post("/graphql/", {"query": "{ me { handle } }"}, format="json").json()

    assert body["data"]["me"] is None


def test_sessions_list_marks_current_and_revoke_others_keeps_it(auth_client, api_client):
    # given
    user = UserFactory()
    login_for(user, device_name="old phone")
    current = login_for(user, device_name="this phone").tokens
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {current.access}")

    # when
    listed = api_client.get("/api/v1/me/sessions").json()
    revoked = api_client.post("/api/v1/me/sessions/revoke-others").json()

    # then
    assert [(s["device_name"], s["current"]) for s in listed["results"]] == [("this phone", True),
                                                                             ("old phone", False)]
    assert revoked == {"revoked": 1}
    assert [s["device_name"] for s in api_client.get("/api/v1/me/sessions").json()["results"]] == ["this phone"]


def test_logout_ends_this_session_only(api_client):
    user = UserFactory()
    tokens = login_for(user).tokens
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")

    assert api_client.post("/api/v1/auth/logout").status_code == 204

    assert api_client.get("/api/v1/me").status_code == 401
    assert _refresh(type(api_client)(), tokens.refresh).status_code == 401


def test_requests_refresh_last_seen_at_most_once_a_minute(api_client):
    # given a session last seen ten minutes ago
    user = UserFactory()
    login = login_for(user)
    old = timezone.now() - timedelta(minutes=10)
    DeviceSession.objects.filter(pk=login.session.pk).update(last_seen_at=old)
    type(user).objects.filter(pk=user.pk).update(last_active_at=old)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.tokens.access}")

    # when it makes a request, and another within the minute
    with CaptureQueriesContext(connection) as first:
        assert api_client.get("/api/v1/me").status_code == 200
    session = DeviceSession.objects.get(pk=login.session.pk)
    user.refresh_from_db()
    with CaptureQueriesContext(connection) as second:
        assert api_client.get("/api/v1/me").status_code == 200

    # then the first moved both clocks forward together, in one statement; the second wrote nothing
    touches = [q["sql"] for q in first.captured_queries if 'SET "last_seen_at"' in q["sql"]]
    assert len(touches) == 1 and 'SET "last_active_at"' in touches[0]
    assert session.last_seen_at > old
    assert user.last_active_at == session.last_seen_at
    assert DeviceSession.objects.get(pk=login.session.pk).last_seen_at == session.last_seen_at
    assert not [q["sql"] for q in second.captured_queries if 'SET "last_seen_at"' in q["sql"]]


def test_token_without_session_claim_is_refused(api_client):
    from rest_framework_simplejwt.tokens import AccessToken

    user = UserFactory()
    token = AccessToken()
    token["user_id"] = str(user.pk)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert api_client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("sid", ["0", "-5", str(1 << 63), str(1 << 70), "7e3"])
def test_token_with_an_out_of_range_session_claim_is_a_clean_401(api_client, sid):
    # A signed token can only carry what we issued, but the check must not 500 if the signing
    # key ever leaked: the session lookup binds these as bigint parameters.
    from rest_framework_simplejwt.tokens import AccessToken

    user = UserFactory()
    token = AccessToken()
    token["user_id"] = str(user.pk)
    token["sid"] = sid
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


@pytest.mark.parametrize("body", [{}, {"refresh": ""}, {"refresh": "garbage"}, {"refresh": ["x"]}, {"refresh": "a.b.c"}])
def test_malformed_refresh_is_a_clean_error(api_client, body):
    response = api_client.post("/api/v1/auth/token/refresh", body, format="json")

    assert response.status_code in (400, 401)
    assert "error" in response.json()


@pytest.mark.django_db(transaction=True)
def test_revoked_session_token_cannot_open_a_websocket():
    import asyncio

    from channels.testing import WebsocketCommunicator

    from daira.asgi import application

    # given
    user = UserFactory()
    tokens = login_for(user).tokens
    DeviceSession.objects.filter(pk=tokens.session_id).update(revoked_at=timezone.now(), revoked_reason="revoked")

    async def scenario():
        communicator = WebsocketCommunicator(application, f"/ws/events/?token={tokens.access}")
        await communicator.connect()
        closed = await communicator.receive_output(timeout=5)
        await communicator.disconnect()
        return closed

    # then
    assert asyncio.run(scenario()) == {"type": "websocket.close", "code": 4401}


def test_sessions_list_costs_a_fixed_number_of_queries(api_client, django_assert_num_queries):
    # given
    user = UserFactory()
    for n in range(5):
        login_for(user, device_name=f"device {n}")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {login_for(user).tokens.access}")

    # then: the session check (joined with the user) + one page of sessions
    with django_assert_num_queries(2):
        response = api_client.get("/api/v1/me/sessions")
    assert len(response.json()["results"]) == 6
