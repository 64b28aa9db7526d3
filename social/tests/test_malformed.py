"""No social endpoint answers 500 to a malformed handle, id or body (the strict client fails on any 5xx).

Found by fuzzing: a NUL byte in a handle reached Postgres ("A string literal cannot contain
NUL characters") from every `users/{handle}/...` route but the profile itself."""

from __future__ import annotations

import json

import pytest

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ODD_HANDLES = ["a%00b", "%ED%A0%80", "x" * 500]

HANDLE_ROUTES = [
    ("post", "/api/v1/users/{}/follow"), ("delete", "/api/v1/users/{}/follow"),
    ("get", "/api/v1/users/{}/followers"), ("get", "/api/v1/users/{}/following"),
    ("get", "/api/v1/users/{}/friends"), ("get", "/api/v1/users/{}/relationship"),
    ("post", "/api/v1/users/{}/block"), ("delete", "/api/v1/users/{}/block"),
    ("post", "/api/v1/users/{}/mute"), ("delete", "/api/v1/users/{}/mute"),
    ("delete", "/api/v1/me/followers/{}"), ("delete", "/api/v1/follow-requests/{}"),
    ("post", "/api/v1/follow-requests/{}/accept"), ("post", "/api/v1/follow-requests/{}/reject"),
    ("post", "/api/v1/friends/requests/{}"), ("delete", "/api/v1/friends/requests/{}"),
    ("post", "/api/v1/friends/requests/{}/accept"), ("post", "/api/v1/friends/requests/{}/reject"),
    ("delete", "/api/v1/friends/{}"), ("delete", "/api/v1/me/close-friends/{}"),
]


@pytest.mark.parametrize("method,route", HANDLE_ROUTES)
@pytest.mark.parametrize("handle", ODD_HANDLES)
def test_routes_by_handle_answer_404_to_odd_handles(auth_client, method, route, handle):
    client = auth_client(UserFactory())

    response = getattr(client, method)(route.format(handle))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("handle", ["a%00b", "%ED%A0%80"])
def test_public_lists_answer_404_to_odd_handles_when_logged_out(api_client, handle):
    for route in ("/api/v1/users/{}/followers", "/api/v1/users/{}/following", "/api/v1/users/{}/friends"):
        response = api_client.get(route.format(handle))

        assert response.status_code == 404


@pytest.mark.parametrize("raw_handle", ['"a\\u0000b"', '"\\ud800"', "12", "null", '["bob"]', '{"h": 1}', '"ок"'])
def test_close_friend_add_refuses_odd_handles_in_the_body(auth_client, raw_handle):
    client = auth_client(UserFactory())

    response = client.generic("POST", "/api/v1/me/close-friends", f'{{"handle": {raw_handle}}}',
                              content_type="application/json")

    assert response.status_code in (400, 404)
    assert "error" in response.json()


@pytest.mark.parametrize("name", ["a\x00b", "\ud800x"])
def test_graphql_circle_names_that_postgres_cannot_store_are_invalid(auth_client, name):
    # given: GraphQL strings are not checked by DRF fields, so the service must refuse them
    from social.models import Circle

    owner = UserFactory()
    circle = Circle.objects.create(owner=owner, name="Family")
    body = json.dumps({
        "query": "mutation($n: String!, $id: ID!) { circleCreate(name: $n) { errors { code field } } "
                 "circleRename(id: $id, name: $n) { errors { code field } } }",
        "variables": {"n": name, "id": str(circle.pk)},
    })

    # when
    response = auth_client(owner).generic("POST", "/graphql/", body, content_type="application/json")

    # then
    invalid = {"errors": [{"code": "invalid", "field": "name"}]}
    assert response.json() == {"data": {"circleCreate": invalid, "circleRename": invalid}}
    assert list(Circle.objects.values_list("name", flat=True)) == ["Family"]
