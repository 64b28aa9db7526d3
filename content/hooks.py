"""Callables content registers with lower apps (see ContentConfig.ready)."""

from __future__ import annotations

from typing import Any

from content import selectors


def export_posts(user) -> list[dict[str, Any]]:
    """The "posts" section of a data export: the user's own posts, oldest first."""
    return selectors.posts_for_export(user=user)


def deletion_hook(user) -> None:
    """Before an account is purged (its rows cascade away), take its reactions, comments,
    reposts, bookmarks and hashtag uses out of everyone else's counters, so they stay equal
    to the rows that remain. Runs inside the purge transaction."""
    from django.db.models import Count, F
    from django.db.models.functions import Greatest

    from content.models import Bookmark, Comment, Hashtag, Post, PostHashtag, Reaction, Repost, Story, reaction_column

    for model, field in ((Post, "post"), (Comment, "comment"), (Story, "story")):
        rows = (
            Reaction.objects.filter(user=user, **{f"{field}__isnull": False})
            .exclude(**{f"{field}__author": user})
            .values("reaction", target=F(f"{field}_id"))
            .annotate(n=Count("id"))
        )
        for row in rows:
            model.objects.filter(pk=row["target"]).update(
                reactions_count=Greatest(F("reactions_count") - row["n"], 0),
                **{reaction_column(row["reaction"]): Greatest(F(reaction_column(row["reaction"])) - row["n"], 0)},
            )
    mine = Comment.objects.filter(author=user, deleted_at__isnull=True).exclude(post__author=user)
    for row in mine.values(target=F("post_id")).annotate(n=Count("id")):
        Post.objects.filter(pk=row["target"]).update(comments_count=Greatest(F("comments_count") - row["n"], 0))
    for row in mine.filter(parent__isnull=False).exclude(parent__author=user).values(target=F("parent_id")).annotate(
            n=Count("id")):
        Comment.objects.filter(pk=row["target"]).update(replies_count=Greatest(F("replies_count") - row["n"], 0))
    for model, column in ((Repost, "reposts_count"), (Bookmark, "saves_count")):
        post_ids = list(model.objects.filter(user=user).exclude(post__author=user).values_list("post_id", flat=True))
        Post.objects.filter(pk__in=post_ids).update(**{column: Greatest(F(column) - 1, 0)})
    for row in PostHashtag.objects.filter(post__author=user, post__deleted_at__isnull=True).values(
            target=F("hashtag_id")).annotate(n=Count("id")):
        Hashtag.objects.filter(pk=row["target"]).update(posts_count=Greatest(F("posts_count") - row["n"], 0))


def can_report_post(*, user, obj) -> bool:
    """Moderation's access check: one may report only a post one can see."""
    from content.models import Post

    return Post.objects.filter(selectors.post_visible_q(user), pk=obj.pk).exists()


def can_report_comment(*, user, obj) -> bool:
    from content.models import Comment

    return Comment.objects.filter(selectors.comment_visible_q(user), pk=obj.pk).exists()


def can_report_story(*, user, obj) -> bool:
    from content.models import Story

    return Story.objects.filter(selectors.story_visible_q(user), pk=obj.pk).exists()
