"""Trending (decay order, exclusions, incremental vs. recompute), explore and circle feeds."""

from __future__ import annotations

import math
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from content import services as content_services
from content.models import Reaction
from daira.lib.errors import NotFound
from feeds import selectors, trending
from social import services as social_services
from social.models import AccountFlag
from social.tests.factories import CircleFactory, add_to_circle

pytestmark = pytest.mark.django_db


def react(post, users, *, ago: timedelta = timedelta(0)):
    for user in users:
        Reaction.objects.create(user=user, post=post, reaction="like", created_at=timezone.now() - ago)


def test_trending_decay_ranks_recent_engagement_above_older_larger_engagement(make_user, publish):
    # given: A got 3 reactions 20 hours ago, B got 2 just now (24 h window, half-life 6 h)
    author = make_user()
    fans = [make_user() for _ in range(3)]
    a = publish(author, "older hit")
    b = publish(author, "fresh hit")
    react(a, fans, ago=timedelta(hours=20))
    react(b, fans[:2])

    # when
    trending.trending_recompute(window="24h")
    top = trending.trending_top(kind="posts", window="24h", limit=10)

    # then: 2·e^0 = 2 > 3·e^(−λ·20 h) = 3·2^(−20/6) ≈ 0.30
    assert [pid for pid, _ in top] == [b.pk, a.pk]
    assert top[0][1] == pytest.approx(2.0, rel=1e-3)
    assert top[1][1] == pytest.approx(3 * 2 ** (-20 / 6), rel=1e-3)


def test_trending_windows_drop_events_older_than_the_window(make_user, publish):
    author, fan = make_user(), make_user()
    post = publish(author, "two hours ago")
    react(post, [fan], ago=timedelta(hours=2))

    trending.trending_recompute(window="1h")
    trending.trending_recompute(window="24h")

    assert trending.trending_top(kind="posts", window="1h", limit=5) == []
    assert [pid for pid, _ in trending.trending_top(kind="posts", window="24h", limit=5)] == [post.pk]


def test_incremental_scores_keep_the_decayed_order_between_recomputes(make_user, publish):
    # given: an epoch an hour ago; A gets 3 events then, B gets 2 events now
    author = make_user()
    a, b = publish(author, "a"), publish(author, "b")
    trending.trending_recompute(window="24h")
    now = time.time()
    for _ in range(3):
        trending.trending_record(post_id=a.pk, event="reaction", at=now - 18 * 3600)
    trending.trending_record(post_id=b.pk, event="reaction", at=now)
    trending.trending_record(post_id=b.pk, event="reaction", at=now)

    # when
    top = trending.trending_top(kind="posts", window="24h", limit=5)

    # then: same figures as the exact formula
    lam = trending.decay_rate("24h")
    assert [pid for pid, _ in top] == [b.pk, a.pk]
    assert top[1][1] == pytest.approx(3 * math.exp(-lam * 18 * 3600), rel=1e-2)


def test_events_feed_trending_for_posts_hashtags_and_comments(make_user, publish, committed):
    author, fan = make_user(), make_user()
    post = publish(author, "#Cairo nights")

    committed(content_services.reaction_set, actor=fan, target_type="post", target_id=post.pk, reaction="fire")
    committed(content_services.comment_create, actor=fan, post_id=post.pk, body="wow")

    top = trending.trending_top(kind="posts", window="1h", limit=5)
    assert [pid for pid, _ in top] == [post.pk]
    assert top[0][1] == pytest.approx(3.0, rel=1e-2)  # reaction 1 + comment 2
    tags = selectors.trending_tags(kind="hashtags", window="1h")
    assert [(e.object.name, round(e.score, 2)) for e in tags] == [("cairo", 3.0)]


def test_trending_excludes_shadowbanned_and_moderation_hidden(make_user, publish):
    clean, banned = make_user(), make_user()
    fan = make_user()
    ok = publish(clean, "fine")
    hidden = publish(clean, "reported")
    shady = publish(banned, "shady")
    for post in (ok, hidden, shady):
        react(post, [fan])
    AccountFlag.objects.create(user=banned, shadowbanned=True)
    content_services.moderation_hide(content_type="content.post", object_id=hidden.pk)

    trending.trending_recompute(window="24h")

    assert [pid for pid, _ in trending.trending_top(kind="posts", window="24h", limit=10)] == [ok.pk]
    assert trending.trending_record(post_id=shady.pk, event="reaction") is False
    page = selectors.trending_posts(viewer=fan, window="24h")
    assert [i.post.pk for i in page.items] == [ok.pk]


def test_trending_videos_and_sounds_lists(make_user, publish, video):
    author, fan = make_user(), make_user()
    sound = content_services.sound_create(actor=author, title="Mahraganat beat")
    clip = publish(author, "dance", media_ids=[video(author).pk], sound_id=sound.pk)
    text = publish(author, "just text")
    react(clip, [fan])
    react(text, [fan])

    trending.trending_recompute(window="7d")

    page = selectors.trending_posts(viewer=None, kind="videos", window="7d")
    assert [i.post.pk for i in page.items] == [clip.pk]
    assert [e.object.pk for e in selectors.trending_tags(kind="sounds", window="7d")] == [sound.pk]


def test_explore_mixes_fresh_unfollowed_posts_diversified_and_works_logged_out(make_user, publish, committed):
    # given
    viewer, followed, prolific, first, second = (make_user() for _ in range(5))
    committed(social_services.follow_create, actor=viewer, target=followed)
    followed_post = publish(followed, "from someone I follow").pk
    o1 = publish(first, "one post").pk
    o2 = publish(second, "another post").pk
    b0, b1, b2 = (publish(prolific, f"burst {i}").pk for i in range(3))

    # when
    page = selectors.explore(viewer=viewer, limit=10)
    anonymous = selectors.explore(viewer=None, limit=10)

    # then: no followed account; the prolific author's burst is spread out between others
    assert [i.post.pk for i in page.items] == [b2, o2, o1, b1, b0]
    assert page.source == "explore"
    assert [i.post.pk for i in anonymous.items] == [b2, o2, o1, followed_post, b1, b0]


def test_circle_feed_shows_members_posts_and_refuses_other_peoples_circles(make_user, publish, committed):
    owner, member, outsider = make_user(), make_user(), make_user()
    committed(social_services.follow_create, actor=member, target=owner)
    circle = CircleFactory(owner=owner)
    add_to_circle(circle, member)
    mine = publish(member, "member post")
    publish(outsider, "not in the circle")

    page = selectors.circle_feed(viewer=owner, circle_id=circle.pk)

    assert [i.post.pk for i in page.items] == [mine.pk]
    with pytest.raises(NotFound):
        selectors.circle_feed(viewer=outsider, circle_id=circle.pk)
