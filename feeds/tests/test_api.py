"""REST and GraphQL over the same selectors: same items, same order, same errors."""

from __future__ import annotations

import pytest

from feeds import services, trending
from feeds.models import SearchHistory, SearchKind
from social import services as social_services
from social.tests.factories import CircleFactory, add_to_circle

pytestmark = pytest.mark.django_db

FEED_PAGE = "items { post { id body author { handle } } repostedBy { handle } score } nextCursor"


@pytest.fixture
def timeline(make_user, publish, committed):
    author, reader = make_user(handle="author"), make_user(handle="reader")
    committed(social_services.follow_create, actor=reader, target=author)
    services.home_feed_rebuild(user_id=reader.pk)
    posts = [publish(author, f"post {i} #koshary").pk for i in range(5)]
    return author, reader, posts


def test_home_feed_rest_and_graphql_agree_page_by_page(timeline, auth_client, graphql):
    author, reader, posts = timeline
    client = auth_client(reader)
    expected = [str(p) for p in reversed(posts)]

    rest_first = client.get("/api/v1/feeds/home", {"limit": 3}).json()
    rest_second = client.get("/api/v1/feeds/home", {"limit": 3, "max_id": rest_first["next_max_id"]}).json()
    gql_first = graphql(f"{{ homeFeed(first: 3) {{ {FEED_PAGE} }} }}", user=reader)["data"]["homeFeed"]
    gql_second = graphql(
        f'query($after: String) {{ homeFeed(first: 3, after: $after) {{ {FEED_PAGE} }} }}',
        {"after": gql_first["nextCursor"]}, user=reader,
    )["data"]["homeFeed"]

    assert [r["id"] for r in rest_first["results"]] == expected[:3]
    assert [r["id"] for r in rest_second["results"]] == expected[3:]
    assert [i["post"]["id"] for i in gql_first["items"]] == expected[:3]
    assert [i["post"]["id"] for i in gql_second["items"]] == expected[3:]
    assert rest_first["next_cursor"] == gql_first["nextCursor"]
    assert rest_first["results"][0]["reposted_by"] is None
    assert rest_first["results"][0]["author"]["handle"] == "author"
    assert rest_second["next_cursor"] is None


def test_home_feed_requires_login_and_rejects_bad_input(api_client, auth_client, make_user, graphql):
    reader = make_user()

    assert api_client.get("/api/v1/feeds/home").status_code == 401
    bad = auth_client(reader).get("/api/v1/feeds/home", {"ranking": "viral"})
    assert (bad.status_code, list(bad.json()["error"]["fields"])) == (400, ["ranking"])
    assert auth_client(reader).get("/api/v1/feeds/home", {"cursor": "%%%"}).status_code == 400
    assert auth_client(reader).get("/api/v1/feeds/home", {"max_id": "-5"}).status_code == 400
    errors = graphql('{ homeFeed(ranking: "viral") { nextCursor } }', user=reader)["errors"]
    assert errors[0]["extensions"]["code"] == "invalid"


def test_ranked_home_feed_over_rest(timeline, auth_client):
    author, reader, posts = timeline

    body = auth_client(reader).get("/api/v1/feeds/home", {"ranking": "ranked", "limit": 10}).json()

    assert sorted(r["id"] for r in body["results"]) == sorted(str(p) for p in posts)
    assert body["next_max_id"] is None


def test_circle_feed_rest_and_graphql_agree(make_user, publish, committed, auth_client, graphql):
    owner, member = make_user(), make_user()
    committed(social_services.follow_create, actor=member, target=owner)
    circle = CircleFactory(owner=owner)
    add_to_circle(circle, member)
    post = publish(member, "in the circle")

    rest = auth_client(owner).get(f"/api/v1/feeds/circles/{circle.pk}").json()
    gql = graphql(f'{{ circleFeed(circleId: "{circle.pk}") {{ {FEED_PAGE} }} }}', user=owner)["data"]["circleFeed"]

    assert [r["id"] for r in rest["results"]] == [str(post.pk)]
    assert [i["post"]["id"] for i in gql["items"]] == [str(post.pk)]
    assert auth_client(member).get(f"/api/v1/feeds/circles/{circle.pk}").status_code == 404


def test_trending_and_explore_rest_and_graphql_agree_logged_out(timeline, api_client, graphql, make_user, committed):
    from content import services as content_services

    author, reader, posts = timeline
    committed(content_services.reaction_set, actor=reader, target_type="post", target_id=posts[1], reaction="like")
    trending.trending_recompute(window="24h")

    rest = api_client.get("/api/v1/feeds/trending", {"kind": "posts", "window": "24h"}).json()
    gql = graphql(f'{{ trendingPosts(window: "24h") {{ {FEED_PAGE} }} }}')["data"]["trendingPosts"]
    tags = api_client.get("/api/v1/feeds/trending", {"kind": "hashtags"}).json()
    gql_tags = graphql('{ trendingHashtags { name postsCount score } }')["data"]["trendingHashtags"]
    explore = api_client.get("/api/v1/feeds/explore").json()
    gql_explore = graphql(f"{{ explore {{ {FEED_PAGE} }} }}")["data"]["explore"]

    assert [r["id"] for r in rest["results"]] == [str(posts[1])]
    assert [i["post"]["id"] for i in gql["items"]] == [str(posts[1])]
    # one like, decayed by the seconds since it was counted
    assert [(t["name"], pytest.approx(t["score"], abs=1e-3)) for t in tags["results"]] == [("koshary", 1.0)]
    assert [(t["name"], pytest.approx(t["score"], abs=1e-3)) for t in gql_tags] == [("koshary", 1.0)]
    assert [r["id"] for r in explore["results"]] == [i["post"]["id"] for i in gql_explore["items"]]
    assert len(explore["results"]) == 5
    assert api_client.get("/api/v1/feeds/trending", {"window": "1y"}).status_code == 400


def test_search_rest_and_graphql_agree_and_record_history(make_user, publish, auth_client, graphql):
    viewer = make_user(handle="searcher")
    cook = make_user(handle="koshary_king")
    services.search_index(kind=SearchKind.USER, object_ids=[cook.pk])
    post = publish(cook, "best koshary in Cairo")

    rest = auth_client(viewer).get("/api/v1/search", {"q": "koshari", "type": "all"}).json()
    gql = graphql(
        '{ search(q: "koshari") { users { handle } posts { id } hashtags { name } sounds { id } nextCursor } }',
        user=viewer,
    )["data"]["search"]

    assert [u["handle"] for u in rest["users"]] == [u["handle"] for u in gql["users"]] == ["koshary_king"]
    assert [p["id"] for p in rest["posts"]] == [p["id"] for p in gql["posts"]] == [str(post.pk)]
    assert SearchHistory.objects.filter(user=viewer).count() == 1
    recent = auth_client(viewer).get("/api/v1/search/recent").json()
    gql_recent = graphql("{ recentSearches { query type } }", user=viewer)["data"]["recentSearches"]
    assert [r["query"] for r in recent["results"]] == [r["query"] for r in gql_recent] == ["koshari"]

    assert auth_client(viewer).delete("/api/v1/search/recent").status_code == 204
    assert auth_client(viewer).get("/api/v1/search/recent").json() == {"results": []}


def test_search_validates_input_and_works_logged_out(api_client, make_user):
    bad = api_client.get("/api/v1/search", {"q": "x", "type": "planets"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid")
    assert api_client.get("/api/v1/search").status_code == 400
    empty = api_client.get("/api/v1/search", {"q": "   "}).json()
    assert empty == {"users": [], "hashtags": [], "posts": [], "sounds": [], "next_cursor": None}
    assert api_client.get("/api/v1/search", {"q": "'\\:*&|!()"}).status_code == 200


def test_graphql_clears_search_history(make_user, graphql):
    user = make_user()
    services.search_history_record(user=user, query="fatta")

    data = graphql("mutation { searchHistoryClear { deleted errors { code } } }", user=user)["data"]

    assert data["searchHistoryClear"] == {"deleted": 1, "errors": []}
