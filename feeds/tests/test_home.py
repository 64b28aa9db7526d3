"""Home feed: fan-out on write, fan-in, visibility at read, paging, keeping feeds right,
rebuilds after Redis loses its data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from content import services as content_services
from content.models import Post
from daira.lib.redis import get_redis
from feeds import selectors, services, timelines
from social import services as social_services
from social.models import Block, Follow, Mute
from social.tests.factories import CircleFactory, add_to_circle

pytestmark = pytest.mark.django_db


def feed_members(user) -> list[str]:
    return [m.decode() for m in get_redis().zrevrange(timelines.home_key(user.pk), 0, -1) if m != b"_"]


def page_ids(page) -> list[int]:
    return [item.post.pk for item in page.items]


def all_pages(viewer, limit: int) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        page = selectors.home_feed(viewer=viewer, cursor=cursor, limit=limit)
        pages.append(page_ids(page))
        cursor = page.next_cursor
        if cursor is None:
            return pages


def follow(committed, follower, followee):
    committed(social_services.follow_create, actor=follower, target=followee)


def test_fan_out_reaches_the_existing_feeds_of_active_followers_only(make_user, publish, committed):
    # given
    author = make_user()
    active, inactive, stranger = make_user(), make_user(), make_user()
    follow(committed, active, author)
    follow(committed, inactive, author)
    inactive.last_active_at = timezone.now() - timedelta(days=30)
    inactive.save(update_fields=["last_active_at"])
    for user in (author, active, inactive, stranger):
        services.home_feed_rebuild(user_id=user.pk)

    # when
    post = publish(author, "first")

    # then
    member = f"{post.pk}:{author.pk}"
    assert feed_members(active) == [member]
    assert feed_members(author) == [member]
    assert feed_members(inactive) == []
    assert feed_members(stranger) == []
    assert get_redis().zscore(timelines.home_key(active.pk), member) == float(post.pk)


def test_fan_out_skips_replies_and_trims_feeds(make_user, publish, committed, monkeypatch):
    # given
    monkeypatch.setattr(timelines, "MAX_ITEMS", 3)
    author, reader = make_user(), make_user()
    follow(committed, reader, author)
    services.home_feed_rebuild(user_id=reader.pk)
    posts = [publish(author, f"p{i}") for i in range(4)]

    # when
    publish(author, "a reply", parent_id=posts[0].pk)

    # then
    assert feed_members(reader) == [f"{p.pk}:{author.pk}" for p in reversed(posts[1:])]


def test_big_accounts_are_not_fanned_out_and_are_merged_in_by_id(make_user, publish, committed, settings):
    # given: a big account (more than FANOUT_MAX_FOLLOWERS followers) and a small one
    settings.FANOUT_MAX_FOLLOWERS = 1
    big, small, reader, other = make_user(), make_user(), make_user(), make_user()
    follow(committed, reader, big)
    follow(committed, other, big)
    follow(committed, reader, small)
    services.home_feed_rebuild(user_id=reader.pk)

    # when
    s1 = publish(small, "s1")
    b1 = publish(big, "b1")
    s2 = publish(small, "s2")
    b2 = publish(big, "b2")

    # then: only the small account's posts were written to the reader's feed...
    assert feed_members(reader) == [f"{s2.pk}:{small.pk}", f"{s1.pk}:{small.pk}"]
    # ...and reads merge the big account's recent set in snowflake order
    page = selectors.home_feed(viewer=reader, limit=10)
    assert page_ids(page) == [b2.pk, s2.pk, b1.pk, s1.pk]
    assert page.source == "redis"
    # paging through the merge keeps the order
    assert all_pages(reader, limit=3) == [[b2.pk, s2.pk, b1.pk], [s1.pk]]


@pytest.fixture
def fan_in_reader(make_user, publish, committed, settings):
    """(big account, reader following it with a warm feed, the big account's one post), with
    every account big (FANOUT_MAX_FOLLOWERS = 0): the reader sees the post by fan-in."""
    settings.FANOUT_MAX_FOLLOWERS = 0
    big, reader = make_user(), make_user()
    follow(committed, reader, big)
    post = publish(big, "b1")
    services.home_feed_rebuild(user_id=reader.pk, force=True)
    return big, reader, post


def test_fan_in_set_lost_with_redis_is_refilled_from_postgres(fan_in_reader):
    big, reader, b1 = fan_in_reader
    get_redis().delete(timelines.author_key(big.pk))

    page = selectors.home_feed(viewer=reader, limit=10)

    assert page_ids(page) == [b1.pk]
    assert get_redis().zscore(timelines.author_key(big.pk), f"{b1.pk}:{big.pk}") == float(b1.pk)


def test_the_merge_in_redis_orders_dedupes_truncates_and_reports_exhaustion_and_lost_sets():
    # given: a home feed and two author sets sharing one entry, with a tie on the score (two
    # reposts shared at the same instant); a post's score is its id, a repost's its own id
    client = get_redis()
    home, author_a, author_b, author_lost = 910_000_001, 910_000_002, 910_000_003, 910_000_004
    keys = [timelines.home_key(home), timelines.author_key(author_a), timelines.author_key(author_b),
            timelines.author_key(author_lost)]
    client.delete(*keys)
    client.zadd(keys[0], {"_": 0, "100:7": 100, "300:7": 300})
    client.zadd(keys[1], {"_": 0, "300:7": 300, "200:8": 200, "250:8:9": 250})
    client.zadd(keys[2], {"_": 0, "99:5:6": 250, "400:5": 400})
    script = timelines.merge_newest_script()

    def merge(high="+inf", batch=10):
        exhausted, missing, *flat = script(keys=keys, args=[high, batch], client=client)
        members = [(flat[i].decode(), float(flat[i + 1])) for i in range(0, len(flat), 2)]
        return bool(exhausted), [int(i) for i in missing], members

    # then: newest first, a member once, ties broken by post id (longer id = bigger), the
    # marker never returned, and the lost set named by its index among the author keys
    assert merge() == (True, [3], [("400:5", 400), ("300:7", 300), ("250:8:9", 250), ("99:5:6", 250),
                                   ("200:8", 200), ("100:7", 100)])
    # a window cut at `batch` is not exhausted, and the bound is exclusive
    assert merge(batch=2) == (False, [3], [("400:5", 400), ("300:7", 300)])
    assert merge(high="(300", batch=3) == (False, [3], [("250:8:9", 250), ("99:5:6", 250), ("200:8", 200)])
    client.delete(*keys)


def test_the_merge_in_redis_orders_snowflake_ids_that_share_a_double_by_their_exact_ids():
    # given: real snowflake ids are above 2**53, where neighbours share one double (Redis
    # stores scores as doubles): two posts and a repost one apart, in two sets
    client = get_redis()
    keys = [timelines.home_key(910_000_011), timelines.author_key(910_000_012)]
    client.delete(*keys)
    base = 2**60  # doubles here are 256 apart
    older, newer, repost_id = base + 1, base + 3, base + 2
    client.zadd(keys[0], {"_": 0, f"{older}:7": older, f"{newer}:7": newer})
    client.zadd(keys[1], {"_": 0, "55:8:9": repost_id})
    assert client.zscore(keys[0], f"{older}:7") == client.zscore(keys[0], f"{newer}:7")
    script = timelines.merge_newest_script()

    # when
    exhausted, missing, *flat = script(keys=keys, args=["+inf", 10], client=client)

    # then: the post with the bigger id first, and the repost, whose own id is lost in the
    # double, after them (ties go by post id); posts' scores come back as their exact ids
    assert [m.decode() for m in flat[0::2]] == [f"{newer}:7", f"{older}:7", "55:8:9"]
    assert [int(s) for s in flat[1:4:2]] == [newer, older]
    assert float(flat[5]) == float(repost_id)
    client.delete(*keys)


def test_the_first_read_reports_the_feeds_state_then_merges_with_the_cached_big_accounts():
    # given: a reader's keys, and two big accounts, one of whose sets was lost
    client = get_redis()
    reader, big_a, big_lost = 910_000_021, 910_000_022, 910_000_023
    home, lock, big_list = (timelines.home_key(reader), timelines.rebuild_lock_key(reader),
                            timelines.big_following_key(reader))
    client.delete(home, lock, big_list, timelines.author_key(big_a), timelines.author_key(big_lost))
    script = timelines.home_first_read_script()

    def first_read(high="+inf", batch=10):
        return script(keys=[home, lock, big_list], args=[3600, high, batch, timelines.AUTHOR_KEY_PREFIX],
                      client=client)

    # then: no feed is cold, a feed being rebuilt is locked
    assert first_read() == [b"cold"]
    client.zadd(home, {"_": 0, "100:7": 100, "300:7": 300})
    client.set(lock, "1")
    assert first_read() == [b"locked"]
    # a warm feed gets its TTL back and its size; an expired big-account list is asked for
    client.delete(lock)
    assert first_read() == [b"no-big", 3]
    assert 0 < client.ttl(home) <= 3600
    # with the list cached, the reply is the merge of the feed and the sets it names (the lost
    # one reported by its index), the same as the merge script's for those keys
    client.set(big_list, f"{big_a},{big_lost}")
    client.zadd(timelines.author_key(big_a), {"_": 0, "200:8": 200, "400:8": 400})
    merge = timelines.merge_newest_script()
    for high, batch in (("+inf", 10), ("+inf", 2), ("(300", 10)):
        expected = merge(keys=[home, timelines.author_key(big_a), timelines.author_key(big_lost)],
                         args=[high, batch], client=client)
        assert first_read(high, batch) == [b"ok", 3, f"{big_a},{big_lost}".encode(), *expected]
    assert first_read()[3:] == [1, [2], b"400:8", b"400", b"300:7", b"300", b"200:8", b"200", b"100:7", b"100"]
    # an empty cached list (no big accounts followed) merges the feed alone
    client.set(big_list, "")
    assert first_read(batch=1) == [b"ok", 3, b"", 0, [], b"300:7", b"300"]
    client.delete(home, big_list, timelines.author_key(big_a))


def test_a_home_read_with_the_big_account_list_expired_computes_it_and_shows_the_same_page(fan_in_reader):
    big, reader, b1 = fan_in_reader
    get_redis().delete(timelines.big_following_key(reader.pk))

    first = page_ids(selectors.home_feed(viewer=reader, limit=10))  # computes and caches the list
    cached = get_redis().get(timelines.big_following_key(reader.pk))
    second = page_ids(selectors.home_feed(viewer=reader, limit=10))  # reads it in the first read

    assert first == second == [b1.pk]
    assert cached == str(big.pk).encode()


@pytest.fixture
def warm_pair(make_user, publish, committed):
    """A reader following an author, with a warm feed holding one post by that author."""
    author, reader = make_user(), make_user()
    follow(committed, reader, author)
    services.home_feed_rebuild(user_id=reader.pk)
    post = publish(author, "visible at first")
    assert page_ids(selectors.home_feed(viewer=reader)) == [post.pk]
    return author, reader, post


def test_block_after_fan_out_hides_the_post_at_read(warm_pair):
    author, reader, post = warm_pair
    Block.objects.create(blocker=author, blocked=reader)  # no event: the read must still filter

    assert page_ids(selectors.home_feed(viewer=reader)) == []
    assert f"{post.pk}:{author.pk}" in feed_members(reader)


def test_mute_hides_the_post_at_read(warm_pair):
    author, reader, post = warm_pair
    Mute.objects.create(muter=reader, muted=author, posts=True, stories=False)

    assert page_ids(selectors.home_feed(viewer=reader)) == []


def test_private_account_hides_its_posts_from_non_followers_at_read(warm_pair):
    author, reader, post = warm_pair
    Follow.objects.filter(follower=reader, followee=author).delete()  # no event
    author.is_private = True
    author.save(update_fields=["is_private"])

    assert page_ids(selectors.home_feed(viewer=reader)) == []


def test_circle_post_shows_only_to_members_of_that_circle(make_user, publish, committed):
    author, member, outsider = make_user(), make_user(), make_user()
    for reader in (member, outsider):
        follow(committed, reader, author)
        services.home_feed_rebuild(user_id=reader.pk)
    circle = CircleFactory(owner=author)
    add_to_circle(circle, member)

    post = publish(author, "just us", audience="circle", circle_id=circle.pk)

    assert f"{post.pk}:{author.pk}" in feed_members(outsider)  # delivered, filtered at read
    assert page_ids(selectors.home_feed(viewer=member)) == [post.pk]
    assert page_ids(selectors.home_feed(viewer=outsider)) == []


def test_deleted_post_is_filtered_at_read_and_removed_by_its_event(warm_pair, committed):
    author, reader, post = warm_pair
    Post.objects.filter(pk=post.pk).update(deleted_at=timezone.now())  # not yet removed
    assert page_ids(selectors.home_feed(viewer=reader)) == []

    Post.objects.filter(pk=post.pk).update(deleted_at=None)
    committed(content_services.post_delete, actor=author, post_id=post.pk)

    assert feed_members(reader) == []
    assert page_ids(selectors.home_feed(viewer=reader)) == []


def test_moderation_hide_removes_the_post_from_feeds_at_read(warm_pair):
    author, reader, post = warm_pair

    content_services.moderation_hide(content_type="content.post", object_id=post.pk)

    assert page_ids(selectors.home_feed(viewer=reader)) == []


def test_pages_are_never_short_while_more_posts_exist(make_user, publish, committed):
    # given: 24 posts in the feed, every other one by an author the reader then blocks
    shown, hidden, reader = make_user(), make_user(), make_user()
    follow(committed, reader, shown)
    follow(committed, reader, hidden)
    services.home_feed_rebuild(user_id=reader.pk)
    visible = []
    for i in range(12):
        visible.append(publish(shown, f"shown {i}").pk)
        publish(hidden, f"hidden {i}")
    Block.objects.create(blocker=reader, blocked=hidden)

    # when
    pages = all_pages(reader, limit=5)

    # then
    newest_first = list(reversed(visible))
    assert pages == [newest_first[0:5], newest_first[5:10], newest_first[10:12]]


def test_pages_continue_below_the_redis_window_with_the_pull_query(make_user, publish, committed, monkeypatch):
    monkeypatch.setattr(timelines, "MAX_ITEMS", 4)
    author, reader = make_user(), make_user()
    follow(committed, reader, author)
    services.home_feed_rebuild(user_id=reader.pk)
    posts = [publish(author, f"p{i}").pk for i in range(7)]

    pages = all_pages(reader, limit=3)

    newest_first = list(reversed(posts))
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:7]]


def test_following_backfills_recent_posts_and_unfollow_removes_them(make_user, publish, committed):
    # given
    author, reader = make_user(), make_user()
    older = [publish(author, f"old {i}").pk for i in range(3)]
    services.home_feed_rebuild(user_id=reader.pk)
    assert page_ids(selectors.home_feed(viewer=reader)) == []

    # when: follow → backfill
    follow(committed, reader, author)

    # then
    assert page_ids(selectors.home_feed(viewer=reader)) == list(reversed(older))

    # when: unfollow → removal
    committed(social_services.follow_delete, actor=reader, target=author)

    # then
    assert feed_members(reader) == []


def test_block_removes_entries_from_both_feeds(make_user, publish, committed):
    a, b = make_user(), make_user()
    follow(committed, a, b)
    follow(committed, b, a)
    for user in (a, b):
        services.home_feed_rebuild(user_id=user.pk)
    post_a = publish(a, "by a")
    post_b = publish(b, "by b")
    assert feed_members(a) == [f"{post_b.pk}:{b.pk}", f"{post_a.pk}:{a.pk}"]

    committed(social_services.block_create, actor=a, target=b)

    assert feed_members(a) == [f"{post_a.pk}:{a.pk}"]
    assert feed_members(b) == [f"{post_b.pk}:{b.pk}"]


def test_mute_event_removes_entries(warm_pair, committed):
    author, reader, post = warm_pair

    committed(social_services.mute_create, actor=reader, target=author)

    assert feed_members(reader) == []


def test_reposts_reach_the_reposters_followers_and_leave_with_the_reposter(make_user, publish, committed):
    author, reposter, reader = make_user(), make_user(), make_user()
    follow(committed, reader, reposter)
    services.home_feed_rebuild(user_id=reader.pk)
    post = publish(author, "worth sharing")

    repost = committed(content_services.repost_create, actor=reposter, post_id=post.pk)

    page = selectors.home_feed(viewer=reader)
    assert [(i.post.pk, i.reposted_by.pk, i.score) for i in page.items] == [(post.pk, reposter.pk, repost.pk)]

    committed(social_services.follow_delete, actor=reader, target=reposter)
    assert feed_members(reader) == []


def test_flushall_loses_nothing_pull_query_answers_then_rebuild(make_user, publish, committed):
    # given
    authors = [make_user() for _ in range(3)]
    reader = make_user()
    for author in authors:
        follow(committed, reader, author)
    services.home_feed_rebuild(user_id=reader.pk)
    posts = [publish(authors[i % 3], f"p{i}").pk for i in range(9)]
    own = publish(reader, "mine").pk
    expected = [own] + list(reversed(posts))
    assert all_pages(reader, limit=4) == [expected[0:4], expected[4:8], expected[8:10]]

    # when: Redis loses everything
    get_redis().flushdb()

    # then: the API answers from the pull query at once, with every post
    page = selectors.home_feed(viewer=reader, limit=20)
    assert page.source == "pull"
    assert page_ids(page) == expected

    # and a worker rebuilds the feed from Postgres; reads come from Redis again
    assert services.home_feed_rebuild(user_id=reader.pk) == 10
    page = selectors.home_feed(viewer=reader, limit=20)
    assert page.source == "redis"
    assert page_ids(page) == expected


def test_rebuild_in_progress_serves_the_pull_query(warm_pair):
    author, reader, post = warm_pair
    get_redis().set(timelines.rebuild_lock_key(reader.pk), "1")

    page = selectors.home_feed(viewer=reader)

    assert (page.source, page_ids(page)) == ("pull", [post.pk])
    assert services.home_feed_rebuild(user_id=reader.pk) is None  # someone else holds the lock


def test_feeds_rebuild_command_rebuilds_one_user_and_all(warm_pair, capsys):
    author, reader, post = warm_pair
    get_redis().flushdb()

    call_command("feeds_rebuild", "--user", reader.handle)
    assert feed_members(reader) == [f"{post.pk}:{author.pk}"]

    get_redis().flushdb()
    call_command("feeds_rebuild", "--all")
    assert feed_members(reader) == [f"{post.pk}:{author.pk}"]
    assert feed_members(author) == [f"{post.pk}:{author.pk}"]


def test_ranked_feed_holds_the_same_posts_and_prefers_engaged_authors(make_user, publish, committed):
    loved, plain, reader = make_user(), make_user(), make_user()
    follow(committed, reader, loved)
    follow(committed, reader, plain)
    services.home_feed_rebuild(user_id=reader.pk)
    old_loved = publish(loved, "older but loved")
    newer = [publish(plain, f"plain {i}").pk for i in range(2)]
    committed(content_services.reaction_set, actor=reader, target_type="post", target_id=old_loved.pk, reaction="love")

    page = selectors.home_feed(viewer=reader, ranking="ranked", limit=10)

    assert page.source == "ranked"
    assert sorted(page_ids(page)) == sorted([old_loved.pk, *newer])
    assert page_ids(page)[0] == old_loved.pk


def test_a_warm_page_costs_one_primary_key_query_plus_a_media_query_when_it_shows_media(
        make_user, publish, committed, django_assert_num_queries):
    # given: a warm feed of 30 posts by 3 authors (the big-account list is cached after one read)
    from content.tests.conftest import make_asset

    authors = [make_user() for _ in range(3)]
    reader = make_user()
    for author in authors:
        follow(committed, reader, author)
    services.home_feed_rebuild(user_id=reader.pk)
    for i in range(30):
        publish(authors[i % 3], f"p{i}")
    selectors.home_feed(viewer=reader, limit=5)

    # then: text posts have no media to load, so a page of 5 or 20 costs the same one query
    with django_assert_num_queries(1):
        small = selectors.home_feed(viewer=reader, limit=5)
    with django_assert_num_queries(1):
        large = selectors.home_feed(viewer=reader, limit=20)
    assert (len(small.items), len(large.items)) == (5, 20)

    # and a page with photos costs one media query more, whatever its size
    photo = publish(authors[0], "with a photo", media_ids=[make_asset(authors[0]).pk])
    with django_assert_num_queries(2):
        mixed = selectors.home_feed(viewer=reader, limit=20)
    assert mixed.items[0].post.pk == photo.pk
    assert [m.asset_id for m in mixed.items[0].post.media_items.all()] == [photo.media_items.get().asset_id]
    assert list(mixed.items[1].post.media_items.all()) == []


@pytest.mark.parametrize("rounds", [1, selectors.MAX_ROUNDS])
def test_pull_pages_are_full_when_the_policy_filters_most_candidates(make_user, publish, committed, monkeypatch,
                                                                     rounds):
    # given: the newest 12 posts are by a muted author, the 3 before them by someone else
    muted, other, reader = make_user(), make_user(), make_user()
    follow(committed, reader, muted)
    follow(committed, reader, other)
    older = [publish(other, f"o{i}").pk for i in range(3)]
    for i in range(12):
        publish(muted, f"m{i}")
    Mute.objects.create(muter=reader, muted=muted, posts=True, stories=False)
    # one round of ids-first candidates only: the rest must come from the policy-in-SQL query
    monkeypatch.setattr(selectors, "MAX_ROUNDS", rounds)

    # when
    page = selectors.home_pull_page(viewer=reader, limit=3)

    # then
    assert (page.source, page_ids(page), page.next_cursor) == ("pull", list(reversed(older)), None)


def test_a_pull_page_of_text_posts_costs_one_candidate_query(make_user, publish, committed,
                                                             django_assert_num_queries):
    # given
    authors = [make_user() for _ in range(3)]
    reader = make_user()
    for author in authors:
        follow(committed, reader, author)
    for i in range(30):
        publish(authors[i % 3], f"p{i}")

    # then: the policy rides on the candidate query (no query per row or per author), and
    # text posts need no media query
    with django_assert_num_queries(1):
        page = selectors.home_pull_page(viewer=reader, limit=20)
    assert len(page.items) == 20
