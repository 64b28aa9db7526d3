"""No accounts endpoint answers 500 to malformed input (the strict client fails on any 5xx)."""

import pytest

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ANONYMOUS_POSTS = ["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/login/2fa",
                   "/api/v1/auth/otp/request", "/api/v1/auth/otp/login", "/api/v1/auth/token/refresh",
                   "/api/v1/auth/passkey/options", "/api/v1/auth/passkey/login", "/api/v1/auth/email/verify"]
ME_WRITES = [("patch", "/api/v1/me"), ("delete", "/api/v1/me"), ("patch", "/api/v1/me/settings"),
             ("put", "/api/v1/me/avatar"), ("post", "/api/v1/me/phone"), ("post", "/api/v1/me/phone/confirm"),
             ("post", "/api/v1/me/password"), ("post", "/api/v1/me/email"), ("post", "/api/v1/me/2fa/totp/confirm"),
             ("delete", "/api/v1/me/2fa/totp"), ("post", "/api/v1/me/passkeys")]
GARBAGE = [
    {},
    [],
    "null",
    {"handle": None, "password": None, "identifier": None, "phone": None, "code": None, "refresh": None},
    {"handle": ["a"], "password": {"x": 1}, "identifier": 12, "phone": 1e300, "email": [], "links": {"a": 1},
     "credential": "notadict", "challenge_id": ["x"], "token": {"a": 1}, "bio": 5, "is_private": "maybe"},
    {"identifier": "\x00", "password": "x" * 10000, "phone": "+" + "9" * 200, "code": "١٢٣٤٥٦" * 50,
     "credential": {"rawId": "!!!", "response": {"clientDataJSON": "%%%"}}, "challenge_id": "nope",
     "challenge": "x" * 999, "refresh": "eyJ." * 100},
]


@pytest.mark.parametrize("path", ANONYMOUS_POSTS)
@pytest.mark.parametrize("body", GARBAGE)
def test_anonymous_endpoints_answer_4xx_to_garbage(api_client, path, body):
    response = api_client.post(path, body, format="json", REMOTE_ADDR="10.9.9.9")

    # (an empty body is valid for passkey/options: it starts a discoverable-credential login)
    assert response.status_code < 300 or "error" in response.json()


@pytest.mark.parametrize("path", ANONYMOUS_POSTS)
def test_anonymous_endpoints_answer_4xx_to_broken_json(api_client, path):
    response = api_client.generic("POST", path, b'{"handle": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"


@pytest.mark.parametrize("method,path", ME_WRITES)
@pytest.mark.parametrize("body", GARBAGE)
def test_me_endpoints_answer_4xx_to_garbage(auth_client, method, path, body):
    client = auth_client(UserFactory())

    response = getattr(client, method)(path, body, format="json")

    assert response.status_code < 300 or "error" in response.json()


@pytest.mark.parametrize("path", ["/api/v1/me/sessions/abc", "/api/v1/me/sessions/99999999999999999999999",
                                  "/api/v1/me/sessions/-1", "/api/v1/me/passkeys/0", "/api/v1/me/passkeys/1e5"])
def test_bad_ids_in_paths_are_404(auth_client, path):
    response = auth_client(UserFactory()).delete(path)

    assert response.status_code == 404


@pytest.mark.parametrize("query", ["?cursor=%%%", "?limit=abc", "?limit=-1", "?cursor=OTk5OTk5OTk5OTk5OTk5OTk5OTk5"])
def test_bad_pagination_is_400(auth_client, query):
    response = auth_client(UserFactory()).get(f"/api/v1/me/sessions{query}")

    assert response.status_code == 400


@pytest.mark.parametrize("handle", ["x" * 500, "%00", "ок", "a.b"])
def test_public_profile_with_odd_handles_is_404(api_client, handle):
    assert api_client.get(f"/api/v1/users/{handle}").status_code == 404


def test_export_download_with_garbage_token_is_404(api_client):
    assert api_client.get("/api/v1/me/exports/download?token=" + "x" * 600).status_code == 404
    assert api_client.get("/api/v1/me/exports/download").status_code == 404


SURROGATE_BODY = b'{"handle": "a\\ud800b", "identifier": "\\ud800", "password": "\\udfff", "phone": "\\ud800", "email": "\\ud800@x.com", "code": "\\ud800", "refresh": "\\ud800", "token": "\\ud800", "challenge": "\\ud800"}'


@pytest.mark.parametrize("path", ANONYMOUS_POSTS)
def test_lone_surrogates_in_json_are_refused_cleanly(api_client, path):
    response = api_client.generic("POST", path, SURROGATE_BODY, content_type="application/json",
                                  REMOTE_ADDR="10.9.9.8")

    assert response.status_code < 300 or "error" in response.json()


def test_lone_surrogates_in_profile_fields_are_refused_cleanly(auth_client):
    user = UserFactory()

    response = auth_client(user).generic("PATCH", "/api/v1/me", b'{"display_name": "\\ud800", "bio": "\\udfff"}',
                                         content_type="application/json")

    assert response.status_code == 400
    user.profile.refresh_from_db()
    assert user.profile.display_name == ""
