"""Every social endpoint called as the wrong user: the blocker, the blocked, a stranger to a
private account, a logged-out caller, someone whose account is gone. Each gets 401/403/404
and never the data; nothing is written on their behalf."""

from __future__ import annotations

import pytest

from accounts.models import User
from accounts.tests.factories import UserFactory
from social import services
from social.models import CloseFriend, Follow, FollowRequest, FriendRequest, Mute
from social.tests.factories import make_friends

pytestmark = pytest.mark.django_db


def _statuses(client, calls: dict[str, tuple[str, str]]) -> dict[str, int]:
    return {name: getattr(client, method)(path).status_code for name, (method, path) in calls.items()}


def test_the_blocker_cannot_reach_the_blocked_either(auth_client):
    # given: bob blocks alice, after alice had followed him and they were friends
    alice, bob = UserFactory(), UserFactory()
    services.follow_create(actor=alice, target=bob)
    make_friends(alice, bob)
    services.block_create(actor=bob, target=alice)
    client = auth_client(bob)

    # when: bob turns to alice's profile and lists, and tries to re-connect
    statuses = _statuses(client, {
        "profile": ("get", f"/api/v1/users/{alice.handle}"),
        "followers": ("get", f"/api/v1/users/{alice.handle}/followers"),
        "following": ("get", f"/api/v1/users/{alice.handle}/following"),
        "friends": ("get", f"/api/v1/users/{alice.handle}/friends"),
        "relationship": ("get", f"/api/v1/users/{alice.handle}/relationship"),
        "follow": ("post", f"/api/v1/users/{alice.handle}/follow"),
        "friend": ("post", f"/api/v1/friends/requests/{alice.handle}"),
        "mute": ("post", f"/api/v1/users/{alice.handle}/mute"),
    })
    close_friend = client.post("/api/v1/me/close-friends", {"handle": alice.handle}).status_code

    # then
    assert statuses == {name: 404 for name in statuses}
    assert close_friend == 404
    assert Follow.objects.exists() is False
    assert FriendRequest.objects.exists() is False
    assert CloseFriend.objects.exists() is False
    assert Mute.objects.exists() is False


def test_the_blocked_cannot_see_the_blocker_in_third_party_lists(auth_client):
    # given: both follow carol; bob blocks alice
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    services.follow_create(actor=alice, target=carol)
    services.follow_create(actor=bob, target=carol)
    services.block_create(actor=bob, target=alice)

    # when
    seen_by_alice = auth_client(alice).get(f"/api/v1/users/{carol.handle}/followers").json()
    seen_by_bob = auth_client(bob).get(f"/api/v1/users/{carol.handle}/followers").json()

    # then
    assert [row["user"]["handle"] for row in seen_by_alice["results"]] == [alice.handle]
    assert [row["user"]["handle"] for row in seen_by_bob["results"]] == [bob.handle]


def test_blocked_requests_cannot_be_accepted_and_are_gone(auth_client):
    # given: alice asked to follow private bob and to be his friend; then bob blocks her
    alice, bob = UserFactory(), UserFactory()
    User.objects.filter(pk=bob.pk).update(is_private=True)
    bob.refresh_from_db()
    services.follow_create(actor=alice, target=bob)
    services.friend_request_create(actor=alice, target=bob)
    services.block_create(actor=bob, target=alice)
    client = auth_client(bob)

    # when
    statuses = _statuses(client, {
        "accept_follow": ("post", f"/api/v1/follow-requests/{alice.handle}/accept"),
        "accept_friend": ("post", f"/api/v1/friends/requests/{alice.handle}/accept"),
    })
    incoming = client.get("/api/v1/follow-requests").json()["results"]
    incoming_friends = client.get("/api/v1/friends/requests").json()["results"]

    # then
    assert statuses == {"accept_follow": 404, "accept_friend": 404}
    assert (incoming, incoming_friends) == ([], [])
    assert Follow.objects.exists() is False
    assert FollowRequest.objects.exists() is False


def test_private_lists_are_403_to_strangers_and_logged_out_callers(api_client, auth_client):
    # given: a private account with one approved follower
    owner, follower, stranger = UserFactory(), UserFactory(), UserFactory()
    User.objects.filter(pk=owner.pk).update(is_private=True)
    Follow.objects.create(follower=follower, followee=owner)
    routes = [f"/api/v1/users/{owner.handle}/{name}" for name in ("followers", "following", "friends")]

    # when
    as_stranger = [auth_client(stranger).get(route) for route in routes]
    as_anonymous = [api_client.get(route) for route in routes]
    as_follower = [auth_client(follower).get(route) for route in routes]
    profile_as_anonymous = api_client.get(f"/api/v1/users/{owner.handle}").json()

    # then: the header is public, the lists are not
    assert [(r.status_code, r.json()["error"]["code"]) for r in as_stranger + as_anonymous] == [
        (403, "private_account")
    ] * 6
    assert [r.status_code for r in as_follower] == [200, 200, 200]
    assert (profile_as_anonymous["is_private"], profile_as_anonymous["content_visible"]) == (True, False)
    assert {"phone", "email", "settings", "status"}.isdisjoint(profile_as_anonymous)


def test_logged_out_callers_get_401_on_everything_personal(api_client):
    bob = UserFactory()
    calls = {
        "relationship": ("get", f"/api/v1/users/{bob.handle}/relationship"),
        "follow": ("post", f"/api/v1/users/{bob.handle}/follow"),
        "block": ("post", f"/api/v1/users/{bob.handle}/block"),
        "mute": ("post", f"/api/v1/users/{bob.handle}/mute"),
        "friend": ("post", f"/api/v1/friends/requests/{bob.handle}"),
        "follow_requests": ("get", "/api/v1/follow-requests"),
        "friend_requests": ("get", "/api/v1/friends/requests"),
        "blocked": ("get", "/api/v1/me/blocked"),
        "muted": ("get", "/api/v1/me/muted"),
        "close_friends": ("get", "/api/v1/me/close-friends"),
        "circles": ("get", "/api/v1/me/circles"),
        "pymk": ("get", "/api/v1/me/people-you-may-know"),
        "remove_follower": ("delete", f"/api/v1/me/followers/{bob.handle}"),
    }

    assert _statuses(api_client, calls) == {name: 401 for name in calls}


@pytest.mark.parametrize("status", [User.Status.SUSPENDED, User.Status.DEACTIVATED])
def test_gone_accounts_are_404_everywhere(auth_client, api_client, status):
    # given
    gone, viewer = UserFactory(), UserFactory()
    services.follow_create(actor=viewer, target=gone)
    User.objects.filter(pk=gone.pk).update(status=status)
    routes = [f"/api/v1/users/{gone.handle}{suffix}" for suffix in ("", "/followers", "/following", "/friends")]

    # when
    statuses = [auth_client(viewer).get(route).status_code for route in routes]
    statuses += [api_client.get(route).status_code for route in routes]
    follow_again = auth_client(viewer).post(f"/api/v1/users/{gone.handle}/follow").status_code

    # then
    assert statuses == [404] * 8
    assert follow_again == 404


def test_someone_elses_circle_members_cannot_be_changed(auth_client):
    # given: owner's circle holds fan
    owner, fan, intruder = UserFactory(), UserFactory(), UserFactory()
    services.follow_create(actor=fan, target=owner)
    services.follow_create(actor=fan, target=intruder)
    circle = services.circle_create(actor=owner, name="Family")
    services.circle_members_add(actor=owner, circle_id=circle.pk, user_ids=[fan.pk])
    client = auth_client(intruder)

    # when
    add = client.post(f"/api/v1/me/circles/{circle.pk}/members", {"user_ids": [str(fan.pk)]}, format="json")
    remove = client.delete(f"/api/v1/me/circles/{circle.pk}/members/{fan.pk}")
    delete = client.delete(f"/api/v1/me/circles/{circle.pk}")

    # then: deleting is idempotent (204 for a missing circle too), so it reveals nothing and removes nothing
    assert (add.status_code, remove.status_code, delete.status_code) == (404, 404, 204)
    circle.refresh_from_db()
    assert circle.member_count == 1


def test_graphql_blocked_users_get_not_found_errors(graphql):
    # given: bob blocks alice
    alice, bob = UserFactory(), UserFactory()
    services.block_create(actor=bob, target=alice)

    # when
    lists = graphql(
        "query($h: String!) { followers(handle: $h) { nextCursor } relationship(handle: $h) { isFollowing } }",
        {"h": bob.handle}, user=alice,
    )
    follow = graphql(
        "mutation($h: String!) { followCreate(handle: $h) { status errors { code } } }", {"h": bob.handle}, user=alice
    )

    # then
    assert lists["data"] is None  # both fields are non-null: the first error nulls the whole query
    assert {e["extensions"]["code"] for e in lists["errors"]} == {"not_found"}
    assert follow["data"]["followCreate"] == {"status": None, "errors": [{"code": "not_found"}]}
    assert Follow.objects.exists() is False
