"""Search: Arabic / Arabizi / English with typos and prefixes, ranking, the visibility
policy, indexing from events, history, and the Meilisearch backend at its HTTP boundary."""

from __future__ import annotations

import json

import httpx
import pytest
from django.core.management import call_command

from content import services as content_services
from content.models import Hashtag
from feeds import search, selectors, services
from feeds.models import SearchDocument, SearchHistory, SearchKind
from social.models import AccountFlag, Block
from social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db


def person(make_user, handle: str, display_name: str = "", bio: str = "", followers: int = 0):
    user = make_user(handle=handle)
    user.profile.display_name = display_name
    user.profile.bio = bio
    user.profile.followers_count = followers
    user.profile.save()
    services.search_index(kind=SearchKind.USER, object_ids=[user.pk])
    return user


def handles(results) -> list[str]:
    return [u.handle for u in results.users]


@pytest.fixture
def people(make_user):
    return {
        "mohammed": person(make_user, "mohammed_salah", "Mohammed Salah", "football", followers=900),
        "mohamed": person(make_user, "mohamed_ali", "Mohamed Ali", "boxing", followers=50),
        "habibi": person(make_user, "habibi_cairo", "حبيبي", "أغاني", followers=10),
        "mona": person(make_user, "mona", "Mona Zaki", "ممثلة", followers=5),
    }


def test_english_typos_and_prefixes_find_both_spellings_ranked_by_popularity(people, make_user):
    viewer = make_user()

    assert handles(selectors.search(viewer=viewer, query="mohamed", type="users")) == ["mohammed_salah", "mohamed_ali"]
    assert handles(selectors.search(viewer=viewer, query="moha", type="users")) == ["mohammed_salah", "mohamed_ali"]
    assert handles(selectors.search(viewer=viewer, query="mohamad", type="users")) == ["mohammed_salah", "mohamed_ali"]
    assert handles(selectors.search(viewer=viewer, query="Mohamed Ali", type="users"))[0] == "mohamed_ali"


def test_exact_handle_ranks_first_whatever_the_popularity(people, make_user):
    assert handles(selectors.search(viewer=make_user(), query="mohamed_ali", type="users"))[0] == "mohamed_ali"


@pytest.mark.parametrize("query", ["حبيبى", "حبيبي", "7abibi", "حَبِيبِي", "habibi"])
def test_arabic_and_arabizi_spellings_find_the_same_user(people, make_user, query):
    assert handles(selectors.search(viewer=make_user(), query=query, type="users")) == ["habibi_cairo"]


@pytest.mark.parametrize("query", ["7abibi", "حبيبى", "حبيبي"])
def test_posts_in_both_scripts_are_found_by_every_spelling(make_user, publish, query):
    author, viewer = make_user(), make_user()
    arabic = publish(author, "يا حبيبي يا مصر")
    arabizi = publish(author, "ya 7abibi ya masr")
    publish(author, "nothing related")

    found = selectors.search(viewer=viewer, query=query, type="posts")

    assert sorted(p.pk for p in found.posts) == sorted([arabic.pk, arabizi.pk])


def test_hashtags_match_in_both_scripts_and_by_prefix(make_user, publish):
    author, viewer = make_user(), make_user()
    publish(author, "#مصر_الجديدة and #Cairo2025")

    found = selectors.search(viewer=viewer, query="#مَصر", type="hashtags")
    assert [h.name for h in found.hashtags] == ["مصر_الجديده"]
    assert [h.name for h in selectors.search(viewer=viewer, query="cair", type="hashtags").hashtags] == ["cairo2025"]


def test_sounds_are_found_by_title_and_artist(make_user, publish, video):
    author, viewer = make_user(), make_user()
    sound = content_services.sound_create(actor=author, title="Lailet El Omr", artist="Amr Diab")
    publish(author, "dance", media_ids=[video(author).pk], sound_id=sound.pk)

    assert [s.pk for s in selectors.search(viewer=viewer, query="amr diyab", type="sounds").sounds] == [sound.pk]


def test_blocked_inactive_and_shadowbanned_accounts_never_appear(people, make_user):
    viewer = make_user()
    Block.objects.create(blocker=people["mohamed"], blocked=viewer)
    AccountFlag.objects.create(user=people["mohammed"], shadowbanned=True)

    assert handles(selectors.search(viewer=viewer, query="mohamed", type="users")) == []
    # the shadowbanned account still finds itself (and the blocker only hid from `viewer`)
    assert handles(selectors.search(viewer=people["mohammed"], query="mohamed", type="users")) == [
        "mohammed_salah", "mohamed_ali"]


def test_private_accounts_posts_and_non_public_posts_do_not_appear(make_user, publish):
    public_author, private_author, viewer = make_user(), make_user(is_private=True), make_user()
    FollowFactory(follower=viewer, followee=private_author)
    shown = publish(public_author, "koshary lovers unite")
    publish(private_author, "koshary at home")
    publish(public_author, "koshary for followers", audience="followers")

    found = selectors.search(viewer=viewer, query="koshary", type="posts")

    assert [p.pk for p in found.posts] == [shown.pk]


def test_deleting_a_post_removes_it_from_the_index(make_user, publish, committed):
    author = make_user()
    post = publish(author, "ephemeral words")
    assert SearchDocument.objects.filter(kind="post", object_id=post.pk).exists() is True

    committed(content_services.post_delete, actor=author, post_id=post.pk)

    assert SearchDocument.objects.filter(kind="post", object_id=post.pk).exists() is False
    assert selectors.search(viewer=author, query="ephemeral", type="posts").posts == []


def test_editing_a_post_reindexes_it(make_user, publish, committed):
    author = make_user()
    post = publish(author, "first words")

    committed(content_services.post_update, actor=author, post_id=post.pk, body="second thoughts")

    assert [p.pk for p in selectors.search(viewer=author, query="thoughts", type="posts").posts] == [post.pk]
    assert selectors.search(viewer=author, query="first", type="posts").posts == []


def test_search_all_pages_one_kind_and_reindex_command(make_user, publish):
    author = make_user(handle="pager")
    posts = [publish(author, f"falafel number {i}").pk for i in range(7)]
    SearchDocument.objects.all().delete()

    call_command("search_reindex")

    seen, cursor = [], None
    while True:
        page = selectors.search(viewer=author, query="falafel", type="posts", cursor=cursor, limit=3)
        seen.append(len(page.posts))
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [3, 3, 1]
    everything = selectors.search(viewer=author, query="pager", type="all")
    assert (handles(everything), everything.next_cursor) == (["pager"], None)
    assert len(posts) == 7


def test_search_history_keeps_distinct_recent_queries(make_user):
    user = make_user()
    for query in ("Cairo", "koshary", "cairo "):
        services.search_history_record(user=user, query=query, kind="all")

    assert [r.query for r in selectors.search_recent(user=user)] == ["cairo", "koshary"]
    assert services.search_history_clear(user=user) == 2
    assert SearchHistory.objects.filter(user=user).exists() is False


def test_search_history_keeps_only_the_newest_queries(make_user, monkeypatch):
    # given
    monkeypatch.setattr(services, "SEARCH_HISTORY_KEEP", 3)
    user, other = make_user(), make_user()
    services.search_history_record(user=other, query="nile")
    for query in ("one", "two", "three", "four", "two", "five"):
        services.search_history_record(user=user, query=query)

    # then: the newest 3 distinct queries, a repeated one moved to the top; others untouched
    assert [r.query for r in selectors.search_recent(user=user)] == ["five", "two", "four"]
    assert [r.query for r in selectors.search_recent(user=other)] == ["nile"]


def test_hashtag_popularity_breaks_ties(make_user, publish):
    author = make_user()
    publish(author, "#tahrir")
    publish(author, "#tahrir_square")
    Hashtag.objects.filter(name="tahrir_square").update(posts_count=50)
    services.search_reindex_all(kind=SearchKind.HASHTAG)

    assert [h.name for h in selectors.search(viewer=author, query="tahr", type="hashtags").hashtags] == [
        "tahrir_square", "tahrir"]


# --- Meilisearch at the HTTP boundary ----------------------------------------------------------------
def test_meilisearch_backend_speaks_the_documented_http_api():
    seen: list[tuple[str, str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        seen.append((request.method, request.url.path, body))
        assert request.headers["Authorization"] == "Bearer secret"
        if request.url.path == "/multi-search":
            return httpx.Response(200, json={"results": [
                {"indexUid": "daira", "hits": [{"object_id": 7}, {"object_id": 3}]},
                {"indexUid": "daira", "hits": [{"object_id": 3}, {"object_id": 9}]},
            ]})
        return httpx.Response(202, json={"taskUid": 1, "status": "enqueued"})

    backend = search.MeilisearchBackend("http://meili.test:7700/", "secret", transport=httpx.MockTransport(handler))
    doc = search.Doc(kind="user", object_id=7, owner_id=7, key="mona", text="mona zaki", popularity=5.0)

    backend.setup()
    backend.upsert([doc])
    backend.delete(kind="user", object_ids=[3])
    found = backend.candidates(kind="user", query="7abibi", limit=10)

    assert found == [7, 3, 9]
    assert [(m, p) for m, p, _ in seen] == [
        ("POST", "/indexes"), ("PATCH", "/indexes/daira/settings"), ("POST", "/indexes/daira/documents"),
        ("POST", "/indexes/daira/documents/delete-batch"), ("POST", "/multi-search"),
    ]
    assert seen[2][2] == [{"uid": "user-7", "kind": "user", "object_id": 7, "owner_id": 7, "key": "mona",
                           "text": "mona zaki", "popularity": 5.0}]
    assert seen[3][2] == ["user-3"]
    assert [q["q"] for q in seen[4][2]["queries"]] == ["حبيبي", "tabibi", "حبب"]
    assert {q["filter"] for q in seen[4][2]["queries"]} == {'kind = "user"'}


def test_meilisearch_errors_surface_as_http_errors():
    backend = search.MeilisearchBackend(
        "http://meili.test:7700",
        transport=httpx.MockTransport(lambda r: httpx.Response(401, json={"code": "invalid_api_key"})),
    )

    with pytest.raises(httpx.HTTPStatusError):
        backend.candidates(kind="post", query="x y", limit=5)


def test_the_backend_follows_the_setting(settings):
    assert isinstance(search.get_backend(), search.PostgresSearchBackend)
    settings.MEILISEARCH_URL = "http://meili.test:7700"
    assert isinstance(search.get_backend(), search.MeilisearchBackend)
