"""Post cards and author minis are built directly (content/serializers.py, "fast rendering");
these tests render a wide range of posts both ways and require the same output as DRF's
generic field loop over the declared fields, so the two cannot drift apart."""

import pytest
from rest_framework import serializers

from accounts.tests.factories import UserFactory
from content import selectors, services
from content.models import ModerationState, Post
from content.serializers import AuthorSerializer, PostOutputSerializer, QuotedPostSerializer
from content.tests.conftest import make_asset
from media.models import Kind, MediaAsset
from social.tests.factories import CircleFactory

pytestmark = pytest.mark.django_db


def _generic(serializer_class, instance, context):
    """What DRF's own Serializer.to_representation makes of the declared fields."""
    return serializers.Serializer.to_representation(serializer_class(context=context), instance)


def _variety(viewer, author):
    sound = services.sound_create(actor=author, title="Mahraganat 3", artist="Wegz")
    photo = make_asset(author, kind=Kind.IMAGE)
    clip = make_asset(author, kind=Kind.VIDEO)
    processing = make_asset(author, kind=Kind.IMAGE, status=MediaAsset.Status.PROCESSING)
    circle = CircleFactory(owner=viewer)
    text = services.post_create(author=author, body="صباح الفل #القاهرة", language="ar")
    services.post_create(author=author, body="carousel", media_ids=[photo.pk, make_asset(author).pk],
                         alt_texts=["a cat"])
    services.post_create(author=author, body="", media_ids=[clip.pk], sound_id=sound.pk)
    services.post_create(author=author, body="still processing", media_ids=[processing.pk])
    services.post_create(author=author, body="replying", parent_id=text.pk)
    services.post_create(author=viewer, body="quoting", quote_of_id=text.pk)
    hidden = services.post_create(author=author, body="to be hidden")
    services.post_create(author=viewer, body="quoting what is gone", quote_of_id=hidden.pk)
    Post.objects.filter(pk=hidden.pk).update(moderation_state=ModerationState.HIDDEN)
    services.post_create(author=viewer, body="my circle", audience="circle", circle_id=circle.pk)
    services.post_pin(actor=viewer, post_id=services.post_create(author=viewer, body="pinned").pk)
    edited = services.post_create(author=viewer, body="first")
    services.post_update(actor=viewer, post_id=edited.pk, body="second")
    services.reaction_set(actor=viewer, target_type="post", target_id=text.pk, reaction="love")
    services.bookmark_add(actor=viewer, post_id=text.pk)
    services.repost_create(actor=viewer, post_id=text.pk)
    ids = list(Post.objects.order_by("id").values_list("id", flat=True))
    return ids


@pytest.mark.parametrize("who", ["viewer", "stranger", "anonymous"])
def test_post_cards_are_the_same_as_drfs_generic_rendering(who):
    # given
    viewer, author, stranger = UserFactory(), UserFactory(), UserFactory()
    ids = _variety(viewer, author)
    reader = {"viewer": viewer, "stranger": stranger, "anonymous": None}[who]
    posts = selectors.posts_visible_by_ids(viewer=reader, post_ids=ids)
    context = {"viewer": reader}

    # when
    fast = PostOutputSerializer(posts, many=True, context=context).data

    # then
    assert len(posts) >= 8
    generic = [_generic(PostOutputSerializer, post, context) for post in posts]
    assert [dict(card) for card in fast] == generic
    kinds = {card["kind"] for card in fast}
    assert {"text", "carousel", "video"} <= kinds
    assert any(card["media"] and card["media"][0]["playback"] for card in fast)
    assert any(card["quote"] and card["quote"].get("unavailable") for card in fast)  # the hidden one
    assert any(card["quote"] and card["quote"].get("body") == "صباح الفل #القاهرة" for card in fast)
    assert any(card["circle_id"] for card in fast) == (who == "viewer")


def test_quoted_cards_and_author_minis_are_the_same_as_drfs_generic_rendering():
    # given
    viewer, author = UserFactory(), UserFactory()
    ids = _variety(viewer, author)
    posts = selectors.posts_visible_by_ids(viewer=viewer, post_ids=ids)
    context = {"viewer": viewer}

    # when
    quoted = [QuotedPostSerializer(post, context=context).data for post in posts]
    minis = [AuthorSerializer(post.author).data for post in posts]

    # then
    assert quoted == [_generic(QuotedPostSerializer, post, context) for post in posts]
    assert minis == [_generic(AuthorSerializer, post.author, {}) for post in posts]
    assert {mini["handle"] for mini in minis} == {viewer.handle, author.handle}
