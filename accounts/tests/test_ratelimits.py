from datetime import timedelta

import pytest

from accounts.models import OtpChallenge
from accounts.tests.factories import UserFactory, login_for

pytestmark = pytest.mark.django_db


def _assert_429(response, window_s: int):
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= window_s


def test_login_is_limited_to_5_per_15_minutes_per_identifier(api_client):
    # given
    UserFactory(handle="mona")
    for n in range(5):
        response = api_client.post("/api/v1/auth/login", {"identifier": "mona", "password": "wrong"}, format="json",
                                   REMOTE_ADDR=f"10.1.0.{n}")
        assert response.status_code == 401

    # when: even the right password, from yet another network, case changed
    response = api_client.post("/api/v1/auth/login", {"identifier": "MONA", "password": "correct-horse-battery"},
                               format="json", REMOTE_ADDR="10.1.1.1")

    # then
    _assert_429(response, 15 * 60)


def test_login_is_limited_to_20_per_15_minutes_per_ip(api_client):
    for n in range(20):
        response = api_client.post("/api/v1/auth/login", {"identifier": f"someone{n}", "password": "x"}, format="json")
        assert response.status_code == 401

    response = api_client.post("/api/v1/auth/login", {"identifier": "another", "password": "x"}, format="json")

    _assert_429(response, 15 * 60)


def test_register_is_limited_to_3_per_hour_per_ip(api_client):
    for n in range(3):
        response = api_client.post("/api/v1/auth/register", {
            "handle": f"newbie{n}", "password": "a long passphrase 42", "email": f"n{n}@example.com",
        }, format="json")
        assert response.status_code == 201

    response = api_client.post("/api/v1/auth/register", {
        "handle": "newbie9", "password": "a long passphrase 42", "email": "n9@example.com",
    }, format="json")

    _assert_429(response, 60 * 60)
    other_network = api_client.post("/api/v1/auth/register", {
        "handle": "newbie9", "password": "a long passphrase 42", "email": "n9@example.com",
    }, format="json", REMOTE_ADDR="10.2.0.1")
    assert other_network.status_code == 201


def test_otp_requests_are_limited_to_3_per_10_minutes_per_number(api_client, console_codes):
    for _ in range(3):
        response = api_client.post("/api/v1/auth/otp/request", {"phone": "01012345678", "purpose": "register"},
                                   format="json")
        assert response.status_code == 200
        # step past the 60 s resend cooldown, which is a separate rule
        for challenge in OtpChallenge.objects.all():
            OtpChallenge.objects.filter(pk=challenge.pk).update(created_at=challenge.created_at - timedelta(seconds=61))

    response = api_client.post("/api/v1/auth/otp/request", {"phone": "+201012345678", "purpose": "register"},
                               format="json")

    _assert_429(response, 10 * 60)
    assert len(console_codes()) == 3


def test_refresh_is_limited_to_10_per_hour_per_session(api_client):
    user = UserFactory()
    refresh = login_for(user).tokens.refresh
    for _ in range(10):
        response = api_client.post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json")
        assert response.status_code == 200
        refresh = response.json()["refresh"]

    response = api_client.post("/api/v1/auth/token/refresh", {"refresh": refresh}, format="json")

    _assert_429(response, 60 * 60)
    other_session = login_for(user).tokens.refresh
    assert api_client.post("/api/v1/auth/token/refresh", {"refresh": other_session},
                           format="json").status_code == 200


def test_graphql_login_reports_rate_limit_with_retry_after(graphql):
    UserFactory(handle="mona")
    query = 'mutation { login(identifier: "mona", password: "wrong") { errors { code retryAfter } } }'
    for _ in range(5):
        graphql(query)

    body = graphql(query)

    error = body["data"]["login"]["errors"][0]
    assert error["code"] == "rate_limited"
    assert 0 < error["retryAfter"] <= 15 * 60
