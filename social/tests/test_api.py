"""REST and GraphQL endpoints: happy paths, pagination, errors, and agreement with the policy."""

from __future__ import annotations

import pytest

from accounts.models import User
from accounts.tests.factories import UserFactory
from daira.lib.pagination import encode_cursor
from social import policy, services
from social.models import AccountFlag, Block, Circle, CircleMember, CloseFriend, Follow, FollowRequest, Mute
from social.tests.factories import block

pytestmark = pytest.mark.django_db


def private_user() -> User:
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(is_private=True)
    user.refresh_from_db()
    return user


# --- REST: follows ---------------------------------------------------------------------------
def test_follow_and_unfollow_over_rest(auth_client):
    alice, bob = UserFactory(), UserFactory()
    client = auth_client(alice)

    followed = client.post(f"/api/v1/users/{bob.handle}/follow")
    again = client.post(f"/api/v1/users/{bob.handle.upper()}/follow")
    assert (followed.status_code, followed.json()) == (200, {"status": "following"})
    assert (again.status_code, again.json()) == (200, {"status": "following"})
    assert Follow.objects.filter(follower=alice, followee=bob).count() == 1

    unfollowed = client.delete(f"/api/v1/users/{bob.handle}/follow")
    assert (unfollowed.status_code, unfollowed.json()) == (200, {"status": "none"})
    assert Follow.objects.exists() is False


def test_follow_requires_login(api_client):
    bob = UserFactory()

    response = api_client.post(f"/api/v1/users/{bob.handle}/follow")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert Follow.objects.exists() is False


def test_private_account_request_flow_over_rest(auth_client):
    alice, bob = UserFactory(), private_user()

    requested = auth_client(alice).post(f"/api/v1/users/{bob.handle}/follow")
    incoming = auth_client(bob).get("/api/v1/follow-requests")
    sent = auth_client(alice).get("/api/v1/follow-requests/sent")
    accepted = auth_client(bob).post(f"/api/v1/follow-requests/{alice.handle}/accept")

    assert requested.json() == {"status": "requested"}
    assert [row["user"]["handle"] for row in incoming.json()["results"]] == [alice.handle]
    assert [row["user"]["handle"] for row in sent.json()["results"]] == [bob.handle]
    assert accepted.status_code == 204
    assert Follow.objects.filter(follower=alice, followee=bob).exists() is True
    assert FollowRequest.objects.exists() is False


def test_follower_list_pages_with_cursor_and_string_ids(api_client):
    # given
    star = UserFactory()
    fans = [UserFactory() for _ in range(3)]
    for fan in fans:
        services.follow_create(actor=fan, target=star)

    # when
    first = api_client.get(f"/api/v1/users/{star.handle}/followers?limit=2").json()
    second = api_client.get(f"/api/v1/users/{star.handle}/followers?limit=2&cursor={first['next_cursor']}").json()

    # then: newest first, no overlap, ids as strings
    assert [row["user"]["handle"] for row in first["results"]] == [fans[2].handle, fans[1].handle]
    assert [row["user"]["handle"] for row in second["results"]] == [fans[0].handle]
    assert second["next_cursor"] is None
    assert first["results"][0]["user"]["id"] == str(fans[2].pk)
    assert isinstance(first["results"][0]["id"], str)


def test_follower_list_query_count_does_not_grow_with_page_size(auth_client, django_assert_max_num_queries):
    star, viewer = UserFactory(), UserFactory()
    for _ in range(15):
        services.follow_create(actor=UserFactory(), target=star)
    client = auth_client(viewer)

    with django_assert_max_num_queries(20):
        response = client.get(f"/api/v1/users/{star.handle}/followers?limit=15")

    assert len(response.json()["results"]) == 15


def test_lists_hide_blocked_and_inactive_people(auth_client):
    star, viewer, blocked_fan, gone_fan, fan = (UserFactory() for _ in range(5))
    for user in (blocked_fan, gone_fan, fan):
        services.follow_create(actor=user, target=star)
    block(viewer, blocked_fan)
    User.objects.filter(pk=gone_fan.pk).update(status=User.Status.DEACTIVATED)

    response = auth_client(viewer).get(f"/api/v1/users/{star.handle}/followers")

    assert [row["user"]["handle"] for row in response.json()["results"]] == [fan.handle]


def test_remove_follower_over_rest(auth_client):
    alice, bob = UserFactory(), UserFactory()
    services.follow_create(actor=alice, target=bob)

    response = auth_client(bob).delete(f"/api/v1/me/followers/{alice.handle}")

    assert response.status_code == 204
    assert Follow.objects.exists() is False


# --- REST: friends, close friends, circles, blocks, mutes -------------------------------------
def test_friend_flow_over_rest(auth_client):
    alice, bob = UserFactory(), UserFactory()

    sent = auth_client(alice).post(f"/api/v1/friends/requests/{bob.handle}")
    incoming = auth_client(bob).get("/api/v1/friends/requests").json()
    accepted = auth_client(bob).post(f"/api/v1/friends/requests/{alice.handle}/accept")
    friends = auth_client(alice).get(f"/api/v1/users/{alice.handle}/friends").json()
    unfriended = auth_client(alice).delete(f"/api/v1/friends/{bob.handle}")

    assert sent.json() == {"status": "requested"}
    assert [row["user"]["handle"] for row in incoming["results"]] == [alice.handle]
    assert accepted.json() == {"status": "friends"}
    assert [row["user"]["handle"] for row in friends["results"]] == [bob.handle]
    assert unfriended.status_code == 204


def test_close_friends_and_circles_over_rest(auth_client):
    owner, fan = UserFactory(), UserFactory()
    services.follow_create(actor=fan, target=owner)
    client = auth_client(owner)

    added = client.post("/api/v1/me/close-friends", {"handle": fan.handle})
    listed = client.get("/api/v1/me/close-friends").json()
    created = client.post("/api/v1/me/circles", {"name": "Family"})
    circle_id = created.json()["id"]
    members = client.post(f"/api/v1/me/circles/{circle_id}/members", {"user_ids": [str(fan.pk)]})
    member_list = client.get(f"/api/v1/me/circles/{circle_id}/members").json()
    renamed = client.patch(f"/api/v1/me/circles/{circle_id}", {"name": "Fam"})
    removed = client.delete(f"/api/v1/me/circles/{circle_id}/members/{fan.pk}")
    deleted = client.delete(f"/api/v1/me/circles/{circle_id}")

    assert added.status_code == 204
    assert [row["user"]["handle"] for row in listed["results"]] == [fan.handle]
    assert created.status_code == 201
    assert created.json()["name"] == "Family"
    assert members.json()["member_count"] == 1
    assert [row["user"]["id"] for row in member_list["results"]] == [str(fan.pk)]
    assert renamed.json()["name"] == "Fam"
    assert removed.json()["member_count"] == 0
    assert deleted.status_code == 204
    assert Circle.objects.exists() is False
    assert CloseFriend.objects.count() == 1


def test_someone_elses_circle_is_404(auth_client):
    owner, intruder = UserFactory(), UserFactory()
    circle = services.circle_create(actor=owner, name="Secret")

    responses = [
        auth_client(intruder).get(f"/api/v1/me/circles/{circle.pk}"),
        auth_client(intruder).get(f"/api/v1/me/circles/{circle.pk}/members"),
        auth_client(intruder).patch(f"/api/v1/me/circles/{circle.pk}", {"name": "Mine"}),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert Circle.objects.get().name == "Secret"


def test_block_and_mute_over_rest(auth_client):
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    client = auth_client(alice)

    blocked = client.post(f"/api/v1/users/{bob.handle}/block")
    muted = client.post(f"/api/v1/users/{carol.handle}/mute", {"posts": True, "stories": False})
    block_list = client.get("/api/v1/me/blocked").json()
    mute_list = client.get("/api/v1/me/muted").json()

    assert (blocked.status_code, muted.status_code) == (204, 204)
    assert [row["user"]["handle"] for row in block_list["results"]] == [bob.handle]
    assert [(row["user"]["handle"], row["posts"], row["stories"]) for row in mute_list["results"]] == [
        (carol.handle, True, False)
    ]
    assert client.delete(f"/api/v1/users/{bob.handle}/block").status_code == 204
    assert client.delete(f"/api/v1/users/{carol.handle}/mute").status_code == 204
    assert Block.objects.exists() is False
    assert Mute.objects.exists() is False


def test_blocked_user_can_reach_nothing_over_rest(auth_client):
    # given: bob blocks alice
    alice, bob = UserFactory(), UserFactory()
    services.block_create(actor=bob, target=alice)
    client = auth_client(alice)

    # when
    responses = {
        "follow": client.post(f"/api/v1/users/{bob.handle}/follow"),
        "friend": client.post(f"/api/v1/friends/requests/{bob.handle}"),
        "followers": client.get(f"/api/v1/users/{bob.handle}/followers"),
        "following": client.get(f"/api/v1/users/{bob.handle}/following"),
        "friends": client.get(f"/api/v1/users/{bob.handle}/friends"),
        "relationship": client.get(f"/api/v1/users/{bob.handle}/relationship"),
        "close_friend": client.post("/api/v1/me/close-friends", {"handle": bob.handle}),
        "mute": client.post(f"/api/v1/users/{bob.handle}/mute"),
    }

    # then
    assert {name: r.status_code for name, r in responses.items()} == {name: 404 for name in responses}
    assert Follow.objects.exists() is False
    assert CloseFriend.objects.exists() is False


def test_people_you_may_know_ranks_by_mutuals(auth_client):
    # given: viewer follows a and b; both follow c; only a follows d; viewer already follows e
    viewer, a, b, c, d, e = (UserFactory() for _ in range(6))
    for follower, followee in [(viewer, a), (viewer, b), (a, c), (b, c), (a, d), (viewer, e), (a, e)]:
        services.follow_create(actor=follower, target=followee)
    blocked_one = UserFactory()
    services.follow_create(actor=b, target=blocked_one)
    services.block_create(actor=blocked_one, target=viewer)

    # when
    response = auth_client(viewer).get("/api/v1/me/people-you-may-know")

    # then
    assert [(row["user"]["handle"], row["mutual_count"]) for row in response.json()["results"]] == [
        (c.handle, 2),
        (d.handle, 1),
    ]


# --- malformed input never 500s --------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/api/v1/users/{h}/followers?cursor=%%%", None, 400),
        ("get", "/api/v1/users/{h}/followers?cursor=" + encode_cursor("x"), None, 400),
        ("get", "/api/v1/users/{h}/followers?limit=-3", None, 400),
        ("get", "/api/v1/users/{h}/followers?limit=many", None, 400),
        ("get", "/api/v1/users/no-such-handle-\u0661/followers", None, 404),
        ("get", "/api/v1/me/circles/abc", None, 404),
        ("get", "/api/v1/me/circles/99999999999999999999999", None, 404),
        ("delete", "/api/v1/me/circles/-1", None, 404),
        ("post", "/api/v1/me/circles", {"name": ""}, 400),
        ("post", "/api/v1/me/circles", {"name": ["x"]}, 400),
        ("post", "/api/v1/me/circles", {"name": "x" * 51}, 400),
        ("post", "/api/v1/me/circles/{c}/members", {"user_ids": "1,2"}, 400),
        ("post", "/api/v1/me/circles/{c}/members", {"user_ids": ["not-a-number"]}, 400),
        ("post", "/api/v1/me/circles/{c}/members", {"user_ids": [99999999999999999999999]}, 400),
        ("post", "/api/v1/me/circles/{c}/members", {"user_ids": []}, 400),
        ("delete", "/api/v1/me/circles/{c}/members/zzz", None, 404),
        ("post", "/api/v1/users/{h}/mute", {"posts": "maybe"}, 400),
        ("post", "/api/v1/users/{h}/mute", {"posts": False, "stories": False}, 400),
        ("post", "/api/v1/me/close-friends", {}, 400),
        ("post", "/api/v1/users/{me}/follow", None, 400),
        ("post", "/api/v1/users/{me}/block", None, 400),
    ],
)
def test_malformed_input_is_a_clean_error(auth_client, method, path, body, status):
    me, other = UserFactory(), UserFactory()
    circle = services.circle_create(actor=me, name="Mine")
    client = auth_client(me)
    url = path.format(h=other.handle, c=circle.pk, me=me.handle)

    response = getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)

    assert response.status_code == status
    assert set(response.json()["error"]) >= {"code", "message", "fields"}


def test_malformed_json_body_is_400(auth_client):
    me = UserFactory()

    response = auth_client(me).post("/api/v1/me/circles", data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert Circle.objects.exists() is False


# --- GraphQL ---------------------------------------------------------------------------------
FOLLOWERS = """query($handle: String!, $cursor: String, $limit: Int) {
  followers(handle: $handle, cursor: $cursor, limit: $limit) {
    results { id since isFollowing user { id handle isPrivate } } nextCursor } }"""


def test_graphql_follow_and_followers(graphql):
    alice, bob = UserFactory(), UserFactory()

    mutation = graphql(
        'mutation($h: String!) { followCreate(handle: $h) { status errors { code message } } }',
        {"h": bob.handle},
        user=alice,
    )
    followers = graphql(FOLLOWERS, {"handle": bob.handle}, user=bob)

    assert mutation["data"]["followCreate"] == {"status": "following", "errors": []}
    assert followers["data"]["followers"]["results"][0]["user"] == {
        "id": str(alice.pk),
        "handle": alice.handle,
        "isPrivate": False,
    }
    assert followers["data"]["followers"]["nextCursor"] is None


def test_graphql_mutation_errors_are_typed(graphql):
    alice, bob = UserFactory(), UserFactory()
    services.block_create(actor=bob, target=alice)

    result = graphql(
        'mutation($h: String!) { followCreate(handle: $h) { status errors { code message } } }',
        {"h": bob.handle},
        user=alice,
    )
    anonymous = graphql('mutation($h: String!) { followCreate(handle: $h) { errors { code } } }', {"h": bob.handle})

    assert result["data"]["followCreate"] == {"status": None, "errors": [{"code": "not_found", "message": "User not found."}]}
    assert anonymous["data"]["followCreate"]["errors"] == [{"code": "not_authenticated"}]
    assert Follow.objects.exists() is False


def test_graphql_circles(graphql):
    owner, fan = UserFactory(), UserFactory()
    services.follow_create(actor=fan, target=owner)

    created = graphql('mutation { circleCreate(name: "Work") { circle { id name } errors { code } } }', user=owner)
    circle_id = created["data"]["circleCreate"]["circle"]["id"]
    added = graphql(
        "mutation($c: ID!, $u: [ID!]!) { circleMembersAdd(circleId: $c, userIds: $u) { circle { memberCount } errors { code field } } }",
        {"c": circle_id, "u": [str(fan.pk), "garbage"]},
        user=owner,
    )
    added_ok = graphql(
        "mutation($c: ID!, $u: [ID!]!) { circleMembersAdd(circleId: $c, userIds: $u) { circle { memberCount } errors { code } } }",
        {"c": circle_id, "u": [str(fan.pk)]},
        user=owner,
    )
    circles = graphql("{ circles { results { name memberCount } nextCursor } }", user=owner)

    assert added["data"]["circleMembersAdd"]["errors"] == [{"code": "invalid", "field": "user_ids"}]
    assert added_ok["data"]["circleMembersAdd"] == {"circle": {"memberCount": 1}, "errors": []}
    assert circles["data"]["circles"] == {"results": [{"name": "Work", "memberCount": 1}], "nextCursor": None}
    assert CircleMember.objects.count() == 1


# --- REST and GraphQL agree with the policy --------------------------------------------------
VIEWERS = ("anonymous", "stranger", "follower", "self", "blocked_by_owner", "blocking_owner")
OWNERS = ("public", "private", "shadowbanned", "suspended")


def _rest_outcome(response) -> str:
    if response.status_code == 200:
        return "ok"
    return response.json()["error"]["code"]


def _graphql_outcome(result) -> str:
    if result.get("errors"):
        return result["errors"][0]["extensions"]["code"]
    return "ok"


_OPEN = {"public": "ok", "private": "private_account", "shadowbanned": "ok", "suspended": "not_found"}
LIST_OUTCOMES = {
    "anonymous": _OPEN,
    "stranger": _OPEN,
    "follower": _OPEN | {"private": "ok"},
    "self": _OPEN | {"private": "ok"},
    "blocked_by_owner": dict.fromkeys(OWNERS, "not_found"),
    "blocking_owner": dict.fromkeys(OWNERS, "not_found"),
}
# A suspended account viewing itself is refused by authentication (accounts), not the policy.
AGREEMENT_CASES = [(v, o) for v in VIEWERS for o in OWNERS if (v, o) != ("self", "suspended")]


@pytest.mark.parametrize(("viewer_kind", "owner_kind"), AGREEMENT_CASES)
def test_rest_graphql_and_policy_agree_on_people_lists(api_client, auth_client, graphql, viewer_kind, owner_kind):
    # given
    owner = UserFactory()
    services.follow_create(actor=UserFactory(), target=owner)
    viewer = {"anonymous": None, "self": owner}[viewer_kind] if viewer_kind in ("anonymous", "self") else UserFactory()
    if viewer_kind == "follower":
        Follow.objects.create(follower=viewer, followee=owner)
    if viewer_kind == "blocked_by_owner":
        Block.objects.create(blocker=owner, blocked=viewer)
    if viewer_kind == "blocking_owner":
        Block.objects.create(blocker=viewer, blocked=owner)
    if owner_kind == "private":
        User.objects.filter(pk=owner.pk).update(is_private=True)
    if owner_kind == "shadowbanned":
        AccountFlag.objects.create(user=owner, shadowbanned=True)
    if owner_kind == "suspended":
        User.objects.filter(pk=owner.pk).update(status=User.Status.SUSPENDED)
    owner.refresh_from_db()
    client = api_client if viewer is None else auth_client(viewer)

    # when
    rest = _rest_outcome(client.get(f"/api/v1/users/{owner.handle}/followers"))
    gql = _graphql_outcome(graphql(FOLLOWERS, {"handle": owner.handle}, user=viewer))

    # then
    expected = (
        "not_found"
        if not policy.can_view_profile(viewer, owner)
        else "ok"
        if policy.can_view_account_content(viewer, owner)
        else "private_account"
    )
    assert rest == gql == expected == LIST_OUTCOMES[viewer_kind][owner_kind]


def test_graphql_friend_block_mute_and_lists(graphql):
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    h = {"a": alice.handle, "b": bob.handle, "c": carol.handle}

    sent = graphql('mutation($b: String!) { friendRequestCreate(handle: $b) { status errors { code } } }', h, user=alice)
    incoming = graphql("{ friendRequests { results { user { handle } } } }", user=bob)
    accepted = graphql('mutation($a: String!) { friendRequestAccept(handle: $a) { status errors { code } } }', h, user=bob)
    friends = graphql('query($a: String!) { friends(handle: $a) { results { user { handle } } } }', h, user=carol)
    relationship = graphql('query($b: String!) { relationship(handle: $b) { isFriend isFollowing } }', h, user=alice)
    muted = graphql(
        'mutation($c: String!) { muteCreate(handle: $c, stories: false) { ok errors { code } } }', h, user=alice
    )
    mutes = graphql("{ mutedUsers { results { user { handle } posts stories } } }", user=alice)
    blocked = graphql('mutation($c: String!) { blockCreate(handle: $c) { ok errors { code } } }', h, user=alice)
    blocks = graphql("{ blockedUsers { results { user { handle } } } }", user=alice)
    hidden = graphql('query($a: String!) { followers(handle: $a) { results { id } } }', h, user=carol)

    assert sent["data"]["friendRequestCreate"] == {"status": "requested", "errors": []}
    assert incoming["data"]["friendRequests"]["results"] == [{"user": {"handle": alice.handle}}]
    assert accepted["data"]["friendRequestAccept"] == {"status": "friends", "errors": []}
    assert friends["data"]["friends"]["results"] == [{"user": {"handle": bob.handle}}]
    assert relationship["data"]["relationship"] == {"isFriend": True, "isFollowing": False}
    assert muted["data"]["muteCreate"] == {"ok": True, "errors": []}
    assert mutes["data"]["mutedUsers"]["results"] == [{"user": {"handle": carol.handle}, "posts": True, "stories": False}]
    assert blocked["data"]["blockCreate"] == {"ok": True, "errors": []}
    assert blocks["data"]["blockedUsers"]["results"] == [{"user": {"handle": carol.handle}}]
    assert hidden["errors"][0]["extensions"]["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        '{ circle(id: "abc") { id } }',
        '{ circle(id: "99999999999999999999999") { id } }',
        '{ circleMembers(circleId: "-5") { nextCursor } }',
        '{ followers(handle: "x", cursor: "%%%") { nextCursor } }',
        '{ followRequests(limit: -1) { nextCursor } }',
    ],
)
def test_graphql_malformed_arguments_are_clean_errors(graphql, query):
    me = UserFactory()
    UserFactory(handle="x")

    result = graphql(query, user=me)

    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] in {"not_found", "invalid"}


def test_graphql_my_lists_need_login(graphql):
    result = graphql("{ followRequests { nextCursor } }")

    assert result["errors"][0]["extensions"]["code"] == "not_authenticated"


def test_openapi_schema_lists_social_endpoints(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")

    paths = response.json()["paths"]
    for path in (
        "/api/v1/users/{handle}/follow",
        "/api/v1/users/{handle}/followers",
        "/api/v1/follow-requests/{handle}/accept",
        "/api/v1/friends/requests/{handle}",
        "/api/v1/me/close-friends",
        "/api/v1/me/circles/{circle_id}/members",
        "/api/v1/users/{handle}/block",
        "/api/v1/users/{handle}/mute",
    ):
        assert path in paths
