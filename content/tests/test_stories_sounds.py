from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from content import selectors, services, tasks
from content.models import Mention, Post, Sound, Story, StoryView
from content.tests.conftest import make_asset
from daira.lib.errors import Invalid, NotFound, PermissionDenied
from media.models import MediaAsset
from social.tests.factories import CircleFactory, FollowFactory, add_close_friend, add_to_circle, block, mute

pytestmark = pytest.mark.django_db


def story_for(author, **kw):
    return services.story_create(author=author, media_id=make_asset(author).pk, **kw)


def at(mocker, moment):
    mocker.patch("django.utils.timezone.now", return_value=moment)


def test_story_expires_exactly_at_24_hours_and_is_purged_later(mocker):
    # given
    author, viewer = UserFactory(), UserFactory()
    start = timezone.now()
    at(mocker, start)
    story = story_for(author)

    # then: one second before the end it shows, at the end and one second after it does not
    at(mocker, start + timedelta(hours=24) - timedelta(seconds=1))
    assert selectors.story_get_visible(viewer=viewer, story_id=story.pk).pk == story.pk
    at(mocker, start + timedelta(hours=24))
    with pytest.raises(NotFound):
        selectors.story_get_visible(viewer=viewer, story_id=story.pk)
    at(mocker, start + timedelta(hours=24, seconds=1))
    with pytest.raises(NotFound):
        selectors.story_get_visible(viewer=viewer, story_id=story.pk)

    # when: beat purges
    assert services.stories_purge_expired() == 1
    assert Story.objects.exists() is False


def test_story_audiences_close_friends_and_circle():
    author, close, member, follower = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    for user in (close, member, follower):
        FollowFactory(follower=user, followee=author)
    add_close_friend(author, close)
    circle = CircleFactory(owner=author)
    add_to_circle(circle, member)
    cf = story_for(author, audience="close_friends")
    inner = story_for(author, audience="circle", circle_id=circle.pk)

    seen = {name: [s.pk for s in selectors.story_list_for_author(viewer=u, author_id=author.pk)]
            for name, u in [("close", close), ("member", member), ("follower", follower)]}

    assert seen == {"close": [cf.pk], "member": [inner.pk], "follower": []}
    with pytest.raises(Invalid):
        story_for(author, audience="friends")


def test_story_views_are_idempotent_and_listed_for_the_author(emitted_events, django_capture_on_commit_callbacks):
    author, viewer = UserFactory(), UserFactory()
    story = story_for(author)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.story_view_record(viewer=viewer, story_id=story.pk) is True
        assert services.story_view_record(viewer=viewer, story_id=story.pk) is False
        assert services.story_view_record(viewer=author, story_id=story.pk) is False

    story.refresh_from_db()
    assert story.views_count == 1
    assert [v.viewer_id for v in selectors.story_viewers(actor=author, story_id=story.pk).items] == [viewer.pk]
    with pytest.raises(NotFound):
        selectors.story_viewers(actor=viewer, story_id=story.pk)
    assert [s.seen for s in selectors.story_list_for_author(viewer=viewer, author_id=author.pk)] == [True]
    assert [p for n, p in emitted_events if n == "story.viewed"] == [
        {"story_id": story.pk, "author_id": author.pk, "viewer_id": viewer.pk}]


def test_story_rings_unseen_first_then_recency_without_muted_or_blocked():
    # given
    viewer = UserFactory()
    seen_all, older_unseen, newest_unseen, muted, blocked, stranger = (UserFactory() for _ in range(6))
    for author in (seen_all, older_unseen, newest_unseen, muted, blocked):
        FollowFactory(follower=viewer, followee=author)
    s1 = story_for(seen_all)
    story_for(older_unseen)
    s3 = story_for(seen_all)  # seen_all has the newest story of all, but everything seen
    story_for(newest_unseen)
    story_for(muted)
    story_for(blocked)
    story_for(stranger)
    for story in (s1, s3):
        services.story_view_record(viewer=viewer, story_id=story.pk)
    mute(viewer, muted, posts=False, stories=True)
    block(blocked, viewer)

    # when
    rings = selectors.story_rings(viewer=viewer)

    # then
    assert [(r.author.pk, r.unseen_count, r.stories_count) for r in rings] == [
        (newest_unseen.pk, 1, 1), (older_unseen.pk, 1, 1), (seen_all.pk, 0, 2)]


def test_story_reply_is_emitted_for_messaging(emitted_events, django_capture_on_commit_callbacks):
    author, fan = UserFactory(), UserFactory()
    story = story_for(author)

    with django_capture_on_commit_callbacks(execute=True):
        services.story_reply(actor=fan, story_id=story.pk, text="😍 where is this?")
        services.reaction_set(actor=fan, target_type="story", target_id=story.pk, reaction="❤️")

    assert ("story.replied", {"story_id": story.pk, "author_id": author.pk, "replier_id": fan.pk,
                              "text": "😍 where is this?"}) in emitted_events
    story.refresh_from_db()
    assert (story.reactions_count, story.love_count, story.replies_count) == (1, 1, 1)
    with pytest.raises(PermissionDenied):
        services.story_reply(actor=author, story_id=story.pk, text="me")


def test_story_mention_overlays_are_stored():
    author, mona = UserFactory(), UserFactory(handle="mona_s")

    story = story_for(author, text="fun", overlays=[{"type": "mention", "text": "@mona_s", "x": 0.5, "y": 0.2}])

    assert list(Mention.objects.filter(story=story).values_list("mentioned_id", flat=True)) == [mona.pk]
    with pytest.raises(Invalid):
        story_for(author, overlays=[{"type": "bogus"}])
    with pytest.raises(Invalid):
        story_for(author, overlays="not a list")


def test_pending_story_is_published_when_its_media_is_ready():
    author, viewer = UserFactory(), UserFactory()
    asset = make_asset(author, kind="video", status=MediaAsset.Status.PROCESSING)
    story = services.story_create(author=author, media_id=asset.pk)
    with pytest.raises(NotFound):
        selectors.story_get_visible(viewer=viewer, story_id=story.pk)

    MediaAsset.objects.filter(pk=asset.pk).update(status=MediaAsset.Status.READY)
    tasks.media_ready_task(asset_id=asset.pk, owner_id=author.pk, kind="video")

    assert selectors.story_get_visible(viewer=viewer, story_id=story.pk).pk == story.pk


# --- sounds --------------------------------------------------------------------------------------
def test_sound_reuse_lists_videos_using_it():
    creator, a, b = UserFactory(), UserFactory(), UserFactory()
    sound = services.sound_create(actor=creator, title="Mahraganat beat", artist="DJ Daira")
    first = services.post_create(author=a, media_ids=[make_asset(a, kind="video").pk], sound_id=sound.pk)
    second = services.post_create(author=b, media_ids=[make_asset(b, kind="video").pk], sound_id=sound.pk)

    _, page = selectors.sound_videos(viewer=None, sound_id=sound.pk)

    assert [p.pk for p in page.items] == [second.pk, first.pk]
    sound.refresh_from_db()
    assert sound.uses_count == 2
    with pytest.raises(Invalid):
        services.post_create(author=a, body="text with a sound?", sound_id=sound.pk)


def test_original_audio_of_an_uploaded_video_becomes_a_sound_once():
    author, other = UserFactory(), UserFactory()
    asset = make_asset(author, kind="video", audio=True)
    post = services.post_create(author=author, media_ids=[asset.pk])

    tasks.media_audio_extracted_task(asset_id=asset.pk, owner_id=author.pk)
    tasks.media_audio_extracted_task(asset_id=asset.pk, owner_id=author.pk)  # redelivered

    sound = Sound.objects.get()
    post.refresh_from_db()
    assert (sound.is_original, sound.source_asset_id, sound.original_post_id, post.sound_id) == (
        True, asset.pk, post.pk, sound.pk)
    reuse = services.post_create(author=other, media_ids=[make_asset(other, kind="video").pk], sound_id=sound.pk)
    assert [p.pk for p in selectors.sound_videos(viewer=None, sound_id=sound.pk)[1].items] == [reuse.pk, post.pk]
    assert Post.objects.count() == 2
    assert StoryView.objects.count() == 0
