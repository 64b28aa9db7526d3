import pytest
from django.utils import timezone

from accounts.models import Profile
from accounts.tests.factories import UserFactory
from content import selectors, services, tasks
from content.models import Hashtag, Mention, ModerationState, Post, PostEdit
from daira.lib.errors import Conflict, Invalid, NotFound, PermissionDenied
from media import services as media_services
from media.models import MediaAsset
from social.tests.factories import CircleFactory, FollowFactory, add_close_friend, add_to_circle, block, make_friends

pytestmark = pytest.mark.django_db


def visible_ids(viewer, author=None):
    return set(selectors.post_list_visible_to(viewer=viewer, author_id=author.pk if author else None)
               .values_list("id", flat=True))


def test_post_create_text_is_published_and_announced(django_capture_on_commit_callbacks, emitted_events):
    # given
    author = UserFactory()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        post = services.post_create(author=author, body="hello #Cairo", audience="public")

    # then
    post.refresh_from_db()
    assert (post.status, post.kind, post.moderation_state) == ("published", "text", "visible")
    assert Profile.objects.get(user=author).posts_count == 1
    assert [name for name, _ in emitted_events] == ["post.created", "post.published"]
    assert emitted_events[1][1] == {"post_id": post.pk, "author_id": author.pk, "parent_id": None, "root_id": None}


def test_post_create_rejects_empty_and_oversized_and_writes_nothing():
    author = UserFactory()

    with pytest.raises(Invalid):
        services.post_create(author=author, body="   ")
    with pytest.raises(Invalid):
        services.post_create(author=author, body="x" * 2201)

    assert Post.objects.exists() is False


def test_post_create_rejects_someone_elses_media(image):
    author, other = UserFactory(), UserFactory()
    asset = image(other)

    with pytest.raises(Invalid) as error:
        services.post_create(author=author, body="mine?", media_ids=[asset.pk])

    assert error.value.fields == {"media_ids": ["One of the media items does not exist."]}
    assert Post.objects.exists() is False


def test_post_kinds_follow_the_media(image, video):
    author = UserFactory()

    photo = services.post_create(author=author, media_ids=[image(author).pk])
    carousel = services.post_create(author=author, media_ids=[image(author).pk, video(author).pk, image(author).pk])
    clip = services.post_create(author=author, media_ids=[video(author).pk])

    assert (photo.kind, carousel.kind, clip.kind) == ("photo", "carousel", "video")
    assert [m.position for m in carousel.media_items.all()] == [0, 1, 2]


def test_render_loaded_media_read_without_queries_and_chain_like_the_related_manager(
        image, video, django_assert_num_queries):
    viewer, author = UserFactory(), UserFactory()
    carousel = services.post_create(author=author, media_ids=[image(author).pk, video(author).pk, image(author).pk])
    photo = services.post_create(author=author, media_ids=[image(author).pk])
    text = services.post_create(author=author, body="words")

    posts = selectors.posts_visible_by_ids(viewer=viewer, post_ids=[carousel.pk, photo.pk, text.pk])

    with django_assert_num_queries(0):  # loaded with the page, each item knowing its post and asset
        assert [[m.position for m in p.media_items.all()] for p in posts] == [[0, 1, 2], [0], []]
        assert all(m.post is p and m.asset.pk == m.asset_id for p in posts for m in p.media_items.all())
    # a chained query is still this post's, as with the related manager
    assert [m.position for m in posts[0].media_items.filter(position__gte=1)] == [1, 2]
    assert posts[1].media_items.filter(position=0).exists()
    assert posts[2].media_items.count() == 0


def test_video_longer_than_ten_minutes_is_refused(video):
    author = UserFactory()

    with pytest.raises(Invalid):
        services.post_create(author=author, media_ids=[video(author, duration_ms=10 * 60 * 1000 + 1).pk])


def test_more_than_ten_media_is_refused(image):
    author = UserFactory()
    ids = [image(author).pk for _ in range(11)]

    with pytest.raises(Invalid):
        services.post_create(author=author, media_ids=ids)


def test_pending_post_is_published_when_every_asset_is_ready(image, django_capture_on_commit_callbacks,
                                                             emitted_events):
    # given: one ready image and one video still processing
    author, follower = UserFactory(), UserFactory()
    FollowFactory(follower=follower, followee=author)
    ready = image(author)
    processing = make_processing_video(author)
    with django_capture_on_commit_callbacks(execute=True):
        post = services.post_create(author=author, body="soon", media_ids=[ready.pk, processing.pk])

    # then: pending, seen by its author only, not announced
    assert post.status == "pending"
    assert selectors.post_get_visible(viewer=author, post_id=post.pk).pk == post.pk
    with pytest.raises(NotFound):
        selectors.post_get_visible(viewer=follower, post_id=post.pk)
    assert [name for name, _ in emitted_events] == ["post.created"]
    assert emitted_events[0][1]["status"] == "pending"
    assert Profile.objects.get(user=author).posts_count == 0

    # when: media finishes and its event reaches content's task (what the worker runs)
    with django_capture_on_commit_callbacks(execute=True):
        media_services.asset_mark_ready(asset=processing, fields={"renditions": VIDEO_RENDITIONS_FOR_TEST,
                                                                  "duration_ms": 9000})
    ready_events = [payload for name, payload in emitted_events if name == "media.ready"]
    with django_capture_on_commit_callbacks(execute=True):
        tasks.media_ready_task(**ready_events[0])
        tasks.media_ready_task(**ready_events[0])  # redelivered: nothing happens twice

    # then
    post.refresh_from_db()
    assert post.status == "published"
    assert selectors.post_get_visible(viewer=follower, post_id=post.pk).pk == post.pk
    assert [name for name, _ in emitted_events].count("post.published") == 1
    assert Profile.objects.get(user=author).posts_count == 1


def test_pending_post_fails_when_its_media_fails(django_capture_on_commit_callbacks, emitted_events):
    author = UserFactory()
    processing = make_processing_video(author)
    post = services.post_create(author=author, body="x", media_ids=[processing.pk])

    with django_capture_on_commit_callbacks(execute=True):
        media_services.asset_mark_failed(asset=processing, code="corrupt", message="The video is damaged.")
    payload = next(p for name, p in emitted_events if name == "media.failed")
    tasks.media_failed_task(**payload)

    post.refresh_from_db()
    assert (post.status, post.failure_reason) == ("failed", "The video is damaged.")


VIDEO_RENDITIONS_FOR_TEST = {
    "master": "hls/master.m3u8",
    "variants": [{"name": "360p", "width": 360, "height": 640, "bandwidth": 800000, "playlist": "hls/360p.m3u8"}],
    "poster": "poster.jpg",
    "sprite": {"image": "sprite.jpg", "index": "sprite.vtt"},
    "offline": "offline.mp4",
}


def make_processing_video(owner) -> MediaAsset:
    from content.tests.conftest import make_asset

    return make_asset(owner, kind="video", status=MediaAsset.Status.PROCESSING)


# --- audiences against the policy -------------------------------------------------------------
def test_every_audience_against_the_policy():
    # given
    author = UserFactory()
    follower, friend, close, member, stranger, blocked = (UserFactory() for _ in range(6))
    for user in (follower, friend, close, member, blocked):
        FollowFactory(follower=user, followee=author)
    make_friends(author, friend)
    add_close_friend(author, close)
    circle = CircleFactory(owner=author)
    add_to_circle(circle, member)
    block(author, blocked)
    posts = {
        audience: services.post_create(author=author, body=audience, audience=audience,
                                       circle_id=circle.pk if audience == "circle" else None)
        for audience in ("public", "followers", "friends", "close_friends", "circle")
    }

    # when
    seen = {name: {p.body for p in selectors.post_list_visible_to(viewer=viewer, author_id=author.pk)}
            for name, viewer in [("author", author), ("follower", follower), ("friend", friend), ("close", close),
                                 ("member", member), ("stranger", stranger), ("blocked", blocked), ("anon", None)]}

    # then
    assert seen == {
        "author": set(posts),
        "follower": {"public", "followers"},
        "friend": {"public", "followers", "friends"},
        "close": {"public", "followers", "close_friends"},
        "member": {"public", "followers", "circle"},  # a circle member who also follows
        "stranger": {"public"},
        "blocked": set(),
        "anon": {"public"},
    }


def test_circle_post_is_seen_by_a_member_and_not_by_a_follower_outside_the_circle():
    author, member, outsider = UserFactory(), UserFactory(), UserFactory()
    FollowFactory(follower=outsider, followee=author)
    circle = CircleFactory(owner=author)
    add_to_circle(circle, member)

    post = services.post_create(author=author, body="inner", audience="circle", circle_id=circle.pk)

    assert selectors.post_get_visible(viewer=member, post_id=post.pk).pk == post.pk
    with pytest.raises(NotFound):
        selectors.post_get_visible(viewer=outsider, post_id=post.pk)
    assert selectors.posts_visible_by_ids(viewer=outsider, post_ids=[post.pk]) == []


def test_circle_audience_needs_one_of_the_authors_circles():
    author = UserFactory()
    foreign = CircleFactory()

    with pytest.raises(Invalid):
        services.post_create(author=author, body="x", audience="circle", circle_id=foreign.pk)
    with pytest.raises(Invalid):
        services.post_create(author=author, body="x", audience="everyone")
    assert Post.objects.exists() is False


def test_private_account_posts_only_for_followers():
    author = UserFactory(is_private=True)
    follower, stranger = UserFactory(), UserFactory()
    FollowFactory(follower=follower, followee=author)
    post = services.post_create(author=author, body="x", audience="public")

    assert visible_ids(follower, author) == {post.pk}
    assert visible_ids(stranger, author) == set()
    assert visible_ids(None, author) == set()


def test_posts_visible_by_ids_keeps_the_order_and_drops_what_the_viewer_may_not_see():
    author, viewer = UserFactory(), UserFactory()
    a = services.post_create(author=author, body="a")
    b = services.post_create(author=author, body="b", audience="followers")
    c = services.post_create(author=author, body="c")

    found = selectors.posts_visible_by_ids(viewer=viewer, post_ids=[c.pk, b.pk, a.pk, c.pk, 999])

    assert [p.pk for p in found] == [c.pk, a.pk]


# --- edits, deletes, pins --------------------------------------------------------------------------
def test_edit_keeps_history_and_resyncs_hashtags_and_mentions(emitted_events, django_capture_on_commit_callbacks):
    author = UserFactory()
    mona = UserFactory(handle="mona")
    post = services.post_create(author=author, body="first #مَصر")

    with django_capture_on_commit_callbacks(execute=True):
        services.post_update(actor=author, post_id=post.pk, body="second #cairo @mona", audience="followers")

    post.refresh_from_db()
    assert (post.body, post.audience, post.is_edited) == ("second #cairo @mona", "followers", True)
    assert list(PostEdit.objects.filter(post=post).values_list("body", "audience")) == [("first #مَصر", "public")]
    assert dict(Hashtag.objects.values_list("name", "posts_count")) == {"مصر": 0, "cairo": 1}
    assert list(Mention.objects.filter(post=post).values_list("mentioned_id", flat=True)) == [mona.pk]
    names = [name for name, _ in emitted_events]
    assert "post.updated" in names and "mention.created" in names


def test_only_the_author_can_edit_or_delete():
    author, other = UserFactory(), UserFactory()
    post = services.post_create(author=author, body="mine")

    with pytest.raises(NotFound):
        services.post_update(actor=other, post_id=post.pk, body="theirs")
    with pytest.raises(NotFound):
        services.post_delete(actor=other, post_id=post.pk)
    post.refresh_from_db()
    assert (post.body, post.deleted_at) == ("mine", None)


def test_delete_hides_post_and_its_comments_at_once(emitted_events, django_capture_on_commit_callbacks):
    author, viewer = UserFactory(), UserFactory()
    post = services.post_create(author=author, body="bye")
    comment = services.comment_create(actor=viewer, post_id=post.pk, body="nice")

    with django_capture_on_commit_callbacks(execute=True):
        services.post_delete(actor=author, post_id=post.pk)

    with pytest.raises(NotFound):
        selectors.post_get_visible(viewer=author, post_id=post.pk)
    with pytest.raises(NotFound):
        selectors.comment_get_visible(viewer=viewer, comment_id=comment.pk)
    assert Profile.objects.get(user=author).posts_count == 0
    assert ("post.deleted", {"post_id": post.pk, "author_id": author.pk}) in emitted_events


def test_pin_up_to_three_posts():
    author = UserFactory()
    posts = [services.post_create(author=author, body=str(i)) for i in range(4)]
    for post in posts[:3]:
        services.post_pin(actor=author, post_id=post.pk)

    with pytest.raises(Conflict) as error:
        services.post_pin(actor=author, post_id=posts[3].pk)

    assert error.value.code == "too_many_pins"
    page = selectors.profile_posts(viewer=None, user=author, tab="posts")
    assert {p.pk for p in page.pinned} == {p.pk for p in posts[:3]}
    assert [p.pk for p in page.items] == [posts[3].pk]


# --- mentions and hashtags ----------------------------------------------------------------------
def test_mentions_respect_who_can_mention_and_unknown_handles_stay_text():
    author = UserFactory()
    open_user = UserFactory(handle="open_user")
    closed = UserFactory(handle="closed_user")
    closed.settings.who_can_mention = "nobody"
    closed.settings.save()

    post = services.post_create(author=author, body="hi @open_user @closed_user @nobody_here")

    assert list(Mention.objects.filter(post=post).values_list("mentioned_id", flat=True)) == [open_user.pk]
    assert post.body == "hi @open_user @closed_user @nobody_here"


def test_arabic_hashtag_spellings_group_together():
    author = UserFactory()
    services.post_create(author=author, body="#مصر")
    services.post_create(author=author, body="#مَصر")

    hashtag, page = selectors.hashtag_posts(viewer=None, name="مَصر", sort="recent")

    assert (hashtag.name, hashtag.posts_count, len(page.items)) == ("مصر", 2, 2)


# --- moderation --------------------------------------------------------------------------------------
def test_rejected_text_is_refused_and_nothing_is_saved():
    from moderation.models import KeywordRule

    KeywordRule.objects.create(term="forbiddenword", action="reject")
    author = UserFactory()

    with pytest.raises(Invalid) as error:
        services.post_create(author=author, body="this has forbiddenword in it")

    assert error.value.code == "content_rejected"
    assert Post.objects.exists() is False


def test_held_text_is_visible_only_to_its_author_until_approved(django_capture_on_commit_callbacks, emitted_events):
    from moderation.models import Case, KeywordRule
    from moderation.services import case_decide

    KeywordRule.objects.create(term="borderline", action="hold")
    author, viewer = UserFactory(), UserFactory()
    moderator = make_moderator()

    with django_capture_on_commit_callbacks(execute=True):
        post = services.post_create(author=author, body="quite borderline text")

    assert post.moderation_state == "held"
    assert selectors.post_get_visible(viewer=author, post_id=post.pk).pk == post.pk
    with pytest.raises(NotFound):
        selectors.post_get_visible(viewer=viewer, post_id=post.pk)
    assert "post.published" not in [name for name, _ in emitted_events]

    case = Case.objects.get(object_id=post.pk)
    with django_capture_on_commit_callbacks(execute=True):
        case_decide(actor=moderator, case_id=case.pk, decision="dismiss", note="fine")
    payload = next(p for name, p in emitted_events if name == "moderation.decided")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.moderation_decided_task(**payload)

    assert selectors.post_get_visible(viewer=viewer, post_id=post.pk).pk == post.pk
    assert [name for name, _ in emitted_events].count("post.published") == 1


def test_moderation_hide_and_remove_and_restore():
    author, viewer = UserFactory(), UserFactory()
    post = services.post_create(author=author, body="x")

    tasks.moderation_target_hidden_task(content_type="content.post", object_id=post.pk)
    with pytest.raises(NotFound):
        selectors.post_get_visible(viewer=viewer, post_id=post.pk)
    tasks.moderation_decided_task(target_app_label="content", target_model="post", target_id=post.pk,
                                  decision="remove", case_id=1, target_user_id=author.pk)
    post.refresh_from_db()
    assert post.moderation_state == ModerationState.REMOVED
    assert Profile.objects.get(user=author).posts_count == 0
    tasks.moderation_decided_task(target_app_label="content", target_model="post", target_id=post.pk,
                                  decision="restored", case_id=1, target_user_id=author.pk)
    assert selectors.post_get_visible(viewer=viewer, post_id=post.pk).pk == post.pk
    assert Profile.objects.get(user=author).posts_count == 1


def test_velocity_cap_applies_to_posts(settings):
    from daira.lib.errors import RateLimited

    settings.MODERATION_VELOCITY_CAPS = {**settings.MODERATION_VELOCITY_CAPS,
                                         "posts": {"established": (2, 100), "new": (2, 100)}}
    author = UserFactory()
    services.post_create(author=author, body="one")
    services.post_create(author=author, body="two")

    with pytest.raises((RateLimited, PermissionDenied)):
        services.post_create(author=author, body="three")
    assert Post.objects.count() == 2


def make_moderator():
    from django.contrib.auth.models import Permission

    moderator = UserFactory(is_staff=True)
    moderator.user_permissions.add(Permission.objects.get(codename="decide_case", content_type__app_label="moderation"))
    return type(moderator).objects.get(pk=moderator.pk)


def test_suspended_author_cannot_post():
    author = UserFactory()
    author.status = "suspended"
    author.save()

    with pytest.raises(PermissionDenied):
        services.post_create(author=author, body="x")


def test_edited_at_none_for_comments_setting_change():
    author = UserFactory()
    post = services.post_create(author=author, body="x")

    services.post_update(actor=author, post_id=post.pk, comments_policy="off")

    post.refresh_from_db()
    assert (post.comments_policy, post.edited_at) == ("off", None)
    assert timezone.now() >= post.created_at


def test_posts_visible_by_ids_can_leave_out_muted_authors():
    from social.tests.factories import mute

    viewer, muted, other = UserFactory(), UserFactory(), UserFactory()
    a = services.post_create(author=muted, body="a")
    b = services.post_create(author=other, body="b")
    mute(viewer, muted, posts=True, stories=False)

    assert [p.pk for p in selectors.posts_visible_by_ids(viewer=viewer, post_ids=[a.pk, b.pk])] == [a.pk, b.pk]
    assert [p.pk for p in selectors.posts_visible_by_ids(viewer=viewer, post_ids=[a.pk, b.pk],
                                                         exclude_muted=True)] == [b.pk]


def test_pending_video_longer_than_ten_minutes_fails_when_ready():
    author = UserFactory()
    processing = make_processing_video(author)
    post = services.post_create(author=author, body="long", media_ids=[processing.pk])
    MediaAsset.objects.filter(pk=processing.pk).update(status="ready", duration_ms=11 * 60 * 1000)

    tasks.media_ready_task(asset_id=processing.pk, owner_id=author.pk, kind="video")

    post.refresh_from_db()
    assert (post.status, post.failure_reason) == ("failed", "Videos are limited to 10 minutes.")


def test_post_ids_visible_agrees_with_post_visible_q_for_every_relationship_audience_and_state():
    # given: authors in every relationship to the viewer, each with a post per audience,
    # plus posts in every state the row itself can be in
    from social.models import AccountFlag

    viewer, stranger_viewer = UserFactory(), UserFactory()
    friend, followed, private_followed, private_stranger, stranger, blocker, blocked, shadowbanned, suspended = (
        UserFactory(), UserFactory(), UserFactory(is_private=True), UserFactory(is_private=True), UserFactory(),
        UserFactory(), UserFactory(), UserFactory(), UserFactory())
    make_friends(viewer, friend)
    for author in (friend, followed, private_followed, shadowbanned):
        FollowFactory(follower=viewer, followee=author)
    add_close_friend(friend, viewer)
    block(blocker, viewer)
    block(viewer, blocked)
    AccountFlag.objects.create(user=shadowbanned, shadowbanned=True)
    post_ids = []
    authors = (friend, followed, private_followed, private_stranger, stranger, blocker, blocked, shadowbanned,
               suspended, viewer)
    for author in authors:
        circle = CircleFactory(owner=author)
        if author is friend:
            add_to_circle(circle, viewer)
        for audience in ("public", "followers", "friends", "close_friends"):
            post_ids.append(services.post_create(author=author, body=audience, audience=audience).pk)
        post_ids.append(services.post_create(author=author, body="c", audience="circle", circle_id=circle.pk).pk)
    suspended.status = "suspended"
    suspended.save(update_fields=["status"])
    deleted = services.post_create(author=stranger, body="gone")
    hidden = services.post_create(author=stranger, body="hidden")
    own_held = services.post_create(author=viewer, body="held")
    pending = services.post_create(author=stranger, body="pending")
    Post.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    Post.objects.filter(pk=hidden.pk).update(moderation_state=ModerationState.HIDDEN)
    Post.objects.filter(pk=own_held.pk).update(moderation_state=ModerationState.HELD)
    Post.objects.filter(pk=pending.pk).update(status=Post.Status.PENDING)
    post_ids += [deleted.pk, hidden.pk, own_held.pk, pending.pk, 987654321]

    # the viewer: the friend's 5, followed 2, private followed 2, shadowbanned followed 2, stranger's
    # public 1, own 5 + held 1; others and logged out: the public posts of public, active, unflagged
    # accounts (friend, followed, stranger, blocker, blocked, viewer)
    for who, count in ((viewer, 18), (stranger_viewer, 6), (None, 6)):
        # when
        found = selectors.post_ids_visible(viewer=who, post_ids=post_ids)

        # then
        expected = set(Post.objects.filter(selectors.post_visible_q(who), pk__in=post_ids).values_list("id", flat=True))
        assert found == expected
        assert len(found) == count
    assert selectors.post_ids_visible(viewer=stranger_viewer, post_ids=[own_held.pk, hidden.pk, deleted.pk,
                                                                         pending.pk]) == set()


def test_posts_for_render_after_policy_keeps_order_and_rechecks_the_rows_own_state(django_assert_num_queries):
    # For ids the request has just passed through the policy: the row's own state is still
    # checked (deleted, moderation-hidden), the order given is kept, duplicates come once.
    viewer, author = UserFactory(), UserFactory()
    first, deleted, hidden, last = (services.post_create(author=author, body=f"p{i}") for i in range(4))
    services.post_delete(actor=author, post_id=deleted.pk)
    services.moderation_hide(content_type="content.post", object_id=hidden.pk)

    posts = selectors.posts_for_render_after_policy(
        viewer=viewer, post_ids=[last.pk, deleted.pk, hidden.pk, first.pk, last.pk, 10**15])

    assert [p.pk for p in posts] == [last.pk, first.pk]
    with django_assert_num_queries(0):  # author, profile and media loaded for the card
        assert posts[0].author.profile is not None
        assert list(posts[0].media_items.all()) == []
