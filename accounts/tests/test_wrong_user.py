"""Accounts endpoints called as the wrong user: another user's sessions and passkeys,
profiles across a block, tokens of accounts that are gone. Each gets 401/404, never data,
and nothing of the owner's changes."""

from __future__ import annotations

import pytest

from accounts.models import DeviceSession, Passkey, User
from accounts.tests.factories import UserFactory, login_for
from social import services as social_services

pytestmark = pytest.mark.django_db


def test_another_users_session_cannot_be_revoked(auth_client):
    # given: bob is logged in on a device
    alice, bob = UserFactory(), UserFactory()
    bob_session = login_for(bob).session

    # when
    response = auth_client(alice).delete(f"/api/v1/me/sessions/{bob_session.pk}")

    # then: it looks missing, and bob stays logged in
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
    assert DeviceSession.objects.get(pk=bob_session.pk).revoked_at is None


def test_another_users_passkey_cannot_be_deleted(auth_client):
    # given
    alice, bob = UserFactory(), UserFactory()
    passkey = Passkey.objects.create(user=bob, name="bob's phone", credential_id=b"bob-key", public_key=b"pk")

    # when
    response = auth_client(alice).delete(f"/api/v1/me/passkeys/{passkey.pk}")
    listed = auth_client(alice).get("/api/v1/me/passkeys").json()

    # then
    assert response.status_code == 404
    assert listed["results"] == []
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_my_lists_hold_only_my_rows(auth_client):
    # given: bob has sessions and security events of his own
    alice, bob = UserFactory(), UserFactory()
    login_for(bob)
    client = auth_client(alice)

    # when
    sessions = client.get("/api/v1/me/sessions").json()["results"]
    events = client.get("/api/v1/me/security-events").json()["results"]

    # then: only alice's own (the one login the test client made)
    own = set(DeviceSession.objects.filter(user=alice).values_list("pk", flat=True))
    assert {int(row["id"]) for row in sessions} == own
    assert len(events) == 1


def test_profiles_are_404_across_a_block_both_ways(auth_client, api_client):
    # given: bob blocks alice
    alice, bob = UserFactory(), UserFactory()
    social_services.block_create(actor=bob, target=alice)

    # when
    alice_sees_bob = auth_client(alice).get(f"/api/v1/users/{bob.handle}")
    bob_sees_alice = auth_client(bob).get(f"/api/v1/users/{alice.handle}")
    anonymous_sees_bob = api_client.get(f"/api/v1/users/{bob.handle}")

    # then: a block hides both profiles from each other only
    assert (alice_sees_bob.status_code, bob_sees_alice.status_code) == (404, 404)
    assert anonymous_sees_bob.status_code == 200


def test_public_profile_never_carries_private_fields(api_client, auth_client):
    # given
    owner, viewer = UserFactory(phone="+201012345678"), UserFactory()

    # when
    bodies = [api_client.get(f"/api/v1/users/{owner.handle}").json(),
              auth_client(viewer).get(f"/api/v1/users/{owner.handle}").json()]

    # then
    for body in bodies:
        assert body["handle"] == owner.handle
        assert {"phone", "email", "settings", "status", "phone_verified", "two_factor_enabled"}.isdisjoint(body)


@pytest.mark.parametrize("status", [User.Status.SUSPENDED, User.Status.DEACTIVATED])
def test_tokens_of_accounts_that_are_gone_are_refused(auth_client, status):
    # given: a token issued before the account was suspended or deleted
    user = UserFactory()
    client = auth_client(user)
    User.objects.filter(pk=user.pk).update(status=status)

    # when
    response = client.get("/api/v1/me")

    # then
    assert response.status_code == 401


def test_graphql_profile_of_a_blocker_is_not_found(graphql):
    # given: bob blocks alice
    alice, bob = UserFactory(), UserFactory()
    social_services.block_create(actor=bob, target=alice)

    # when
    body = graphql("query($h: String!) { user(handle: $h) { handle } }", {"h": bob.handle}, user=alice)

    # then
    assert body["data"] == {"user": None}
