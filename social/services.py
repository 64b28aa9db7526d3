"""Every write to the social graph.

Conventions (house style): keyword-only `<entity>_<verb>` functions, each one
transaction, idempotent where a client may retry (following twice, unblocking twice and
so on succeed without changing anything), errors from `daira.lib.errors`, events sent
only after commit (`daira/lib/events.py` lists them and their subscribers).

Concurrency: every operation on a pair of users first takes a transaction-scoped
Postgres advisory lock on that pair, so "follow" racing "block" (or two "follow" taps)
serialises instead of leaving a follow behind a block. Profile counts change through
`accounts.services.profile_counts_add` (atomic F() updates) only when a row was really
inserted or deleted (INSERT ... ON CONFLICT DO NOTHING RETURNING / DELETE row counts),
in ascending user-id order to avoid deadlocks, so they stay exact under concurrency.

A blocked relation looks like a missing user: services raise NotFound, never
"you are blocked".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.validators import require_clean_text
from daira.lib import events, ids
from daira.lib.errors import Conflict, Invalid, NotFound
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

logger = logging.getLogger(__name__)

CIRCLES_PER_USER_MAX = 50
CIRCLE_MEMBERS_MAX = 1_500
CIRCLE_NAME_MAX = 50
CLOSE_FRIENDS_MAX = 10_000

# Outcomes of follow_create / friend_request_create (also the REST/GraphQL "status").
FOLLOWING = "following"
REQUESTED = "requested"
NONE = "none"
FRIENDS = "friends"


# --- helpers ----------------------------------------------------------------------------
def _lock_pair(a_id: int, b_id: int) -> None:
    """Serialise every graph write on the pair {a, b} until the transaction ends."""
    low, high = sorted((int(a_id), int(b_id)))
    key = ((low * 1_000_003) ^ high) & ((1 << 63) - 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _lock_key(namespace: int, user_id: int) -> None:
    key = ((int(user_id) << 4) | namespace) & ((1 << 63) - 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _insert_ignore(model, **values) -> bool:
    """INSERT one row unless it exists (by any unique constraint); True if inserted. O(1)."""
    values = {"id": ids.next_id(), "created_at": timezone.now(), **values}
    if "updated_at" in {f.name for f in model._meta.concrete_fields}:
        values.setdefault("updated_at", values["created_at"])
    columns = ", ".join(connection.ops.quote_name(c) for c in values)
    placeholders = ", ".join(["%s"] * len(values))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders}) "
        "ON CONFLICT DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(values.values()))
        return cursor.fetchone() is not None


def _counts_add(changes: dict[int, dict[str, int]]) -> None:
    """Apply count deltas through accounts, in ascending user id order (deadlock-free)."""
    from accounts.services import profile_counts_add

    for user_id in sorted(changes):
        deltas = {k: v for k, v in changes[user_id].items() if v}
        if deltas:
            profile_counts_add(user_id=user_id, **deltas)


def _require_other(actor, target, *, verb: str) -> None:
    if actor.pk == target.pk:
        raise Invalid(f"You cannot {verb} yourself.", code="self_relation")


def _require_visible(actor, target, rel: policy.Relationship | None = None) -> policy.Relationship:
    rel = rel or policy.relationship(actor, target)
    if rel.blocked_either_way or not policy._is_active(target):
        raise NotFound("User not found.")
    return rel


def _follow_insert(*, follower_id: int, followee_id: int) -> bool:
    if not _insert_ignore(Follow, follower_id=follower_id, followee_id=followee_id):
        return False
    _counts_add({follower_id: {"following": 1}, followee_id: {"followers": 1}})
    events.emit_on_commit("follow.created", follower_id=follower_id, followee_id=followee_id)
    return True


def _follow_remove(*, follower_id: int, followee_id: int) -> bool:
    deleted, _ = Follow.objects.filter(follower_id=follower_id, followee_id=followee_id).delete()
    if not deleted:
        return False
    _counts_add({follower_id: {"following": -1}, followee_id: {"followers": -1}})
    events.emit_on_commit("follow.removed", follower_id=follower_id, followee_id=followee_id)
    return True


def _friendship_insert(*, user_id: int, friend_id: int) -> bool:
    if not _insert_ignore(Friendship, user_id=user_id, friend_id=friend_id):
        return False
    _insert_ignore(Friendship, user_id=friend_id, friend_id=user_id)
    _counts_add({user_id: {"friends": 1}, friend_id: {"friends": 1}})
    events.emit_on_commit("friendship.created", user_id=user_id, friend_id=friend_id)
    return True


def _friendship_remove(*, user_id: int, friend_id: int) -> bool:
    deleted, _ = Friendship.objects.filter(
        Q(user_id=user_id, friend_id=friend_id) | Q(user_id=friend_id, friend_id=user_id)
    ).delete()
    if not deleted:
        return False
    _counts_add({user_id: {"friends": -1}, friend_id: {"friends": -1}})
    events.emit_on_commit("friendship.removed", user_id=user_id, friend_id=friend_id)
    return True


def _circle_memberships_prune(*, owner_id: int, member_id: int, force: bool = False) -> None:
    """Drop `member` from `owner`'s circles once they neither follow nor befriend the owner
    (circle members must be followers or friends). `force` drops them regardless (blocks)."""
    if not force:
        still_related = (
            Follow.objects.filter(follower_id=member_id, followee_id=owner_id).exists()
            or Friendship.objects.filter(user_id=owner_id, friend_id=member_id).exists()
        )
        if still_related:
            return
    circle_ids = list(
        CircleMember.objects.filter(circle__owner_id=owner_id, member_id=member_id).values_list("circle_id", flat=True)
    )
    if not circle_ids:
        return
    CircleMember.objects.filter(circle_id__in=circle_ids, member_id=member_id).delete()
    Circle.objects.filter(pk__in=circle_ids).update(member_count=Greatest(F("member_count") - 1, 0))


# --- follows ---------------------------------------------------------------------------
@transaction.atomic
def follow_create(*, actor, target) -> str:
    """`actor` follows `target`, or asks to when `target` is private.

    Returns FOLLOWING or REQUESTED. Idempotent: following again, or asking again while a
    request is pending, changes nothing. Raises Invalid (self) and NotFound (blocked
    either way, inactive target). After commit: "follow.created" (public target) or
    "follow_request.created" (private target, first request only). O(1).
    """
    _require_other(actor, target, verb="follow")
    _lock_pair(actor.pk, target.pk)
    rel = _require_visible(actor, target)
    if rel.following:
        return FOLLOWING
    if target.is_private:
        if _insert_ignore(FollowRequest, requester_id=actor.pk, target_id=target.pk):
            events.emit_on_commit("follow_request.created", requester_id=actor.pk, target_id=target.pk)
        return REQUESTED
    _follow_insert(follower_id=actor.pk, followee_id=target.pk)
    return FOLLOWING


@transaction.atomic
def follow_delete(*, actor, target) -> None:
    """`actor` unfollows `target` (also cancels a pending follow request). Idempotent.

    Removes `actor` from `target`'s circles unless they are still friends. After commit:
    "follow.removed" when a follow existed. O(1).
    """
    _require_other(actor, target, verb="unfollow")
    _lock_pair(actor.pk, target.pk)
    FollowRequest.objects.filter(requester_id=actor.pk, target_id=target.pk).delete()
    if _follow_remove(follower_id=actor.pk, followee_id=target.pk):
        _circle_memberships_prune(owner_id=target.pk, member_id=actor.pk)


@transaction.atomic
def follower_remove(*, actor, follower) -> None:
    """`actor` removes `follower` from their followers (they are not told). Idempotent.

    After commit: "follow.removed" when the follow existed."""
    _require_other(actor, follower, verb="remove")
    _lock_pair(actor.pk, follower.pk)
    if _follow_remove(follower_id=follower.pk, followee_id=actor.pk):
        _circle_memberships_prune(owner_id=actor.pk, member_id=follower.pk)


@transaction.atomic
def follow_request_accept(*, actor, requester) -> None:
    """`actor` (the private account) accepts `requester`'s follow request.

    Idempotent: accepting an already-accepted request succeeds. Raises NotFound when
    there is no such request (and no follow). After commit: "follow_request.accepted"
    and "follow.created".
    """
    _lock_pair(actor.pk, requester.pk)
    deleted, _ = FollowRequest.objects.filter(requester_id=requester.pk, target_id=actor.pk).delete()
    if not deleted:
        if Follow.objects.filter(follower_id=requester.pk, followee_id=actor.pk).exists():
            return
        raise NotFound("Follow request not found.")
    _follow_insert(follower_id=requester.pk, followee_id=actor.pk)
    events.emit_on_commit("follow_request.accepted", requester_id=requester.pk, target_id=actor.pk)


@transaction.atomic
def follow_request_reject(*, actor, requester) -> None:
    """`actor` rejects `requester`'s pending request (deleted; they may ask again). Idempotent."""
    FollowRequest.objects.filter(requester_id=requester.pk, target_id=actor.pk).delete()


@transaction.atomic
def follow_request_cancel(*, actor, target) -> None:
    """`actor` withdraws their pending request to follow `target`. Idempotent."""
    FollowRequest.objects.filter(requester_id=actor.pk, target_id=target.pk).delete()


def follow_requests_accept_all(*, actor) -> int:
    """Accept every pending request to `actor` (call when an account turns public).

    Returns how many were accepted. Each acceptance is its own transaction, so a huge
    backlog never holds one long lock.
    """
    accepted = 0
    requester_ids = list(FollowRequest.objects.filter(target_id=actor.pk).values_list("requester_id", flat=True))
    from accounts.models import User

    for requester in User.objects.filter(pk__in=requester_ids).iterator():
        try:
            follow_request_accept(actor=actor, requester=requester)
            accepted += 1
        except NotFound:  # cancelled meanwhile
            continue
    return accepted


# --- friends ----------------------------------------------------------------------------
@transaction.atomic
def friend_request_create(*, actor, target) -> str:
    """`actor` sends `target` a friend request; returns REQUESTED or FRIENDS.

    Idempotent while pending. When `target` had already asked `actor`, this accepts
    that request instead (FRIENDS). Raises Invalid (self), NotFound (blocked either
    way, inactive). After commit: "friend_request.created" (new request) or
    "friendship.created" (crossed requests).
    """
    _require_other(actor, target, verb="befriend")
    _lock_pair(actor.pk, target.pk)
    rel = _require_visible(actor, target)
    if rel.friends:
        return FRIENDS
    if rel.friend_requested_by:
        FriendRequest.objects.filter(from_user_id=target.pk, to_user_id=actor.pk).delete()
        _friendship_insert(user_id=actor.pk, friend_id=target.pk)
        return FRIENDS
    if _insert_ignore(FriendRequest, from_user_id=actor.pk, to_user_id=target.pk):
        events.emit_on_commit("friend_request.created", from_user_id=actor.pk, to_user_id=target.pk)
    return REQUESTED


@transaction.atomic
def friend_request_accept(*, actor, from_user) -> None:
    """`actor` accepts `from_user`'s friend request. Idempotent once friends.

    Raises NotFound when there is no such request. After commit: "friendship.created"
    with user_id=actor, friend_id=from_user.
    """
    _lock_pair(actor.pk, from_user.pk)
    deleted, _ = FriendRequest.objects.filter(from_user_id=from_user.pk, to_user_id=actor.pk).delete()
    if not deleted:
        if Friendship.objects.filter(user_id=actor.pk, friend_id=from_user.pk).exists():
            return
        raise NotFound("Friend request not found.")
    if policy.is_blocked_either_way(actor.pk, from_user.pk):  # defensive: blocks delete requests
        raise NotFound("User not found.")
    _friendship_insert(user_id=actor.pk, friend_id=from_user.pk)


@transaction.atomic
def friend_request_reject(*, actor, from_user) -> None:
    """`actor` declines `from_user`'s friend request (deleted). Idempotent."""
    FriendRequest.objects.filter(from_user_id=from_user.pk, to_user_id=actor.pk).delete()


@transaction.atomic
def friend_request_cancel(*, actor, target) -> None:
    """`actor` withdraws their friend request to `target`. Idempotent."""
    FriendRequest.objects.filter(from_user_id=actor.pk, to_user_id=target.pk).delete()


@transaction.atomic
def friendship_delete(*, actor, friend) -> None:
    """`actor` unfriends `friend` (both rows go). Idempotent. Follows are untouched;
    circle memberships that relied on the friendship alone are dropped both ways.
    After commit: "friendship.removed" when they were friends."""
    _require_other(actor, friend, verb="unfriend")
    _lock_pair(actor.pk, friend.pk)
    if _friendship_remove(user_id=actor.pk, friend_id=friend.pk):
        _circle_memberships_prune(owner_id=actor.pk, member_id=friend.pk)
        _circle_memberships_prune(owner_id=friend.pk, member_id=actor.pk)


# --- close friends ----------------------------------------------------------------------
@transaction.atomic
def close_friend_add(*, actor, member) -> None:
    """Put `member` on `actor`'s close-friends list (not told). Idempotent.

    Raises Invalid (self, list full) and NotFound (blocked either way, inactive)."""
    _require_other(actor, member, verb="add")
    _require_visible(actor, member)
    _lock_key(1, actor.pk)
    if CloseFriend.objects.filter(owner_id=actor.pk).count() >= CLOSE_FRIENDS_MAX:
        raise Invalid(f"Close friends are limited to {CLOSE_FRIENDS_MAX:,} people.", code="limit_reached")
    _insert_ignore(CloseFriend, owner_id=actor.pk, member_id=member.pk)


@transaction.atomic
def close_friend_remove(*, actor, member) -> None:
    """Take `member` off `actor`'s close-friends list. Idempotent."""
    CloseFriend.objects.filter(owner_id=actor.pk, member_id=member.pk).delete()


# --- circles ----------------------------------------------------------------------------
def _clean_circle_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid("A circle needs a name.", field="name")
    # GraphQL strings may carry NUL bytes and lone surrogates: a 400, not a database error.
    require_clean_text(name=name)
    name = " ".join(name.split())
    if len(name) > CIRCLE_NAME_MAX:
        raise Invalid(f"Circle names are limited to {CIRCLE_NAME_MAX} characters.", field="name")
    return name


def _circle_owned(*, actor, circle_id, lock: bool = False) -> Circle:
    queryset = Circle.objects.filter(owner_id=actor.pk)
    if lock:
        queryset = queryset.select_for_update()
    try:
        return queryset.get(pk=int(circle_id))
    except (Circle.DoesNotExist, TypeError, ValueError):
        raise NotFound("Circle not found.") from None


@transaction.atomic
def circle_create(*, actor, name: str) -> Circle:
    """Create a circle owned by `actor`. Raises Invalid (bad name, 50 circles already)
    and Conflict (a circle of that name, case-insensitive, exists)."""
    name = _clean_circle_name(name)
    _lock_key(2, actor.pk)
    if Circle.objects.filter(owner_id=actor.pk).count() >= CIRCLES_PER_USER_MAX:
        raise Invalid(f"You can have at most {CIRCLES_PER_USER_MAX} circles.", code="limit_reached")
    if Circle.objects.filter(owner_id=actor.pk, name__iexact=name).exists():
        raise Conflict("You already have a circle with that name.", field="name")
    return Circle.objects.create(owner_id=actor.pk, name=name)


@transaction.atomic
def circle_rename(*, actor, circle_id: int, name: str) -> Circle:
    """Rename one of `actor`'s circles. Raises NotFound (not theirs), Invalid, Conflict."""
    name = _clean_circle_name(name)
    circle = _circle_owned(actor=actor, circle_id=circle_id, lock=True)
    if Circle.objects.filter(owner_id=actor.pk, name__iexact=name).exclude(pk=circle.pk).exists():
        raise Conflict("You already have a circle with that name.", field="name")
    circle.name = name
    circle.save(update_fields=["name", "updated_at"])
    return circle


@transaction.atomic
def circle_delete(*, actor, circle_id: int) -> None:
    """Delete one of `actor`'s circles and its memberships. Idempotent (missing: no error).

    Content addressed to the circle stays visible to its author only (rule 6)."""
    Circle.objects.filter(owner_id=actor.pk, pk=circle_id).delete()


@transaction.atomic
def circle_members_add(*, actor, circle_id: int, user_ids: Iterable[int]) -> Circle:
    """Add users to one of `actor`'s circles (members are not told). Idempotent per user.

    Every user must follow `actor` or be their friend (and not be blocked either way);
    otherwise Invalid on field "user_ids" and nothing is added. Raises Invalid when the
    circle would exceed CIRCLE_MEMBERS_MAX members, NotFound when it is not actor's.
    """
    wanted = list(dict.fromkeys(int(u) for u in user_ids))
    if not wanted:
        raise Invalid("Give at least one user.", field="user_ids")
    if len(wanted) > CIRCLE_MEMBERS_MAX:
        raise Invalid(f"A circle holds at most {CIRCLE_MEMBERS_MAX:,} members.", field="user_ids")
    circle = _circle_owned(actor=actor, circle_id=circle_id, lock=True)
    eligible = set(
        Follow.objects.filter(followee_id=actor.pk, follower_id__in=wanted).values_list("follower_id", flat=True)
    ) | set(Friendship.objects.filter(user_id=actor.pk, friend_id__in=wanted).values_list("friend_id", flat=True))
    blocked = set(Block.objects.filter(blocker_id=actor.pk, blocked_id__in=wanted).values_list("blocked_id", flat=True))
    blocked |= set(Block.objects.filter(blocked_id=actor.pk, blocker_id__in=wanted).values_list("blocker_id", flat=True))
    not_allowed = [u for u in wanted if u not in eligible or u in blocked]
    if not_allowed:
        raise Invalid(
            "Circle members must be your followers or friends.",
            field="user_ids",
            extra={"user_ids": [str(u) for u in not_allowed]},
        )
    existing = set(CircleMember.objects.filter(circle=circle, member_id__in=wanted).values_list("member_id", flat=True))
    new = [u for u in wanted if u not in existing]
    if circle.member_count + len(new) > CIRCLE_MEMBERS_MAX:
        raise Invalid(f"A circle holds at most {CIRCLE_MEMBERS_MAX:,} members.", field="user_ids", code="limit_reached")
    CircleMember.objects.bulk_create([CircleMember(circle=circle, member_id=u) for u in new])
    if new:
        Circle.objects.filter(pk=circle.pk).update(member_count=F("member_count") + len(new))
        circle.refresh_from_db(fields=["member_count"])
    return circle


@transaction.atomic
def circle_members_remove(*, actor, circle_id: int, user_ids: Iterable[int]) -> Circle:
    """Remove users from one of `actor`'s circles. Idempotent. NotFound when not actor's."""
    wanted = list(dict.fromkeys(int(u) for u in user_ids))
    circle = _circle_owned(actor=actor, circle_id=circle_id, lock=True)
    deleted, _ = CircleMember.objects.filter(circle=circle, member_id__in=wanted).delete()
    if deleted:
        Circle.objects.filter(pk=circle.pk).update(member_count=Greatest(F("member_count") - deleted, 0))
        circle.refresh_from_db(fields=["member_count"])
    return circle


# --- blocks and mutes -------------------------------------------------------------------
def _sever(a_id: int, b_id: int) -> None:
    """Everything a block removes between a and b, both ways (idempotent)."""
    _follow_remove(follower_id=a_id, followee_id=b_id)
    _follow_remove(follower_id=b_id, followee_id=a_id)
    _friendship_remove(user_id=a_id, friend_id=b_id)
    FollowRequest.objects.filter(Q(requester_id=a_id, target_id=b_id) | Q(requester_id=b_id, target_id=a_id)).delete()
    FriendRequest.objects.filter(Q(from_user_id=a_id, to_user_id=b_id) | Q(from_user_id=b_id, to_user_id=a_id)).delete()
    CloseFriend.objects.filter(Q(owner_id=a_id, member_id=b_id) | Q(owner_id=b_id, member_id=a_id)).delete()
    _circle_memberships_prune(owner_id=a_id, member_id=b_id, force=True)
    _circle_memberships_prune(owner_id=b_id, member_id=a_id, force=True)


@transaction.atomic
def block_create(*, actor, target) -> None:
    """`actor` blocks `target`: follows, friendship, pending requests, close-friend and
    circle memberships between them are removed both ways, and the policy hides each
    from the other everywhere. Unblocking restores nothing. Idempotent. Raises Invalid
    for self. After commit: "block.created" (first time), plus "follow.removed" /
    "friendship.removed" for what it severed.
    """
    _require_other(actor, target, verb="block")
    _lock_pair(actor.pk, target.pk)
    created = _insert_ignore(Block, blocker_id=actor.pk, blocked_id=target.pk)
    _sever(actor.pk, target.pk)
    if created:
        events.emit_on_commit("block.created", blocker_id=actor.pk, blocked_id=target.pk)


@transaction.atomic
def block_delete(*, actor, target) -> None:
    """`actor` unblocks `target`. Idempotent. After commit: "block.removed"."""
    _lock_pair(actor.pk, target.pk)
    deleted, _ = Block.objects.filter(blocker_id=actor.pk, blocked_id=target.pk).delete()
    if deleted:
        events.emit_on_commit("block.removed", blocker_id=actor.pk, blocked_id=target.pk)


@transaction.atomic
def mute_create(*, actor, target, posts: bool = True, stories: bool = True) -> Mute:
    """`actor` mutes `target`'s posts and/or stories (not told); calling again updates
    the flags. Raises Invalid (self, both flags false) and NotFound (blocked either way).
    After commit: "mute.created" when created or its flags changed.
    """
    _require_other(actor, target, verb="mute")
    if not posts and not stories:
        raise Invalid("Mute posts, stories or both.", field="posts")
    _require_visible(actor, target)
    mute, created = Mute.objects.select_for_update().get_or_create(
        muter_id=actor.pk, muted_id=target.pk, defaults={"posts": posts, "stories": stories}
    )
    changed = created or (mute.posts, mute.stories) != (posts, stories)
    if not created and changed:
        mute.posts, mute.stories = posts, stories
        mute.save(update_fields=["posts", "stories", "updated_at"])
    if changed:
        events.emit_on_commit("mute.created", muter_id=actor.pk, muted_id=target.pk, posts=posts, stories=stories)
    return mute


@transaction.atomic
def mute_delete(*, actor, target) -> None:
    """`actor` unmutes `target`. Idempotent. After commit: "mute.removed"."""
    deleted, _ = Mute.objects.filter(muter_id=actor.pk, muted_id=target.pk).delete()
    if deleted:
        events.emit_on_commit("mute.removed", muter_id=actor.pk, muted_id=target.pk)


# --- moderation flags -------------------------------------------------------------------
@transaction.atomic
def shadowban_set(*, user_id: int, active: bool, actor=None, reason: str = "") -> None:
    """Set or clear the shadowban flag of `user_id` (moderation calls this). Idempotent:
    setting the current value again changes nothing and emits nothing.

    Raises NotFound for an unknown user. After commit: "shadowban.changed"
    {user_id, active} when the flag flipped (feeds and search drop or restore content).
    """
    from accounts.models import User

    if not User.objects.filter(pk=user_id).exists():
        raise NotFound("User not found.")
    flag, _ = AccountFlag.objects.select_for_update().get_or_create(user_id=user_id)
    if flag.shadowbanned == bool(active):
        return
    flag.shadowbanned = bool(active)
    flag.shadowbanned_at = timezone.now() if active else None
    flag.shadowban_reason = (reason or "")[:500] if active else ""
    flag.updated_by_id = getattr(actor, "pk", None)
    flag.save()
    logger.info("shadowban.changed", extra={"user_id": user_id, "active": bool(active)})
    events.emit_on_commit("shadowban.changed", user_id=user_id, active=bool(active))


# --- account deletion -------------------------------------------------------------------
def social_user_purge(user) -> None:
    """Deletion hook (accounts' purge transaction): fix other people's counts, then drop
    every relation of `user`. Set-based SQL, so a 1M-follower account is a few statements.
    No events: accounts announces the deletion itself."""
    from accounts.models import Profile

    uid = user.pk
    Profile.objects.filter(user_id__in=Follow.objects.filter(follower_id=uid).values("followee_id")).update(
        followers_count=Greatest(F("followers_count") - 1, 0)
    )
    Profile.objects.filter(user_id__in=Follow.objects.filter(followee_id=uid).values("follower_id")).update(
        following_count=Greatest(F("following_count") - 1, 0)
    )
    Profile.objects.filter(user_id__in=Friendship.objects.filter(user_id=uid).values("friend_id")).update(
        friends_count=Greatest(F("friends_count") - 1, 0)
    )
    circle_ids = list(CircleMember.objects.filter(member_id=uid).values_list("circle_id", flat=True))
    Circle.objects.filter(pk__in=circle_ids).update(member_count=Greatest(F("member_count") - 1, 0))
    CircleMember.objects.filter(member_id=uid).delete()
    Follow.objects.filter(Q(follower_id=uid) | Q(followee_id=uid)).delete()
    Friendship.objects.filter(Q(user_id=uid) | Q(friend_id=uid)).delete()
    CloseFriend.objects.filter(Q(owner_id=uid) | Q(member_id=uid)).delete()
