"""The social graph: follows, follow requests, friends, close friends, circles, blocks, mutes, flags.

Every relation row has a snowflake primary key, so "newest first" lists paginate by
`id` on a composite index `(<owner column>, id)`: any page of a 1,000,000-row list costs
the same as the first (DESIGN.md rule 5). Rows are only written by `social.services`,
which also keeps the denormalised counts on `accounts.Profile` exact.

Storage choices (the contract other apps may rely on):
- Follow: one row per (follower → followee).
- Friendship: TWO rows per pair, (user=a, friend=b) and (user=b, friend=a), written and
  deleted together in one transaction. "Friends of X" is then a plain indexed lookup on
  `user_id` with cursor pagination, and policy subqueries read
  `Friendship.objects.filter(user_id=viewer).values("friend_id")` without an OR.
- Close friends, circles, blocks and mutes are one-directional rows owned by the user who
  made them; the other side is never told.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from daira.lib.models import SnowflakeModel

USER = settings.AUTH_USER_MODEL


class Follow(SnowflakeModel):
    """`follower` follows `followee` (one-way; approved already for private accounts)."""

    follower = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="following_rows")
    followee = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="follower_rows")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_unique_pair"),
            models.CheckConstraint(condition=~models.Q(follower=models.F("followee")), name="follow_not_self"),
        ]
        indexes = [
            # Follower list of a user, newest first, cursor on id (the 1M-follower page).
            models.Index(fields=["followee", "-id"], name="follow_followee_id_idx"),
            # Following list; the unique (follower, followee) index serves membership checks.
            models.Index(fields=["follower", "-id"], name="follow_follower_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} → {self.followee_id}"


class FollowRequest(SnowflakeModel):
    """A pending request from `requester` to follow the private account `target`.

    Accepting turns it into a Follow; rejecting or cancelling deletes it. There is no
    "rejected" state on purpose: the requester may ask again, as on Instagram.
    """

    requester = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="follow_requests_sent")
    target = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="follow_requests_received")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["requester", "target"], name="follow_request_unique_pair"),
            models.CheckConstraint(
                condition=~models.Q(requester=models.F("target")), name="follow_request_not_self"
            ),
        ]
        indexes = [
            models.Index(fields=["target", "-id"], name="follow_request_target_idx"),
            models.Index(fields=["requester", "-id"], name="follow_request_requester_idx"),
        ]


class FriendRequest(SnowflakeModel):
    """A pending friend request from `from_user` to `to_user` (deleted once answered)."""

    from_user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="friend_requests_sent")
    to_user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="friend_requests_received")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_user", "to_user"], name="friend_request_unique_pair"),
            models.CheckConstraint(
                condition=~models.Q(from_user=models.F("to_user")), name="friend_request_not_self"
            ),
        ]
        indexes = [
            models.Index(fields=["to_user", "-id"], name="friend_request_to_idx"),
            models.Index(fields=["from_user", "-id"], name="friend_request_from_idx"),
        ]


class Friendship(SnowflakeModel):
    """One direction of a two-way friendship; the pair is always stored as two rows (module doc)."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="friendship_rows")
    friend = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "friend"], name="friendship_unique_pair"),
            models.CheckConstraint(condition=~models.Q(user=models.F("friend")), name="friendship_not_self"),
        ]
        indexes = [models.Index(fields=["user", "-id"], name="friendship_user_id_idx")]


class CloseFriend(SnowflakeModel):
    """`member` is on `owner`'s close-friends list (private to the owner)."""

    owner = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="close_friend_rows")
    member = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "member"], name="close_friend_unique_pair"),
            models.CheckConstraint(condition=~models.Q(owner=models.F("member")), name="close_friend_not_self"),
        ]
        indexes = [
            models.Index(fields=["owner", "-id"], name="close_friend_owner_idx"),
            # "Whose close friend am I?" — the policy's subquery for close-friends content.
            models.Index(fields=["member", "owner"], name="close_friend_member_idx"),
        ]


class Circle(SnowflakeModel):
    """A named audience owned by one user ("Family", "Work"). Members are not told.

    Limits (enforced in services): CIRCLES_PER_USER_MAX circles per owner and
    CIRCLE_MEMBERS_MAX members per circle; members must follow or be friends with the owner.
    """

    owner = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="circles")
    name = models.CharField(max_length=50)
    member_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), "owner", name="circle_owner_name_ci_unique")]
        indexes = [models.Index(fields=["owner", "-id"], name="circle_owner_idx")]

    def __str__(self) -> str:
        return self.name


class CircleMember(SnowflakeModel):
    circle = models.ForeignKey(Circle, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["circle", "member"], name="circle_member_unique_pair")]
        indexes = [
            models.Index(fields=["circle", "-id"], name="circle_member_circle_idx"),
            models.Index(fields=["member", "circle"], name="circle_member_member_idx"),
        ]


class Block(SnowflakeModel):
    """`blocker` blocked `blocked`: the policy hides each from the other everywhere."""

    blocker = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="block_rows")
    blocked = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="blocked_by_rows")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_unique_pair"),
            models.CheckConstraint(condition=~models.Q(blocker=models.F("blocked")), name="block_not_self"),
        ]
        indexes = [
            models.Index(fields=["blocker", "-id"], name="block_blocker_idx"),
            models.Index(fields=["blocked", "blocker"], name="block_blocked_idx"),
        ]


class Mute(SnowflakeModel):
    """`muter` hides `muted`'s posts and/or stories from their feeds; `muted` is not told.

    At least one of `posts` / `stories` is true (a row with both false is deleted instead).
    """

    muter = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="mute_rows")
    muted = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    posts = models.BooleanField(default=True)
    stories = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["muter", "muted"], name="mute_unique_pair"),
            models.CheckConstraint(condition=~models.Q(muter=models.F("muted")), name="mute_not_self"),
            models.CheckConstraint(condition=models.Q(posts=True) | models.Q(stories=True), name="mute_something"),
        ]
        indexes = [models.Index(fields=["muter", "-id"], name="mute_muter_idx")]


class AccountFlag(models.Model):
    """Moderation flags the social policy applies, one row per flagged user.

    `shadowbanned`: the account's content is hidden from discovery surfaces and from
    non-followers, while the account itself sees nothing unusual. Set only through
    `social.services.shadowban_set` (called by moderation).
    """

    user = models.OneToOneField(USER, on_delete=models.CASCADE, primary_key=True, related_name="social_flags")
    shadowbanned = models.BooleanField(default=False)
    shadowbanned_at = models.DateTimeField(null=True, blank=True)
    shadowban_reason = models.CharField(max_length=500, blank=True, default="")
    updated_by = models.ForeignKey(USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["user"], condition=models.Q(shadowbanned=True), name="account_flag_shadowban_idx")
        ]

    def __str__(self) -> str:
        return f"flags of {self.user_id}"
