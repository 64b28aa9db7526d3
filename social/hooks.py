"""What social registers into accounts' plug-in registry (see SocialConfig.ready)."""

from __future__ import annotations

from social import policy, services
from social.models import Block, Circle, CircleMember, CloseFriend, Follow, Friendship, Mute


def profile_extra(viewer, user) -> dict:
    """Relationship flags merged into the public profile output.

    `content_visible` tells clients whether the posts grid and follower lists are open to
    this viewer (False for a private account they do not follow: header and counts only).
    """
    rel = policy.relationship(viewer, user)
    return {
        "is_following": rel.following,
        "follows_you": rel.followed_by,
        "is_friend": rel.friends,
        "requested": rel.requested,
        "friend_requested": rel.friend_requested,
        "friend_request_received": rel.friend_requested_by,
        "is_blocking": rel.blocking,
        "is_muting_posts": rel.muting_posts,
        "is_muting_stories": rel.muting_stories,
        "is_close_friend": rel.in_close_friends,
        "content_visible": policy.can_view_account_content(viewer, user, rel=rel),
    }


def profile_access_check(viewer, user) -> bool:
    """Blocked either way (or inactive): the profile is a 404 to the viewer."""
    return policy.can_view_profile(viewer, user)


def _people(queryset, user_field: str) -> list[dict]:
    return [
        {"id": str(row[0]), "handle": row[1], "since": row[2].isoformat()}
        for row in queryset.values_list(f"{user_field}_id", f"{user_field}__handle", "created_at").order_by("id")
    ]


def export_section(user) -> dict:
    """The user's own graph for their data export (ids as strings)."""
    circles = []
    for circle in Circle.objects.filter(owner_id=user.pk).order_by("id"):
        circles.append(
            {
                "id": str(circle.pk),
                "name": circle.name,
                "created_at": circle.created_at.isoformat(),
                "members": _people(CircleMember.objects.filter(circle=circle), "member"),
            }
        )
    return {
        "following": _people(Follow.objects.filter(follower_id=user.pk), "followee"),
        "followers": _people(Follow.objects.filter(followee_id=user.pk), "follower"),
        "friends": _people(Friendship.objects.filter(user_id=user.pk), "friend"),
        "close_friends": _people(CloseFriend.objects.filter(owner_id=user.pk), "member"),
        "circles": circles,
        "blocked": _people(Block.objects.filter(blocker_id=user.pk), "blocked"),
        "muted": [
            {"id": str(uid), "handle": handle, "since": since.isoformat(), "posts": posts, "stories": stories}
            for uid, handle, since, posts, stories in Mute.objects.filter(muter_id=user.pk)
            .order_by("id")
            .values_list("muted_id", "muted__handle", "created_at", "posts", "stories")
        ],
    }


def deletion_hook(user) -> None:
    services.social_user_purge(user)
