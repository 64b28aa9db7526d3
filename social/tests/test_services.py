"""Services: the graph writes, their idempotency, side effects, counts and events."""

from __future__ import annotations

import pytest

from accounts.models import Profile, User
from accounts.tests.factories import UserFactory
from daira.lib.errors import Conflict, Invalid, NotFound
from social import services
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

pytestmark = pytest.mark.django_db


def counts(user) -> tuple[int, int, int]:
    profile = Profile.objects.get(user=user)
    return profile.followers_count, profile.following_count, profile.friends_count


def private_user() -> User:
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(is_private=True)
    user.refresh_from_db()
    return user


# --- follows -------------------------------------------------------------------------------
def test_follow_public_account_creates_follow_counts_and_event(django_capture_on_commit_callbacks, emitted_events):
    # given
    alice, bob = UserFactory(), UserFactory()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.follow_create(actor=alice, target=bob)

    # then
    assert outcome == "following"
    assert Follow.objects.filter(follower=alice, followee=bob).count() == 1
    assert counts(alice) == (0, 1, 0)
    assert counts(bob) == (1, 0, 0)
    assert emitted_events == [("follow.created", {"follower_id": alice.pk, "followee_id": bob.pk})]


def test_follow_twice_is_idempotent(django_capture_on_commit_callbacks, emitted_events):
    alice, bob = UserFactory(), UserFactory()
    services.follow_create(actor=alice, target=bob)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.follow_create(actor=alice, target=bob)

    assert outcome == "following"
    assert Follow.objects.count() == 1
    assert counts(bob) == (1, 0, 0)
    assert emitted_events == []


def test_follow_self_is_invalid_and_writes_nothing():
    alice = UserFactory()

    with pytest.raises(Invalid):
        services.follow_create(actor=alice, target=alice)

    assert Follow.objects.exists() is False
    assert counts(alice) == (0, 0, 0)


def test_unfollow_removes_follow_counts_and_emits(django_capture_on_commit_callbacks, emitted_events):
    alice, bob = UserFactory(), UserFactory()
    services.follow_create(actor=alice, target=bob)

    with django_capture_on_commit_callbacks(execute=True):
        services.follow_delete(actor=alice, target=bob)
        services.follow_delete(actor=alice, target=bob)  # idempotent

    assert Follow.objects.exists() is False
    assert counts(alice) == (0, 0, 0)
    assert counts(bob) == (0, 0, 0)
    assert emitted_events == [("follow.removed", {"follower_id": alice.pk, "followee_id": bob.pk})]


def test_remove_follower(django_capture_on_commit_callbacks, emitted_events):
    alice, bob = UserFactory(), UserFactory()
    services.follow_create(actor=alice, target=bob)

    with django_capture_on_commit_callbacks(execute=True):
        services.follower_remove(actor=bob, follower=alice)

    assert Follow.objects.exists() is False
    assert counts(bob) == (0, 0, 0)
    assert emitted_events == [("follow.removed", {"follower_id": alice.pk, "followee_id": bob.pk})]


def test_follow_private_account_creates_request_not_follow(django_capture_on_commit_callbacks, emitted_events):
    alice, bob = UserFactory(), private_user()

    with django_capture_on_commit_callbacks(execute=True):
        first = services.follow_create(actor=alice, target=bob)
        second = services.follow_create(actor=alice, target=bob)

    assert (first, second) == ("requested", "requested")
    assert Follow.objects.exists() is False
    assert FollowRequest.objects.filter(requester=alice, target=bob).count() == 1
    assert counts(bob) == (0, 0, 0)
    assert emitted_events == [("follow_request.created", {"requester_id": alice.pk, "target_id": bob.pk})]


def test_accept_follow_request_creates_follow(django_capture_on_commit_callbacks, emitted_events):
    alice, bob = UserFactory(), private_user()
    services.follow_create(actor=alice, target=bob)

    with django_capture_on_commit_callbacks(execute=True):
        services.follow_request_accept(actor=bob, requester=alice)
        services.follow_request_accept(actor=bob, requester=alice)  # idempotent

    assert FollowRequest.objects.exists() is False
    assert Follow.objects.filter(follower=alice, followee=bob).count() == 1
    assert counts(bob) == (1, 0, 0)
    assert emitted_events == [
        ("follow.created", {"follower_id": alice.pk, "followee_id": bob.pk}),
        ("follow_request.accepted", {"requester_id": alice.pk, "target_id": bob.pk}),
    ]


def test_accept_missing_follow_request_is_not_found():
    alice, bob = UserFactory(), private_user()

    with pytest.raises(NotFound):
        services.follow_request_accept(actor=bob, requester=alice)

    assert Follow.objects.exists() is False


def test_reject_and_cancel_follow_requests():
    alice, carol, bob = UserFactory(), UserFactory(), private_user()
    services.follow_create(actor=alice, target=bob)
    services.follow_create(actor=carol, target=bob)

    services.follow_request_reject(actor=bob, requester=alice)
    services.follow_request_cancel(actor=carol, target=bob)
    services.follow_request_reject(actor=bob, requester=alice)  # idempotent

    assert FollowRequest.objects.exists() is False
    assert Follow.objects.exists() is False


def test_unfollow_cancels_a_pending_request():
    alice, bob = UserFactory(), private_user()
    services.follow_create(actor=alice, target=bob)

    services.follow_delete(actor=alice, target=bob)

    assert FollowRequest.objects.exists() is False


def test_follow_requests_accept_all_when_going_public():
    bob = private_user()
    fans = [UserFactory() for _ in range(3)]
    for fan in fans:
        services.follow_create(actor=fan, target=bob)

    accepted = services.follow_requests_accept_all(actor=bob)

    assert accepted == 3
    assert counts(bob) == (3, 0, 0)
    assert FollowRequest.objects.exists() is False


def test_follow_inactive_account_is_not_found():
    alice = UserFactory()
    gone = UserFactory(status=User.Status.DEACTIVATED)

    with pytest.raises(NotFound):
        services.follow_create(actor=alice, target=gone)

    assert Follow.objects.exists() is False


# --- friends --------------------------------------------------------------------------------
def test_friend_request_then_accept(django_capture_on_commit_callbacks, emitted_events):
    alice, bob = UserFactory(), UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        sent = services.friend_request_create(actor=alice, target=bob)
        services.friend_request_accept(actor=bob, from_user=alice)

    assert sent == "requested"
    assert set(Friendship.objects.values_list("user_id", "friend_id")) == {(alice.pk, bob.pk), (bob.pk, alice.pk)}
    assert FriendRequest.objects.exists() is False
    assert counts(alice) == (0, 0, 1)
    assert counts(bob) == (0, 0, 1)
    assert Follow.objects.exists() is False  # friends is its own relation
    assert emitted_events == [
        ("friend_request.created", {"from_user_id": alice.pk, "to_user_id": bob.pk}),
        ("friendship.created", {"user_id": bob.pk, "friend_id": alice.pk}),
    ]


def test_crossed_friend_requests_become_friends():
    alice, bob = UserFactory(), UserFactory()
    services.friend_request_create(actor=alice, target=bob)

    outcome = services.friend_request_create(actor=bob, target=alice)

    assert outcome == "friends"
    assert Friendship.objects.count() == 2
    assert FriendRequest.objects.exists() is False


def test_friend_request_reject_cancel_and_unfriend(django_capture_on_commit_callbacks, emitted_events):
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    services.friend_request_create(actor=alice, target=bob)
    services.friend_request_reject(actor=bob, from_user=alice)
    services.friend_request_create(actor=carol, target=bob)
    services.friend_request_cancel(actor=carol, target=bob)
    services.friend_request_create(actor=alice, target=carol)
    services.friend_request_accept(actor=carol, from_user=alice)

    with django_capture_on_commit_callbacks(execute=True):
        services.friendship_delete(actor=alice, friend=carol)
        services.friendship_delete(actor=alice, friend=carol)

    assert FriendRequest.objects.exists() is False
    assert Friendship.objects.exists() is False
    assert counts(alice) == (0, 0, 0)
    assert counts(carol) == (0, 0, 0)
    assert emitted_events == [("friendship.removed", {"user_id": alice.pk, "friend_id": carol.pk})]


def test_accept_missing_friend_request_is_not_found():
    alice, bob = UserFactory(), UserFactory()

    with pytest.raises(NotFound):
        services.friend_request_accept(actor=bob, from_user=alice)

    assert Friendship.objects.exists() is False


# --- close friends and circles --------------------------------------------------------------
def test_close_friends_add_and_remove_idempotently():
    alice, bob = UserFactory(), UserFactory()

    services.close_friend_add(actor=alice, member=bob)
    services.close_friend_add(actor=alice, member=bob)
    assert list(CloseFriend.objects.values_list("owner_id", "member_id")) == [(alice.pk, bob.pk)]

    services.close_friend_remove(actor=alice, member=bob)
    services.close_friend_remove(actor=alice, member=bob)
    assert CloseFriend.objects.exists() is False


def test_circle_lifecycle():
    owner, fan, friend = UserFactory(), UserFactory(), UserFactory()
    services.follow_create(actor=fan, target=owner)
    services.friend_request_create(actor=friend, target=owner)
    services.friend_request_accept(actor=owner, from_user=friend)

    circle = services.circle_create(actor=owner, name="  Zamalek   fans ")
    circle = services.circle_members_add(actor=owner, circle_id=circle.pk, user_ids=[fan.pk, friend.pk, fan.pk])
    assert circle.name == "Zamalek fans"
    assert circle.member_count == 2

    circle = services.circle_rename(actor=owner, circle_id=circle.pk, name="Family")
    circle = services.circle_members_remove(actor=owner, circle_id=circle.pk, user_ids=[fan.pk])
    assert (circle.name, circle.member_count) == ("Family", 1)
    assert list(CircleMember.objects.values_list("member_id", flat=True)) == [friend.pk]

    services.circle_delete(actor=owner, circle_id=circle.pk)
    assert Circle.objects.exists() is False
    assert CircleMember.objects.exists() is False


def test_circle_members_must_be_followers_or_friends():
    owner, stranger = UserFactory(), UserFactory()
    circle = services.circle_create(actor=owner, name="Work")

    with pytest.raises(Invalid) as error:
        services.circle_members_add(actor=owner, circle_id=circle.pk, user_ids=[stranger.pk])

    assert error.value.extra == {"user_ids": [str(stranger.pk)]}
    assert CircleMember.objects.exists() is False


def test_circle_names_are_unique_per_owner_case_insensitively():
    owner = UserFactory()
    services.circle_create(actor=owner, name="Work")

    with pytest.raises(Conflict):
        services.circle_create(actor=owner, name="work")

    assert Circle.objects.count() == 1


def test_circle_limit_per_user(settings):
    owner = UserFactory()
    Circle.objects.bulk_create([Circle(owner=owner, name=f"c{i}") for i in range(services.CIRCLES_PER_USER_MAX)])

    with pytest.raises(Invalid) as error:
        services.circle_create(actor=owner, name="one too many")

    assert error.value.code == "limit_reached"
    assert Circle.objects.count() == 50


def test_circle_member_limit(monkeypatch):
    # given: a circle one short of the limit (the limit lowered so the test stays fast)
    monkeypatch.setattr(services, "CIRCLE_MEMBERS_MAX", 2)
    owner = UserFactory()
    fans = [UserFactory() for _ in range(3)]
    for fan in fans:
        services.follow_create(actor=fan, target=owner)
    circle = services.circle_create(actor=owner, name="Tiny")
    services.circle_members_add(actor=owner, circle_id=circle.pk, user_ids=[fans[0].pk])

    # when / then
    with pytest.raises(Invalid):
        services.circle_members_add(actor=owner, circle_id=circle.pk, user_ids=[fans[1].pk, fans[2].pk])
    assert CircleMember.objects.count() == 1


def test_circle_of_someone_else_is_not_found():
    owner, intruder = UserFactory(), UserFactory()
    circle = services.circle_create(actor=owner, name="Family")

    with pytest.raises(NotFound):
        services.circle_rename(actor=intruder, circle_id=circle.pk, name="Mine")
    services.circle_delete(actor=intruder, circle_id=circle.pk)

    assert Circle.objects.get().name == "Family"


def test_unfollowing_drops_circle_membership_unless_still_friends():
    owner, fan, friend = UserFactory(), UserFactory(), UserFactory()
    for user in (fan, friend):
        services.follow_create(actor=user, target=owner)
    services.friend_request_create(actor=friend, target=owner)
    services.friend_request_accept(actor=owner, from_user=friend)
    circle = services.circle_create(actor=owner, name="Crew")
    services.circle_members_add(actor=owner, circle_id=circle.pk, user_ids=[fan.pk, friend.pk])

    services.follow_delete(actor=fan, target=owner)
    services.follow_delete(actor=friend, target=owner)

    assert list(CircleMember.objects.values_list("member_id", flat=True)) == [friend.pk]
    assert Circle.objects.get().member_count == 1


# --- blocks and mutes -----------------------------------------------------------------------
def test_block_severs_everything_both_ways(django_capture_on_commit_callbacks, emitted_events):
    # given: alice and bob follow each other, are friends, close friends and in circles
    alice, bob = UserFactory(), UserFactory()
    services.follow_create(actor=alice, target=bob)
    services.follow_create(actor=bob, target=alice)
    services.friend_request_create(actor=alice, target=bob)
    services.friend_request_accept(actor=bob, from_user=alice)
    services.close_friend_add(actor=alice, member=bob)
    services.close_friend_add(actor=bob, member=alice)
    circle_a = services.circle_create(actor=alice, name="A")
    circle_b = services.circle_create(actor=bob, name="B")
    services.circle_members_add(actor=alice, circle_id=circle_a.pk, user_ids=[bob.pk])
    services.circle_members_add(actor=bob, circle_id=circle_b.pk, user_ids=[alice.pk])

    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.block_create(actor=alice, target=bob)

    # then
    assert Follow.objects.exists() is False
    assert Friendship.objects.exists() is False
    assert CloseFriend.objects.exists() is False
    assert CircleMember.objects.exists() is False
    assert set(Circle.objects.values_list("member_count", flat=True)) == {0}
    assert counts(alice) == (0, 0, 0)
    assert counts(bob) == (0, 0, 0)
    assert list(Block.objects.values_list("blocker_id", "blocked_id")) == [(alice.pk, bob.pk)]
    assert sorted(name for name, _ in emitted_events) == [
        "block.created",
        "follow.removed",
        "follow.removed",
        "friendship.removed",
    ]


def test_block_cancels_pending_requests_and_unblock_restores_nothing():
    alice, bob = UserFactory(), private_user()
    services.follow_create(actor=alice, target=bob)
    services.friend_request_create(actor=bob, target=alice)

    services.block_create(actor=bob, target=alice)
    services.block_create(actor=bob, target=alice)  # idempotent
    services.block_delete(actor=bob, target=alice)

    assert FollowRequest.objects.exists() is False
    assert FriendRequest.objects.exists() is False
    assert Block.objects.exists() is False


def test_blocked_users_cannot_follow_friend_or_mute_each_other():
    alice, bob = UserFactory(), UserFactory()
    services.block_create(actor=alice, target=bob)

    for call in (
        lambda: services.follow_create(actor=bob, target=alice),
        lambda: services.follow_create(actor=alice, target=bob),
        lambda: services.friend_request_create(actor=bob, target=alice),
        lambda: services.close_friend_add(actor=bob, member=alice),
        lambda: services.mute_create(actor=bob, target=alice),
    ):
        with pytest.raises(NotFound):
            call()

    assert Follow.objects.exists() is False
    assert FriendRequest.objects.exists() is False
    assert CloseFriend.objects.exists() is False
    assert Mute.objects.exists() is False


def test_mute_create_update_delete(django_capture_on_commit_callbacks, emitted_events):
    alice, bob = UserFactory(), UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        services.mute_create(actor=alice, target=bob, posts=True, stories=False)
        services.mute_create(actor=alice, target=bob, posts=True, stories=False)  # no change
        services.mute_create(actor=alice, target=bob, posts=False, stories=True)
        services.mute_delete(actor=alice, target=bob)

    assert Mute.objects.exists() is False
    assert emitted_events == [
        ("mute.created", {"muter_id": alice.pk, "muted_id": bob.pk, "posts": True, "stories": False}),
        ("mute.created", {"muter_id": alice.pk, "muted_id": bob.pk, "posts": False, "stories": True}),
        ("mute.removed", {"muter_id": alice.pk, "muted_id": bob.pk}),
    ]


def test_mute_nothing_is_invalid():
    alice, bob = UserFactory(), UserFactory()

    with pytest.raises(Invalid):
        services.mute_create(actor=alice, target=bob, posts=False, stories=False)

    assert Mute.objects.exists() is False


# --- shadowban ------------------------------------------------------------------------------
def test_shadowban_set_is_idempotent(django_capture_on_commit_callbacks, emitted_events):
    user, moderator = UserFactory(), UserFactory(is_staff=True)

    with django_capture_on_commit_callbacks(execute=True):
        services.shadowban_set(user_id=user.pk, active=True, actor=moderator, reason="spam ring")
        services.shadowban_set(user_id=user.pk, active=True, actor=moderator)
        services.shadowban_set(user_id=user.pk, active=False)

    flag = AccountFlag.objects.get(user=user)
    assert (flag.shadowbanned, flag.shadowbanned_at, flag.shadowban_reason) == (False, None, "")
    assert emitted_events == [
        ("shadowban.changed", {"user_id": user.pk, "active": True}),
        ("shadowban.changed", {"user_id": user.pk, "active": False}),
    ]


def test_shadowban_unknown_user_is_not_found():
    with pytest.raises(NotFound):
        services.shadowban_set(user_id=12345, active=True)

    assert AccountFlag.objects.exists() is False


# --- account deletion -----------------------------------------------------------------------
def test_purge_hook_fixes_other_peoples_counts():
    leaving, fan, idol, friend = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    services.follow_create(actor=fan, target=leaving)
    services.follow_create(actor=leaving, target=idol)
    services.friend_request_create(actor=leaving, target=friend)
    services.friend_request_accept(actor=friend, from_user=leaving)

    services.social_user_purge(leaving)

    assert counts(fan) == (0, 0, 0)
    assert counts(idol) == (0, 0, 0)
    assert counts(friend) == (0, 0, 0)
    assert Follow.objects.exists() is False
    assert Friendship.objects.exists() is False


def test_privacy_changed_task_accepts_pending_requests_once_public():
    from social.tasks import user_privacy_changed_task

    bob, fan = private_user(), UserFactory()
    services.follow_create(actor=fan, target=bob)
    User.objects.filter(pk=bob.pk).update(is_private=False)

    first = user_privacy_changed_task(user_id=bob.pk, is_private=False)
    second = user_privacy_changed_task(user_id=bob.pk, is_private=False)

    assert (first, second) == (1, 0)
    assert Follow.objects.filter(follower=fan, followee=bob).count() == 1
    assert counts(bob) == (1, 0, 0)


def test_seed_social_is_idempotent():
    from social.seed import seed_social

    for handle in ("mona", "omar", "layla"):
        UserFactory(handle=handle)

    seed_social()
    seed_social()

    assert Follow.objects.count() == 3
    assert Friendship.objects.count() == 2
    assert CircleMember.objects.count() == 1
    assert counts(User.objects.get(handle="layla")) == (2, 0, 0)
