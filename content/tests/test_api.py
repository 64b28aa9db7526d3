import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from content import services
from content.models import Post
from content.tests.conftest import make_asset
from social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db


def make_rich_posts(author, viewer, n):
    """n posts with two media each, a sound, a quote, and the viewer's reaction/bookmark on each."""
    sound = services.sound_create(actor=author, title="beat")
    quoted = services.post_create(author=author, body="quoted")
    posts = []
    for i in range(n):
        if i % 2:
            post = services.post_create(author=author, body=f"#tag post {i}",
                                        media_ids=[make_asset(author).pk, make_asset(author, kind="video").pk])
        else:
            post = services.post_create(author=author, body=f"#tag post {i}",
                                        media_ids=[make_asset(author, kind="video").pk], sound_id=sound.pk,
                                        quote_of_id=quoted.pk)
        services.reaction_set(actor=viewer, target_type="post", target_id=post.pk, reaction="love")
        services.bookmark_add(actor=viewer, post_id=post.pk)
        posts.append(post)
    return posts, sound


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


def test_profile_page_costs_a_fixed_number_of_queries(auth_client):
    # given: pages of 2 and of 20 rich posts
    author, viewer = UserFactory(handle="author"), UserFactory()
    FollowFactory(follower=viewer, followee=author)
    make_rich_posts(author, viewer, 20)
    client = auth_client(viewer)

    # when
    small, _ = count_queries(client, "/api/v1/users/author/posts?limit=2")
    big, body = count_queries(client, "/api/v1/users/author/posts?limit=20")

    # then: the same cost whatever the page size, and everything rendered
    assert big == small
    assert len(body["results"]) == 20
    first = body["results"][0]
    assert first["viewer"] == {"reaction": "love", "saved": True, "reposted": False}
    assert first["author"]["handle"] == "author"
    assert [m["playback"]["kind"] for m in first["media"]] == ["image", "video"]  # post 19: a carousel
    assert isinstance(first["id"], str)


def test_list_endpoints_cost_a_fixed_number_of_queries(auth_client, django_assert_num_queries):
    author, viewer = UserFactory(), UserFactory()
    _, sound = make_rich_posts(author, viewer, 8)
    client = auth_client(viewer)
    for url in ("/api/v1/hashtags/tag?limit={n}", "/api/v1/hashtags/tag?sort=top&limit={n}",
                "/api/v1/sounds/{sound}/videos?limit={n}", "/api/v1/me/bookmarks?limit={n}"):
        small, _ = count_queries(client, url.format(n=2, sound=sound.pk))

        with django_assert_num_queries(small):
            response = client.get(url.format(n=8, sound=sound.pk))

        assert len(response.json()["results"]) >= 4, url


def test_comment_and_likers_lists_cost_a_fixed_number_of_queries(auth_client, django_assert_num_queries):
    author, viewer = UserFactory(), UserFactory()
    post = services.post_create(author=author, body="x")
    for _ in range(12):
        fan = UserFactory()
        comment = services.comment_create(actor=fan, post_id=post.pk, body="hi")
        services.reaction_set(actor=fan, target_type="post", target_id=post.pk, reaction="like")
        services.reaction_set(actor=viewer, target_type="comment", target_id=comment.pk, reaction="like")
    client = auth_client(viewer)
    for url in (f"/api/v1/posts/{post.pk}/comments", f"/api/v1/posts/{post.pk}/reactions"):
        small, _ = count_queries(client, url + "?limit=2")
        with django_assert_num_queries(small):
            response = client.get(url + "?limit=12")
        assert len(response.json()["results"]) == 12


def test_thread_costs_one_query_per_level(auth_client):
    author = UserFactory()
    root = services.post_create(author=author, body="root")
    for i in range(3):
        reply = services.post_create(author=author, body=f"r{i}", parent_id=root.pk)
        for j in range(3):
            services.post_create(author=author, body=f"r{i}.{j}", parent_id=reply.pk)
    client = auth_client(UserFactory())

    narrow, _ = count_queries(client, f"/api/v1/posts/{root.pk}/thread?depth=2&limit=1")
    wide, body = count_queries(client, f"/api/v1/posts/{root.pk}/thread?depth=2&limit=3")

    assert narrow == wide
    assert [len(n["replies"]) for n in body["replies"]] == [3, 3, 3]


def test_story_rings_endpoint(auth_client):
    viewer, author = UserFactory(), UserFactory(handle="storyteller")
    FollowFactory(follower=viewer, followee=author)
    services.story_create(author=author, media_id=make_asset(author).pk)

    response = auth_client(viewer).get("/api/v1/stories/rings")

    assert response.status_code == 200
    [ring] = response.json()["results"]
    assert (ring["author"]["handle"], ring["has_unseen"], ring["stories_count"]) == ("storyteller", True, 1)


def test_create_edit_delete_over_rest(auth_client):
    author = UserFactory()
    client = auth_client(author)

    created = client.post("/api/v1/posts", {"body": "hello", "audience": "followers"}, format="json")
    assert created.status_code == 201
    post_id = created.json()["id"]
    edited = client.patch(f"/api/v1/posts/{post_id}", {"body": "hello again"}, format="json")
    assert (edited.status_code, edited.json()["is_edited"]) == (200, True)
    assert client.get(f"/api/v1/posts/{post_id}/edits").json()[0]["body"] == "hello"
    assert client.delete(f"/api/v1/posts/{post_id}").status_code == 204
    assert client.get(f"/api/v1/posts/{post_id}").status_code == 404


def test_hidden_and_missing_posts_look_the_same(auth_client, api_client):
    author = UserFactory()
    post = services.post_create(author=author, body="x", audience="followers")

    hidden = api_client.get(f"/api/v1/posts/{post.pk}")
    missing = api_client.get("/api/v1/posts/123")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


@pytest.mark.parametrize("method,url,payload", [
    ("post", "/api/v1/posts", {"body": 5, "media_ids": "x"}),
    ("post", "/api/v1/posts", {"media_ids": ["1" * 30]}),
    ("post", "/api/v1/posts", {"body": "x", "audience": "nobody"}),
    ("post", "/api/v1/posts", {"body": "x", "circle_id": "abc", "audience": "circle"}),
    ("post", "/api/v1/posts", {"body": "x", "parent_id": "99999999999999999"}),
    ("post", "/api/v1/posts", {"body": "x" * 3000}),
    ("post", "/api/v1/posts", ["not", "an", "object"]),
    ("put", "/api/v1/posts/1/reaction", {"reaction": "nope"}),
    ("put", "/api/v1/posts/99999999999999999999/reaction", {"reaction": "like"}),
    ("post", "/api/v1/stories", {"media_id": "1", "overlays": {"a": 1}}),
    ("post", "/api/v1/stories", {"media_id": "x"}),
    ("get", "/api/v1/posts/1/thread?depth=abc", None),
    ("get", "/api/v1/posts/1/comments?cursor=%%%", None),
    ("get", "/api/v1/users/nobody/posts?tab=weird", None),
    ("get", "/api/v1/hashtags/x?sort=weird", None),
    ("get", "/api/v1/me/bookmarks?collection_id=abc", None),
    ("get", "/api/v1/me/bookmarks?limit=-1", None),
])
def test_malformed_input_never_gives_a_500(auth_client, method, url, payload):
    client = auth_client(UserFactory())

    response = getattr(client, method)(url, payload, format="json") if payload is not None else client.get(url)

    assert 400 <= response.status_code < 500
    assert "error" in response.json()
    assert Post.objects.exists() is False


def test_malformed_cursor_on_real_post(auth_client):
    post = services.post_create(author=UserFactory(), body="x")

    response = auth_client(UserFactory()).get(f"/api/v1/posts/{post.pk}/comments?cursor=!!notbase64")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"cursor": ["The cursor is not valid."]}


def test_openapi_schema_documents_content_endpoints(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = response.json()["paths"] if response["content-type"].startswith("application/json") else {}
    if not paths:
        import yaml  # drf-spectacular's default renderer is YAML

        paths = yaml.safe_load(response.content)["paths"]
    for path in ("/api/v1/posts", "/api/v1/posts/{post_id}/thread", "/api/v1/stories/rings",
                 "/api/v1/sounds/{sound_id}/videos", "/api/v1/hashtags/{name}", "/api/v1/users/{handle}/posts"):
        assert path in paths


def test_graphql_posts_use_dataloaders_with_a_fixed_query_count(graphql):
    author, viewer = UserFactory(handle="gqlauthor"), UserFactory()
    make_rich_posts(author, viewer, 8)
    query = """query($n: Int) { profilePosts(handle: "gqlauthor", first: $n) {
        items { id body viewerReaction saved reposted media { id kind playback } sound { title }
                quote { id body viewerReaction } counts { reactions reactionsByType } author { handle } }
        nextCursor } }"""

    with CaptureQueriesContext(connection) as small:
        graphql(query, {"n": 2}, user=viewer)
    with CaptureQueriesContext(connection) as big:
        body = graphql(query, {"n": 8}, user=viewer)

    assert "errors" not in body, body
    items = body["data"]["profilePosts"]["items"]
    assert len(items) == 8
    assert items[0]["viewerReaction"] == "love"
    assert len(big.captured_queries) == len(small.captured_queries)


def test_graphql_mutations_and_errors(graphql):
    author = UserFactory()

    created = graphql('mutation { postCreate(body: "hi #gql") { post { id body } errors { code field } } }', user=author)
    bad = graphql('mutation { postCreate(body: "") { post { id } errors { code field } } }', user=author)
    anon = graphql('mutation { postCreate(body: "x") { post { id } errors { code } } }')

    post_id = created["data"]["postCreate"]["post"]["id"]
    assert created["data"]["postCreate"]["errors"] == []
    assert bad["data"]["postCreate"]["errors"] == [{"code": "invalid", "field": "body"}]
    assert anon["data"]["postCreate"]["errors"] == [{"code": "not_authenticated"}]
    reacted = graphql('mutation($id: ID!) { reactionSet(targetType: "post", targetId: $id, reaction: "fire") '
                      '{ reaction errors { code } } }', {"id": post_id}, user=UserFactory())
    assert reacted["data"]["reactionSet"] == {"reaction": "fire", "errors": []}


def test_admin_screens_render(client):
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.create_superuser("boss", "pw-long-enough-1")
    author = UserFactory()
    post = services.post_create(author=author, body="x")
    services.comment_create(actor=author, post_id=post.pk, body="c")
    client.force_login(admin_user)

    for url in ("/admin/content/post/", f"/admin/content/post/{post.pk}/change/", "/admin/content/comment/",
                "/admin/content/story/", "/admin/content/sound/", "/admin/content/hashtag/",
                "/admin/content/reaction/"):
        assert client.get(url).status_code == 200, url


def test_export_section_lists_the_users_posts():
    from accounts import registry

    author = UserFactory()
    post = services.post_create(author=author, body="mine")

    section = registry.export_sections()["posts"](author)

    assert [(row["id"], row["body"]) for row in section] == [(str(post.pk), "mine")]


def _people_and_posts(n):
    """An author with a post that n people react to, repost, quote, reply to and comment on,
    n videos, n tagged posts, a story all n people viewed; the viewer follows the author."""
    author, viewer = UserFactory(handle="hub"), UserFactory()
    FollowFactory(follower=viewer, followee=author)
    post = services.post_create(author=author, body="hub post")
    story = services.story_create(author=author, media_id=make_asset(author).pk)
    comment = services.comment_create(actor=author, post_id=post.pk, body="top")
    for i in range(n):
        fan = UserFactory()
        FollowFactory(follower=viewer, followee=fan)
        services.repost_create(actor=fan, post_id=post.pk)
        services.repost_create(actor=author, post_id=services.post_create(author=fan, body=f"p{i}").pk)
        services.post_create(author=fan, body="quote", quote_of_id=post.pk)
        services.post_create(author=fan, body="reply", parent_id=post.pk)
        services.post_create(author=fan, body="@hub look", media_ids=[make_asset(fan).pk])
        services.post_create(author=author, media_ids=[make_asset(author, kind="video").pk])
        services.comment_create(actor=fan, post_id=post.pk, body="reply", parent_id=comment.pk)
        services.story_view_record(viewer=fan, story_id=story.pk)
        services.story_create(author=fan, media_id=make_asset(fan).pk)
    return author, viewer, post, story, comment


def test_every_other_list_endpoint_costs_a_fixed_number_of_queries(auth_client, django_assert_num_queries):
    author, viewer, post, story, comment = _people_and_posts(4)
    as_viewer, as_author = auth_client(viewer), auth_client(author)
    cases = [
        (as_viewer, f"/api/v1/posts/{post.pk}/reposts?limit={{n}}"),
        (as_viewer, f"/api/v1/posts/{post.pk}/quotes?limit={{n}}"),
        (as_viewer, f"/api/v1/posts/{post.pk}/replies?limit={{n}}"),
        (as_viewer, f"/api/v1/comments/{comment.pk}/replies?limit={{n}}"),
        (as_viewer, "/api/v1/users/hub/posts?tab=videos&limit={n}"),
        (as_viewer, "/api/v1/users/hub/posts?tab=reposts&limit={n}"),
        (as_viewer, "/api/v1/users/hub/posts?tab=tagged&limit={n}"),
        (as_author, f"/api/v1/stories/{story.pk}/viewers?limit={{n}}"),
    ]
    for client, url in cases:
        small, _ = count_queries(client, url.format(n=2))
        with django_assert_num_queries(small):
            response = client.get(url.format(n=4))
        assert len(response.json()["results"]) == 4, url


def test_rings_cost_the_same_for_few_and_many_authors(auth_client):
    viewer = UserFactory()
    client = auth_client(viewer)
    authors = [UserFactory() for _ in range(8)]
    for author in authors[:2]:
        FollowFactory(follower=viewer, followee=author)
        services.story_create(author=author, media_id=make_asset(author).pk)
    few, _ = count_queries(client, "/api/v1/stories/rings")
    for author in authors[2:]:
        FollowFactory(follower=viewer, followee=author)
        services.story_create(author=author, media_id=make_asset(author).pk)

    many, body = count_queries(client, "/api/v1/stories/rings")

    assert (many, len(body["results"])) == (few, 8)


def test_seed_content_is_idempotent():
    from accounts.models import User
    from content.seed import seed_content

    for handle in ("mona", "omar", "layla"):
        User.objects.create_user(handle, "pw-demo-123456")

    seed_content()
    seed_content()

    assert Post.objects.count() == 4
    assert Post.objects.get(body__startswith="صباح").reactions_count == 2


POST_FIELDS = "id viewerReaction saved reposted media { id playback } sound { title } quote { id } author { handle }"


def test_every_graphql_list_resolver_costs_a_fixed_number_of_queries(graphql):
    author, viewer = UserFactory(handle="gqlhub"), UserFactory()
    posts, sound = make_rich_posts(author, viewer, 6)
    root = posts[0]
    for i in range(6):
        services.post_create(author=UserFactory(), body=f"reply {i}", parent_id=root.pk)
        services.comment_create(actor=UserFactory(), post_id=root.pk, body=f"c{i}")
    ids = [str(p.pk) for p in posts]
    cases = [
        ("hashtagPosts", f'hashtagPosts(name: "tag", first: $n) {{ items {{ {POST_FIELDS} }} }}'),
        ("soundVideos", f'soundVideos(soundId: "{sound.pk}", first: $n) {{ items {{ {POST_FIELDS} }} }}'),
        ("postReplies", f'postReplies(postId: "{root.pk}", first: $n) {{ items {{ {POST_FIELDS} }} }}'),
        ("comments", f'comments(postId: "{root.pk}", first: $n) {{ items {{ id body author {{ handle }} }} }}'),
    ]
    for name, field in cases:
        query = f"query($n: Int) {{ {field} }}"
        with CaptureQueriesContext(connection) as small:
            graphql(query, {"n": 2}, user=viewer)
        with CaptureQueriesContext(connection) as big:
            body = graphql(query, {"n": 6}, user=viewer)
        assert "errors" not in body, body
        assert len(body["data"][name]["items"]) >= 3, name
        assert len(big.captured_queries) == len(small.captured_queries), name

    by_ids = f"query($ids: [ID!]!) {{ postsByIds(ids: $ids) {{ {POST_FIELDS} }} }}"
    with CaptureQueriesContext(connection) as small:
        graphql(by_ids, {"ids": ids[:2]}, user=viewer)
    with CaptureQueriesContext(connection) as big:
        body = graphql(by_ids, {"ids": ids}, user=viewer)
    assert [p["id"] for p in body["data"]["postsByIds"]] == ids
    assert len(big.captured_queries) == len(small.captured_queries)


def test_graphql_malformed_ids_are_not_errors_of_the_server(graphql):
    user = UserFactory()
    huge = "9" * 30

    found = graphql(f'{{ post(id: "{huge}") {{ id }} }}', user=user)
    reacted = graphql(f'mutation {{ reactionSet(targetType: "comment", targetId: "{huge}", reaction: "like") '
                      f'{{ errors {{ code }} }} }}', user=user)
    created = graphql('mutation { postCreate(body: "x", mediaIds: ["abc"], parentId: "zz") { errors { code field } } }',
                      user=user)

    assert found["data"]["post"] is None
    assert reacted["data"]["reactionSet"]["errors"] == [{"code": "not_found"}]
    assert created["data"]["postCreate"]["errors"] == [{"code": "invalid", "field": "media_ids"}]


def test_graphql_thread_and_stories(graphql):
    author, viewer = UserFactory(handle="teller"), UserFactory()
    FollowFactory(follower=viewer, followee=author)
    root = services.post_create(author=author, body="root")
    reply = services.post_create(author=viewer, body="reply", parent_id=root.pk)
    services.post_create(author=author, body="deeper", parent_id=reply.pk)
    created = graphql('mutation($m: ID!) { storyCreate(mediaId: $m, text: "hi") { story { id } errors { code } } }',
                      {"m": str(make_asset(author).pk)}, user=author)

    thread = graphql('query($id: ID!) { postThread(postId: $id, depth: 2) { post { body } replies { post { body } '
                     'replies { post { body } } } } }', {"id": str(root.pk)}, user=viewer)
    stories = graphql('{ userStories(handle: "teller") { id seen text } storyRings { author { handle } hasUnseen } }',
                      user=viewer)

    assert created["data"]["storyCreate"]["errors"] == []
    assert thread["data"]["postThread"] == {"post": {"body": "root"}, "replies": [
        {"post": {"body": "reply"}, "replies": [{"post": {"body": "deeper"}}]}]}
    story_id = created["data"]["storyCreate"]["story"]["id"]
    assert stories["data"] == {"userStories": [{"id": story_id, "seen": False, "text": "hi"}],
                               "storyRings": [{"author": {"handle": "teller"}, "hasUnseen": True}]}


def test_account_purge_removes_content_and_fixes_other_counters():
    from accounts.services import user_purge
    from content.models import Comment, Hashtag

    leaving, staying = UserFactory(), UserFactory()
    own = services.post_create(author=leaving, body="#bye", media_ids=[make_asset(leaving).pk])
    services.story_create(author=leaving, media_id=make_asset(leaving).pk)
    other = services.post_create(author=staying, body="#bye too")
    services.reaction_set(actor=leaving, target_type="post", target_id=other.pk, reaction="love")
    services.comment_create(actor=leaving, post_id=other.pk, body="c")
    services.repost_create(actor=leaving, post_id=other.pk)
    services.bookmark_add(actor=leaving, post_id=other.pk)

    user_purge(user=leaving)

    other.refresh_from_db()
    assert Post.objects.filter(pk=own.pk).exists() is False
    assert (other.reactions_count, other.love_count, other.comments_count, other.reposts_count, other.saves_count) == (
        0, 0, 0, 0, 0)
    assert Comment.objects.exists() is False
    assert Hashtag.objects.get(name="bye").posts_count == 1
