import threading

import pytest
from django.db import connection

from accounts.tests.factories import UserFactory
from content import selectors, services
from content.models import Bookmark, Comment, Post, Reaction, Repost
from daira.lib.errors import Conflict, Invalid, NotFound, PermissionDenied
from social.tests.factories import FollowFactory, block

pytestmark = pytest.mark.django_db


def counts(post):
    post.refresh_from_db()
    return post.reactions_count, post.reaction_counts


# --- reactions --------------------------------------------------------------------------------
def test_reaction_add_change_remove_keeps_counters_exact(emitted_events, django_capture_on_commit_callbacks):
    author, fan = UserFactory(), UserFactory()
    post = services.post_create(author=author, body="x")

    with django_capture_on_commit_callbacks(execute=True):
        services.reaction_set(actor=fan, target_type="post", target_id=post.pk, reaction="like")
        services.reaction_set(actor=fan, target_type="post", target_id=post.pk, reaction="like")  # idempotent
    assert counts(post) == (1, {"like": 1})

    services.reaction_set(actor=fan, target_type="post", target_id=post.pk, reaction="🔥")
    assert counts(post) == (1, {"fire": 1})

    services.reaction_remove(actor=fan, target_type="post", target_id=post.pk)
    assert counts(post) == (0, {})
    assert Reaction.objects.exists() is False
    assert [(n, p) for n, p in emitted_events if n == "reaction.added"] == [
        ("reaction.added", {"target_type": "post", "target_id": post.pk, "user_id": fan.pk, "owner_id": author.pk,
                            "reaction": "like"})
    ]


def test_unknown_reaction_is_refused():
    post = services.post_create(author=UserFactory(), body="x")

    with pytest.raises(Invalid):
        services.reaction_set(actor=UserFactory(), target_type="post", target_id=post.pk, reaction="poop")
    assert Reaction.objects.exists() is False


def test_cannot_react_to_a_post_one_may_not_see():
    author, stranger = UserFactory(), UserFactory()
    post = services.post_create(author=author, body="x", audience="followers")

    with pytest.raises(NotFound):
        services.reaction_set(actor=stranger, target_type="post", target_id=post.pk, reaction="like")


THREADS = 50


@pytest.mark.django_db(transaction=True)
def test_reaction_counters_stay_exact_under_50_concurrent_threads():
    # given: 25 fans, each driven by two threads at once (double taps and changes race)
    author = UserFactory()
    post = services.post_create(author=author, body="popular")
    fans = [UserFactory() for _ in range(THREADS // 2)]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    kinds = ["like", "love", "haha", "fire"]

    def worker(index: int) -> None:
        fan = fans[index % len(fans)]
        try:
            barrier.wait()
            for round_ in range(4):
                services.reaction_set(actor=fan, target_type="post", target_id=post.pk,
                                      reaction=kinds[(index + round_) % len(kinds)])
                if (index + round_) % 3 == 0:
                    services.reaction_remove(actor=fan, target_type="post", target_id=post.pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: the counters equal the rows
    assert errors == [], [repr(e) for e in errors[:3]]
    post.refresh_from_db()
    rows = Reaction.objects.filter(post=post)
    assert post.reactions_count == rows.count()
    for kind in kinds:
        assert getattr(post, f"{kind}_count") == rows.filter(reaction=kind).count()


def test_likers_list_leaves_out_blocked_people():
    author, viewer, fan, blocked = (UserFactory() for _ in range(4))
    post = services.post_create(author=author, body="x")
    for user in (fan, blocked):
        services.reaction_set(actor=user, target_type="post", target_id=post.pk, reaction="love")
    block(viewer, blocked)

    page = selectors.post_reactions_list(viewer=viewer, post_id=post.pk)

    assert [row.user_id for row in page.items] == [fan.pk]


# --- reposts and quotes -------------------------------------------------------------------------
def test_repost_and_undo(emitted_events, django_capture_on_commit_callbacks):
    author, fan, viewer, blocked = (UserFactory() for _ in range(4))
    post = services.post_create(author=author, body="share me")

    with django_capture_on_commit_callbacks(execute=True):
        services.repost_create(actor=fan, post_id=post.pk)
        services.repost_create(actor=fan, post_id=post.pk)
    services.repost_create(actor=blocked, post_id=post.pk)
    block(blocked, viewer)
    post.refresh_from_db()
    assert post.reposts_count == 2
    assert [r.user_id for r in selectors.post_reposters_list(viewer=viewer, post_id=post.pk).items] == [fan.pk]
    assert [p.pk for p in selectors.profile_posts(viewer=viewer, user=fan, tab="reposts").items] == [post.pk]
    assert [n for n, _ in emitted_events].count("repost.created") == 1

    services.repost_delete(actor=fan, post_id=post.pk)

    post.refresh_from_db()
    assert post.reposts_count == 1
    assert Repost.objects.filter(user=fan).exists() is False


def test_only_public_posts_can_be_reposted_or_quoted():
    author, follower = UserFactory(), UserFactory()
    FollowFactory(follower=follower, followee=author)
    post = services.post_create(author=author, body="x", audience="followers")

    with pytest.raises(PermissionDenied):
        services.repost_create(actor=follower, post_id=post.pk)
    with pytest.raises(PermissionDenied):
        services.post_create(author=follower, body="look", quote_of_id=post.pk)
    assert Post.objects.count() == 1


def test_quote_embeds_the_post_and_counts(emitted_events, django_capture_on_commit_callbacks):
    author, quoter = UserFactory(), UserFactory()
    original = services.post_create(author=author, body="original")

    with django_capture_on_commit_callbacks(execute=True):
        quote = services.post_create(author=quoter, body="so true", quote_of_id=original.pk)

    original.refresh_from_db()
    assert (quote.quote_of_id, original.quotes_count) == (original.pk, 1)
    assert ("quote.created", {"post_id": quote.pk, "author_id": quoter.pk, "quoted_post_id": original.pk,
                              "quoted_author_id": author.pk}) in emitted_events
    [rendered] = selectors.posts_hydrate(viewer=None, posts=selectors.posts_visible_by_ids(viewer=None,
                                                                                           post_ids=[quote.pk]))
    assert rendered.render.quote.pk == original.pk

    services.post_delete(actor=author, post_id=original.pk)
    [rendered] = selectors.posts_hydrate(viewer=None, posts=selectors.posts_visible_by_ids(viewer=None,
                                                                                           post_ids=[quote.pk]))
    assert rendered.render.quote is None


# --- threads -------------------------------------------------------------------------------------
def test_thread_fetch_to_depth_with_cursor_per_level():
    # given: root → r1, r2, r3; r1 → a, b, c; a → deep
    author, other = UserFactory(), UserFactory()
    root = services.post_create(author=author, body="root")
    r1, r2, r3 = (services.post_create(author=other, body=f"r{i}", parent_id=root.pk) for i in (1, 2, 3))
    a, b, c = (services.post_create(author=author, body=x, parent_id=r1.pk) for x in "abc")
    deep = services.post_create(author=other, body="deep", parent_id=a.pk)

    # when: two replies per level, two levels
    node = selectors.post_thread(viewer=None, post_id=root.pk, depth=2, limit=2)

    # then
    assert [n.post.pk for n in node.replies] == [r1.pk, r2.pk]
    assert node.next_cursor is not None
    assert [n.post.pk for n in node.replies[0].replies] == [a.pk, b.pk]
    assert node.replies[0].next_cursor is not None
    assert node.replies[0].replies[0].replies == []  # depth 2 stops before "deep"
    assert (deep.root_id, deep.depth) == (root.pk, 3)

    rest = selectors.post_thread(viewer=None, post_id=root.pk, depth=1, limit=2, cursor=node.next_cursor)
    assert [n.post.pk for n in rest.replies] == [r3.pk]
    more = selectors.post_replies(viewer=None, post_id=r1.pk, cursor=node.replies[0].next_cursor, limit=2)
    assert [p.pk for p in more.items] == [c.pk]
    root.refresh_from_db()
    assert root.replies_count == 3


def test_thread_leaves_out_replies_the_viewer_may_not_see():
    author, replier, viewer = UserFactory(), UserFactory(), UserFactory()
    root = services.post_create(author=author, body="root")
    hidden = services.post_create(author=replier, body="for followers", parent_id=root.pk, audience="followers")
    shown = services.post_create(author=replier, body="public", parent_id=root.pk)

    node = selectors.post_thread(viewer=viewer, post_id=root.pk, depth=1)

    assert [n.post.pk for n in node.replies] == [shown.pk]
    assert hidden.pk != shown.pk


def test_replies_respect_comment_controls():
    author, stranger = UserFactory(), UserFactory()
    root = services.post_create(author=author, body="root", comments_policy="followers")

    with pytest.raises(PermissionDenied):
        services.post_create(author=stranger, body="hi", parent_id=root.pk)


# --- comments --------------------------------------------------------------------------------------
def test_threaded_comments_with_reply_counts_pin_and_author_like(emitted_events, django_capture_on_commit_callbacks):
    author, fan, other = UserFactory(), UserFactory(), UserFactory()
    post = services.post_create(author=author, body="x")
    with django_capture_on_commit_callbacks(execute=True):
        first = services.comment_create(actor=fan, post_id=post.pk, body="first")
    second = services.comment_create(actor=other, post_id=post.pk, body="second")
    reply = services.comment_create(actor=author, post_id=post.pk, body="thanks", parent_id=first.pk)

    services.comment_pin(actor=author, comment_id=first.pk)
    services.reaction_set(actor=author, target_type="comment", target_id=second.pk, reaction="love")

    page = selectors.comment_list(viewer=other, post_id=post.pk)
    assert [c.pk for c in page.pinned] == [first.pk]
    assert [c.pk for c in page.items] == [second.pk]
    assert page.pinned[0].replies_count == 1
    assert page.items[0].liked_by_author is True
    assert [c.pk for c in selectors.comment_replies(viewer=other, comment_id=first.pk).items] == [reply.pk]
    post.refresh_from_db()
    assert post.comments_count == 3
    assert ("comment.created", {"comment_id": first.pk, "post_id": post.pk, "author_id": fan.pk,
                                "post_author_id": author.pk, "parent_id": None, "parent_author_id": None}) in emitted_events


def test_only_one_pinned_comment():
    author, fan = UserFactory(), UserFactory()
    post = services.post_create(author=author, body="x")
    a = services.comment_create(actor=fan, post_id=post.pk, body="a")
    b = services.comment_create(actor=fan, post_id=post.pk, body="b")

    services.comment_pin(actor=author, comment_id=a.pk)
    services.comment_pin(actor=author, comment_id=b.pk)

    assert list(Comment.objects.filter(pinned_at__isnull=False).values_list("id", flat=True)) == [b.pk]
    with pytest.raises(NotFound):
        services.comment_pin(actor=fan, comment_id=a.pk)


def test_comment_controls_off_and_followers():
    author, follower, stranger = UserFactory(), UserFactory(), UserFactory()
    FollowFactory(follower=follower, followee=author)
    post = services.post_create(author=author, body="x", comments_policy="followers")

    services.comment_create(actor=follower, post_id=post.pk, body="ok")
    with pytest.raises(PermissionDenied) as error:
        services.comment_create(actor=stranger, post_id=post.pk, body="no")
    assert error.value.code == "comments_restricted"

    services.post_update(actor=author, post_id=post.pk, comments_policy="off")
    with pytest.raises(PermissionDenied):
        services.comment_create(actor=follower, post_id=post.pk, body="no")
    assert Comment.objects.count() == 1


def test_comment_edit_and_delete_by_post_author():
    author, fan = UserFactory(), UserFactory()
    post = services.post_create(author=author, body="x")
    comment = services.comment_create(actor=fan, post_id=post.pk, body="v1")

    services.comment_update(actor=fan, comment_id=comment.pk, body="v2")
    with pytest.raises(NotFound):
        services.comment_update(actor=author, comment_id=comment.pk, body="hijack")
    services.comment_delete(actor=author, comment_id=comment.pk)

    comment.refresh_from_db()
    post.refresh_from_db()
    assert (comment.body, comment.edited_at is not None, comment.deleted_at is not None) == ("v2", True, True)
    assert post.comments_count == 0
    assert selectors.comment_list(viewer=fan, post_id=post.pk).items == []


def test_blocked_commenters_are_hidden():
    author, viewer, blocked = UserFactory(), UserFactory(), UserFactory()
    post = services.post_create(author=author, body="x")
    services.comment_create(actor=blocked, post_id=post.pk, body="hidden")
    block(viewer, blocked)

    assert selectors.comment_list(viewer=viewer, post_id=post.pk).items == []


# --- bookmarks ---------------------------------------------------------------------------------
def test_bookmarks_with_collections():
    author, saver = UserFactory(), UserFactory()
    a = services.post_create(author=author, body="a")
    b = services.post_create(author=author, body="b")
    recipes = services.collection_create(actor=saver, name="recipes")
    with pytest.raises(Conflict):
        services.collection_create(actor=saver, name="recipes")

    services.bookmark_add(actor=saver, post_id=a.pk)
    services.bookmark_add(actor=saver, post_id=b.pk, collection_id=recipes.pk)
    services.bookmark_add(actor=saver, post_id=a.pk, collection_id=recipes.pk)  # moves it, counted once

    a.refresh_from_db()
    assert a.saves_count == 1
    assert [p.pk for p in selectors.bookmark_list(actor=saver, collection_id=recipes.pk).items] == [b.pk, a.pk]
    services.bookmark_remove(actor=saver, post_id=a.pk)
    a.refresh_from_db()
    assert (a.saves_count, Bookmark.objects.filter(user=saver).count()) == (0, 1)
    with pytest.raises(NotFound):
        selectors.bookmark_list(actor=author, collection_id=recipes.pk)


# --- views -------------------------------------------------------------------------------------
def test_views_are_buffered_in_redis_and_flushed():
    author = UserFactory()
    viewers = [UserFactory() for _ in range(3)]
    post = services.post_create(author=author, body="x")

    for viewer in viewers + viewers[:1] + [author]:
        services.post_view_record(viewer=viewer, post_id=post.pk)
    post.refresh_from_db()
    assert post.views_count == 0

    assert services.post_views_flush() == 1
    assert services.post_views_flush() == 0
    post.refresh_from_db()
    assert post.views_count == 3


def test_held_comment_is_seen_only_by_its_author_and_not_announced(emitted_events, django_capture_on_commit_callbacks):
    from moderation.models import Case, KeywordRule

    KeywordRule.objects.create(term="sketchy", action="hold")
    author, commenter = UserFactory(), UserFactory()
    post = services.post_create(author=author, body="x")

    with django_capture_on_commit_callbacks(execute=True):
        comment = services.comment_create(actor=commenter, post_id=post.pk, body="a sketchy comment")

    assert [c.pk for c in selectors.comment_list(viewer=commenter, post_id=post.pk).items] == [comment.pk]
    assert selectors.comment_list(viewer=author, post_id=post.pk).items == []
    assert "comment.created" not in [name for name, _ in emitted_events]
    assert Case.objects.filter(object_id=comment.pk, target_type="comment").count() == 1


def test_rejected_comment_and_caption_are_refused():
    from moderation.models import KeywordRule

    KeywordRule.objects.create(term="forbiddenword", action="reject")
    author = UserFactory()
    post = services.post_create(author=author, body="x")

    with pytest.raises(Invalid) as error:
        services.comment_create(actor=UserFactory(), post_id=post.pk, body="forbiddenword!")
    assert error.value.code == "content_rejected"
    from content.tests.conftest import make_asset

    with pytest.raises(Invalid):
        services.post_create(author=author, media_ids=[make_asset(author).pk], alt_texts=["a forbiddenword caption"])
    assert (Comment.objects.count(), Post.objects.count()) == (0, 1)


def test_reports_need_a_visible_target_and_hidden_posts_vanish_for_others(emitted_events,
                                                                           django_capture_on_commit_callbacks, settings):
    from moderation.services import report_create

    settings.MODERATION_AUTO_HIDE_REPORTERS = 1
    author, reporter, stranger = UserFactory(), UserFactory(), UserFactory()
    public = services.post_create(author=author, body="public")
    private = services.post_create(author=author, body="followers", audience="followers")

    with pytest.raises(NotFound):
        report_create(reporter=stranger, target_type="post", target_id=private.pk, reason="spam")
    with django_capture_on_commit_callbacks(execute=True):
        report_create(reporter=reporter, target_type="post", target_id=public.pk, reason="spam")
    from content import tasks

    payload = next(p for name, p in emitted_events if name == "moderation.target_hidden")
    tasks.moderation_target_hidden_task(**payload)

    with pytest.raises(NotFound):
        selectors.post_get_visible(viewer=stranger, post_id=public.pk)
