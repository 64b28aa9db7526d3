import json

import pytest
from rest_framework.test import APIClient

from accounts.models import DeviceSession, User
from accounts.tests.factories import UserFactory, access_token_for, login_for

pytestmark = pytest.mark.django_db

AUTH_FIELDS = "errors { code field message } twoFactorRequired tokens { access refresh sessionId } user { id handle }"


def test_register_login_refresh_and_me_over_graphql(graphql):
    # when
    registered = graphql(f"""mutation {{ register(handle: "Mona", password: "a long passphrase 42",
                              email: "m@example.com") {{ {AUTH_FIELDS} }} }}""")["data"]["register"]
    logged_in = graphql(f"""mutation {{ login(identifier: "mona", password: "a long passphrase 42",
                             deviceName: "iPhone") {{ {AUTH_FIELDS} }} }}""")["data"]["login"]
    refreshed = graphql("""mutation($r: String!) { refreshToken(refresh: $r) { errors { code } tokens { refresh } } }""",
                        {"r": logged_in["tokens"]["refresh"]})["data"]["refreshToken"]
    reused = graphql("""mutation($r: String!) { refreshToken(refresh: $r) { errors { code } tokens { refresh } } }""",
                     {"r": logged_in["tokens"]["refresh"]})["data"]["refreshToken"]

    # then
    user = User.objects.get(handle="mona")
    assert registered["errors"] == []
    assert registered["user"] == {"id": str(user.pk), "handle": "mona"}
    assert logged_in["tokens"]["sessionId"] == str(DeviceSession.objects.get(device_name="iPhone").pk)
    assert refreshed["errors"] == []
    assert reused == {"errors": [{"code": "token_reused"}], "tokens": None}


def test_register_errors_are_typed_per_field(graphql):
    UserFactory(handle="taken")

    body = graphql(f"""mutation {{ register(handle: "taken", password: "short", email: "bad") {{ {AUTH_FIELDS} }} }}""")

    errors = body["data"]["register"]["errors"]
    assert {e["field"] for e in errors} == {"handle", "email", "password"}


def test_me_update_profile_and_user_query(graphql):
    user = UserFactory(handle="mona")
    other = UserFactory(handle="ali", status=User.Status.SUSPENDED)

    updated = graphql("""mutation { updateProfile(displayName: "Mona", bio: "hi", links: ["https://m.example"]) {
                           errors { code field } me { displayName bio links phoneVerified settings { dataSaver } } } }""",
                      user=user)["data"]["updateProfile"]
    me = graphql("{ me { id handle twoFactorEnabled } }", user=user)["data"]["me"]
    public = graphql('{ user(handle: "MONA") { id handle counts { followers posts } extra } }')["data"]["user"]
    hidden = graphql('{ user(handle: "ali") { id } }')["data"]["user"]

    assert updated == {"errors": [], "me": {"displayName": "Mona", "bio": "hi", "links": ["https://m.example"],
                                            "phoneVerified": False, "settings": {"dataSaver": True}}}
    assert me == {"id": str(user.pk), "handle": "mona", "twoFactorEnabled": False}
    assert public["id"] == str(user.pk)
    assert public["counts"] == {"followers": 0, "posts": 0}
    assert hidden is None
    assert other.status == User.Status.SUSPENDED


def test_governorate_through_graphql_is_private_and_validated(graphql):
    user = UserFactory(handle="mona")

    updated = graphql('mutation { updateProfile(governorate: "EG-GZ") { errors { code } me { governorate } } }',
                      user=user)["data"]["updateProfile"]
    refused = graphql('mutation { updateProfile(governorate: "Mars") { errors { code field } } }',
                      user=user)["data"]["updateProfile"]
    public = graphql('{ user(handle: "mona") { governorate } }')

    assert updated == {"errors": [], "me": {"governorate": "EG-GZ"}}
    assert refused["errors"] == [{"code": "invalid", "field": "governorate"}]
    assert "errors" in public  # UserType (the public profile) has no governorate field


def test_sessions_and_logout_over_graphql(graphql):
    user = UserFactory()
    login_for(user, device_name="old")
    from rest_framework.test import APIClient

    tokens = login_for(user, device_name="current").tokens
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")

    listed = client.post("/graphql/", {"query": "{ mySessions { deviceName current } }"}, format="json").json()
    revoked = client.post("/graphql/", {"query": "mutation { revokeOtherSessions { revoked } }"}, format="json").json()
    out = client.post("/graphql/", {"query": "mutation { logout { ok errors { code } } }"}, format="json").json()

    assert listed["data"]["mySessions"] == [{"deviceName": "current", "current": True},
                                            {"deviceName": "old", "current": False}]
    assert revoked["data"]["revokeOtherSessions"]["revoked"] == 1
    assert out["data"]["logout"] == {"ok": True, "errors": []}
    assert DeviceSession.objects.filter(user=user, revoked_at__isnull=True).exists() is False


def test_mutations_need_login(graphql):
    body = graphql('mutation { updateProfile(bio: "x") { errors { code } } }')

    assert body["data"]["updateProfile"]["errors"] == [{"code": "not_authenticated"}]


@pytest.mark.parametrize("value", ["\x00", "\ud800", "a\udfffb"])
def test_unstorable_text_in_graphql_arguments_is_a_typed_error(value):
    user = UserFactory()

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    query = ("mutation($b: String, $h: String!) { updateProfile(bio: $b) { errors { code field } } "
             "login(identifier: $h, password: $h) { errors { code field } } }")
    # ensure_ascii escapes lone surrogates as \ud800, as a client's JSON encoder would
    raw = json.dumps({"query": query, "variables": {"b": value, "h": value}}).encode()

    response = client.generic("POST", "/graphql/", raw, content_type="application/json")

    assert response.status_code == 200
    body = json.loads(response.content)

    assert body["data"]["updateProfile"]["errors"] == [{"code": "invalid", "field": "bio"}]
    assert {e["field"] for e in body["data"]["login"]["errors"]} == {"identifier", "password"}
