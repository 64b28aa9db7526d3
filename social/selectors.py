"""Reads of the social graph, already filtered by the visibility policy.

Lists return `daira.lib.pagination.Page`s of relation rows (Follow, Friendship, ...),
newest first, paginated by the row's snowflake id on a `(owner, id)` index: every page
costs the same however deep it is. People in lists are filtered with
`policy.visible_users_q` (inactive accounts and anyone blocked either way vanish).

Fan-out helpers (`follower_ids`, `active_follower_ids`, ...) return iterators of ints
streamed from a server-side cursor, for feeds and notifications.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from daira.lib.errors import NotFound, PermissionDenied
from daira.lib.pagination import Page, paginate_by_id
from social import policy
from social.models import (
    AccountFlag,
    Block,
    Circle,
    CircleMember,
    CloseFriend,
    Follow,
    FollowRequest,
    FriendRequest,
    Friendship,
    Mute,
)


# --- users --------------------------------------------------------------------------------
def user_get_visible(*, viewer, handle: str | None = None, user_id: int | None = None):
    """The user named by `handle` (case-insensitive) or `user_id`, if `viewer` may see
    their profile header; otherwise NotFound (missing, inactive and blocked look the same)."""
    from accounts.models import User
    from accounts.selectors import handle_lookup_key

    try:
        if handle is not None:
            key = handle_lookup_key(handle)
            if key is None:  # cannot be a handle (NUL bytes, other alphabets): not found, not a database error
                raise User.DoesNotExist
            user = User.objects.select_related("profile").get(handle=key)
        else:
            user = User.objects.select_related("profile").get(pk=int(user_id))
    except (User.DoesNotExist, TypeError, ValueError):
        raise NotFound("User not found.") from None
    if not policy.can_view_profile(viewer, user):
        raise NotFound("User not found.")
    return user


def users_get_visible(*, viewer, user_ids) -> list:
    """The users among `user_ids` that `viewer` may see (order not kept; unknown ids dropped)."""
    from accounts.models import User

    return list(User.objects.filter(pk__in=list(user_ids)).filter(policy.visible_users_q(viewer)))


def _require_account_content(viewer, user) -> None:
    if not policy.can_view_account_content(viewer, user):
        raise PermissionDenied("This account is private.", code="private_account")


# --- public lists ------------------------------------------------------------------------
def follower_list(*, viewer, user, cursor: str | None, limit: int) -> Page:
    """Follow rows of `user`'s followers (row.follower), newest first.

    Raises PermissionDenied("private_account") when `user` is private and `viewer` is
    neither them nor an approved follower. Callers resolve `user` with
    `user_get_visible` first (blocks → NotFound)."""
    _require_account_content(viewer, user)
    rows = Follow.objects.filter(followee_id=user.pk).filter(policy.visible_users_q(viewer, "follower"))
    return paginate_by_id(rows.select_related("follower__profile"), cursor=cursor, limit=limit)


def following_list(*, viewer, user, cursor: str | None, limit: int) -> Page:
    """Follow rows of the accounts `user` follows (row.followee); same rules as follower_list."""
    _require_account_content(viewer, user)
    rows = Follow.objects.filter(follower_id=user.pk).filter(policy.visible_users_q(viewer, "followee"))
    return paginate_by_id(rows.select_related("followee__profile"), cursor=cursor, limit=limit)


def friend_list(*, viewer, user, cursor: str | None, limit: int) -> Page:
    """Friendship rows of `user` (row.friend), newest first; same rules as follower_list."""
    _require_account_content(viewer, user)
    rows = Friendship.objects.filter(user_id=user.pk).filter(policy.visible_users_q(viewer, "friend"))
    return paginate_by_id(rows.select_related("friend__profile"), cursor=cursor, limit=limit)


# --- the actor's own lists ---------------------------------------------------------------
def follow_request_list_incoming(*, actor, cursor: str | None, limit: int) -> Page:
    """Pending requests to follow `actor` (row.requester)."""
    rows = FollowRequest.objects.filter(target_id=actor.pk).filter(policy.visible_users_q(actor, "requester"))
    return paginate_by_id(rows.select_related("requester__profile"), cursor=cursor, limit=limit)


def follow_request_list_outgoing(*, actor, cursor: str | None, limit: int) -> Page:
    """`actor`'s pending requests to follow private accounts (row.target)."""
    rows = FollowRequest.objects.filter(requester_id=actor.pk).filter(policy.visible_users_q(actor, "target"))
    return paginate_by_id(rows.select_related("target__profile"), cursor=cursor, limit=limit)


def friend_request_list_incoming(*, actor, cursor: str | None, limit: int) -> Page:
    """Pending friend requests to `actor` (row.from_user)."""
    rows = FriendRequest.objects.filter(to_user_id=actor.pk).filter(policy.visible_users_q(actor, "from_user"))
    return paginate_by_id(rows.select_related("from_user__profile"), cursor=cursor, limit=limit)


def friend_request_list_outgoing(*, actor, cursor: str | None, limit: int) -> Page:
    """`actor`'s pending friend requests (row.to_user)."""
    rows = FriendRequest.objects.filter(from_user_id=actor.pk).filter(policy.visible_users_q(actor, "to_user"))
    return paginate_by_id(rows.select_related("to_user__profile"), cursor=cursor, limit=limit)


def block_list(*, actor, cursor: str | None, limit: int) -> Page:
    """Accounts `actor` blocks (row.blocked), including inactive ones, so they can unblock."""
    rows = Block.objects.filter(blocker_id=actor.pk).select_related("blocked__profile")
    return paginate_by_id(rows, cursor=cursor, limit=limit)


def mute_list(*, actor, cursor: str | None, limit: int) -> Page:
    """Accounts `actor` mutes (row.muted, row.posts, row.stories)."""
    rows = Mute.objects.filter(muter_id=actor.pk).filter(policy.visible_users_q(actor, "muted"))
    return paginate_by_id(rows.select_related("muted__profile"), cursor=cursor, limit=limit)


def close_friend_list(*, actor, cursor: str | None, limit: int) -> Page:
    """`actor`'s close friends (row.member). Only the owner may read it."""
    rows = CloseFriend.objects.filter(owner_id=actor.pk).filter(policy.visible_users_q(actor, "member"))
    return paginate_by_id(rows.select_related("member__profile"), cursor=cursor, limit=limit)


def circle_list(*, actor, cursor: str | None, limit: int) -> Page:
    """`actor`'s circles, newest first (at most 50 exist)."""
    return paginate_by_id(Circle.objects.filter(owner_id=actor.pk), cursor=cursor, limit=limit)


def circle_get_owned(*, actor, circle_id) -> Circle:
    """One of `actor`'s circles, or NotFound (someone else's circle looks missing)."""
    try:
        return Circle.objects.get(owner_id=actor.pk, pk=int(circle_id))
    except (Circle.DoesNotExist, TypeError, ValueError):
        raise NotFound("Circle not found.") from None


def circle_member_list(*, actor, circle_id, cursor: str | None, limit: int) -> Page:
    """Members of one of `actor`'s circles (row.member). NotFound when not theirs."""
    circle = circle_get_owned(actor=actor, circle_id=circle_id)
    rows = CircleMember.objects.filter(circle=circle).filter(policy.visible_users_q(actor, "member"))
    return paginate_by_id(rows.select_related("member__profile"), cursor=cursor, limit=limit)


def circle_ids_containing(*, owner_id: int, member_id: int) -> list[int]:
    """Which of `owner`'s circles hold `member` (for content's audience checks)."""
    return list(
        CircleMember.objects.filter(circle__owner_id=owner_id, member_id=member_id).values_list("circle_id", flat=True)
    )


# --- fan-out helpers (feeds, notifications) ----------------------------------------------
def follower_ids(user_id: int) -> Iterator[int]:
    """Ids of everyone following `user_id` (any status), streamed."""
    return Follow.objects.filter(followee_id=user_id).values_list("follower_id", flat=True).iterator(chunk_size=5_000)


def following_ids(user_id: int) -> Iterator[int]:
    """Ids of everyone `user_id` follows, streamed."""
    return Follow.objects.filter(follower_id=user_id).values_list("followee_id", flat=True).iterator(chunk_size=5_000)


def friend_ids(user_id: int) -> Iterator[int]:
    return Friendship.objects.filter(user_id=user_id).values_list("friend_id", flat=True).iterator(chunk_size=5_000)


def active_follower_ids(user_id: int, since: datetime | None = None) -> Iterator[int]:
    """Followers worth fanning out to: active accounts, seen at or after `since` when given."""
    rows = Follow.objects.filter(followee_id=user_id, follower__status=policy.ACTIVE)
    if since is not None:
        rows = rows.filter(follower__last_active_at__gte=since)
    return rows.values_list("follower_id", flat=True).iterator(chunk_size=5_000)


def follower_count(user_id: int) -> int:
    """The stored (exact) follower count of `user_id`; 0 for an unknown user."""
    from accounts.models import Profile

    return Profile.objects.filter(user_id=user_id).values_list("followers_count", flat=True).first() or 0


def is_following(follower_id: int, followee_id: int) -> bool:
    return Follow.objects.filter(follower_id=follower_id, followee_id=followee_id).exists()


def are_friends(a_id: int, b_id: int) -> bool:
    return Friendship.objects.filter(user_id=a_id, friend_id=b_id).exists()


def is_shadowbanned(user_id: int) -> bool:
    return AccountFlag.objects.filter(user_id=user_id, shadowbanned=True).exists()


def shadowbanned_user_ids() -> QuerySet:
    """Subquery of shadowbanned user ids (for search indexers and reconcilers)."""
    return AccountFlag.objects.filter(shadowbanned=True).values("user_id")


# --- people you may know -----------------------------------------------------------------
@dataclass
class Suggestion:
    user: object
    mutual_count: int


def people_you_may_know(*, viewer, limit: int = 20) -> list[Suggestion]:
    """Friends-of-friends and followed-by-people-you-follow, ranked by how many of the
    viewer's friends/followees connect to them (distinct), then newest account.

    Excludes the viewer, people they already follow, friends, pending follow/friend
    requests either way from the viewer, blocks either way, mutes, inactive and
    shadowbanned accounts (a discovery surface). Logged-out: empty.
    """
    from accounts.models import User

    vid = policy.viewer_id(viewer)
    if vid is None:
        return []
    tables = {
        "follow": Follow._meta.db_table,
        "friendship": Friendship._meta.db_table,
        "block": Block._meta.db_table,
        "mute": Mute._meta.db_table,
        "follow_request": FollowRequest._meta.db_table,
        "friend_request": FriendRequest._meta.db_table,
        "flag": AccountFlag._meta.db_table,
        "user": User._meta.db_table,
    }
    sql = """
        WITH via AS (
            SELECT f2.friend_id AS candidate, f1.friend_id AS via
              FROM {friendship} f1 JOIN {friendship} f2 ON f2.user_id = f1.friend_id
             WHERE f1.user_id = %(v)s
            UNION
            SELECT b.followee_id, a.followee_id
              FROM {follow} a JOIN {follow} b ON b.follower_id = a.followee_id
             WHERE a.follower_id = %(v)s
        )
        SELECT via.candidate, COUNT(DISTINCT via.via) AS mutual
          FROM via JOIN {user} u ON u.id = via.candidate
         WHERE via.candidate <> %(v)s
           AND u.status = 'active'
           AND NOT EXISTS (SELECT 1 FROM {follow} x WHERE x.follower_id = %(v)s AND x.followee_id = via.candidate)
           AND NOT EXISTS (SELECT 1 FROM {friendship} x WHERE x.user_id = %(v)s AND x.friend_id = via.candidate)
           AND NOT EXISTS (SELECT 1 FROM {block} x WHERE (x.blocker_id = %(v)s AND x.blocked_id = via.candidate)
                                                   OR (x.blocker_id = via.candidate AND x.blocked_id = %(v)s))
           AND NOT EXISTS (SELECT 1 FROM {mute} x WHERE x.muter_id = %(v)s AND x.muted_id = via.candidate)
           AND NOT EXISTS (SELECT 1 FROM {follow_request} x WHERE x.requester_id = %(v)s AND x.target_id = via.candidate)
           AND NOT EXISTS (SELECT 1 FROM {friend_request} x
                            WHERE (x.from_user_id = %(v)s AND x.to_user_id = via.candidate)
                               OR (x.from_user_id = via.candidate AND x.to_user_id = %(v)s))
           AND NOT EXISTS (SELECT 1 FROM {flag} x WHERE x.user_id = via.candidate AND x.shadowbanned)
         GROUP BY via.candidate
         ORDER BY mutual DESC, via.candidate DESC
         LIMIT %(limit)s
    """.format(**tables)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"v": vid, "limit": int(limit)})
        ranked = cursor.fetchall()
    users = User.objects.select_related("profile").in_bulk([candidate for candidate, _ in ranked])
    return [Suggestion(user=users[c], mutual_count=m) for c, m in ranked if c in users]


# --- rendering helpers shared by REST and GraphQL ----------------------------------------
@dataclass
class PersonRow:
    """One row of a people list as both APIs render it."""

    id: int
    user: object
    since: datetime
    is_following: bool
    requested: bool
    posts: bool | None = None
    stories: bool | None = None


def person_rows(*, viewer, rows, user_attr: str) -> list[PersonRow]:
    """Turn relation rows into PersonRows with the viewer's follow state, in 2 queries
    for the whole page (relationships are loaded in bulk, never per row)."""
    people = [getattr(row, user_attr) for row in rows]
    rels = policy.relationships(viewer, [p.pk for p in people])
    return [
        PersonRow(
            id=row.pk,
            user=person,
            since=row.created_at,
            is_following=rels[person.pk].following,
            requested=rels[person.pk].requested,
            posts=getattr(row, "posts", None),
            stories=getattr(row, "stories", None),
        )
        for row, person in zip(rows, people, strict=True)
    ]


def user_get_for_blocking(*, handle: str):
    """Any existing user by handle, even one hidden by a block, so that blocking back
    and unblocking always work. NotFound only when no such handle exists."""
    from accounts.models import User
    from accounts.selectors import handle_lookup_key

    key = handle_lookup_key(handle)
    user = User.objects.filter(handle=key).first() if key is not None else None
    if user is None:
        raise NotFound("User not found.")
    return user
