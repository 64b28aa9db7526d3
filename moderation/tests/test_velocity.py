"""Velocity caps by account age, and account_can_post."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from daira.lib.errors import RateLimited
from moderation.models import AccountRestriction
from moderation.selectors import account_can_post, account_post_block_reason
from moderation.services import velocity_check

pytestmark = pytest.mark.django_db


def _count_allowed(user, action, attempts):
    allowed = 0
    for _ in range(attempts):
        try:
            velocity_check(actor=user, action=action)
        except RateLimited:
            break
        allowed += 1
    return allowed


@pytest.mark.parametrize(
    ("action", "new_cap", "established_cap"),
    [("posts", 2, 5), ("comments", 5, 15), ("dms", 10, 30), ("follows", 10, 30), ("reports", 5, 10)],
)
def test_per_minute_caps_are_stricter_for_new_accounts(action, new_cap, established_cap, established):
    # given
    new_user = UserFactory(date_joined=timezone.now() - timedelta(days=6, hours=23))
    old_user = established()

    # when
    new_allowed = _count_allowed(new_user, action, 40)
    old_allowed = _count_allowed(old_user, action, 40)

    # then
    assert (new_allowed, old_allowed) == (new_cap, established_cap)


def test_over_the_cap_raises_rate_limited_with_retry_after():
    user = UserFactory()
    velocity_check(actor=user, action="posts")
    velocity_check(actor=user, action="posts")

    with pytest.raises(RateLimited) as caught:
        velocity_check(actor=user, action="posts")

    assert 1 <= caught.value.retry_after <= 60
    assert caught.value.status_code == 429


def test_hour_cap_applies_when_the_minute_cap_is_not_reached(settings):
    # given
    settings.MODERATION_VELOCITY_CAPS = {**settings.MODERATION_VELOCITY_CAPS, "posts": {"new": (100, 3), "established": (100, 3)}}
    user = UserFactory()

    # when
    allowed = _count_allowed(user, "posts", 10)

    # then
    with pytest.raises(RateLimited) as caught:
        velocity_check(actor=user, action="posts")
    assert allowed == 3
    assert 3500 <= caught.value.retry_after <= 3600


def test_caps_are_per_action_and_per_user():
    # given: a new account used up its posts for this minute
    user, other = UserFactory(), UserFactory()
    velocity_check(actor=user, action="posts")
    velocity_check(actor=user, action="posts")

    # when
    comments_left = velocity_check(actor=user, action="comments")
    others_posts_left = velocity_check(actor=other, action="posts")

    # then
    assert (comments_left, others_posts_left) == (4, 1)


def test_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError):
        velocity_check(actor=UserFactory(), action="likes")


def test_reports_api_answers_429_with_retry_after(auth_client, stand_in_targets, settings):
    # given
    settings.MODERATION_VELOCITY_CAPS = {**settings.MODERATION_VELOCITY_CAPS, "reports": {"new": (1, 10), "established": (1, 10)}}
    reporter = UserFactory()
    first, second = UserFactory(), UserFactory()
    client = auth_client(reporter)
    client.post("/api/v1/reports", {"target_type": "profile", "target_id": str(first.pk), "reason": "spam"})

    # when
    response = client.post("/api/v1/reports", {"target_type": "profile", "target_id": str(second.pk), "reason": "spam"})

    # then
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "rate_limited"


def test_account_can_post_for_an_ordinary_account(established):
    user = established()

    assert (account_can_post(user=user), account_post_block_reason(user=user)) == (True, None)


def test_suspended_account_cannot_post(established):
    user = established(status=User.Status.SUSPENDED, suspended_until=timezone.now() + timedelta(days=1))

    assert (account_can_post(user=user), account_post_block_reason(user=user)) == (False, "suspended")


def test_permanently_suspended_and_deactivated_accounts_cannot_post(established):
    suspended = established(status=User.Status.SUSPENDED, suspended_until=None)
    deactivated = established(status=User.Status.DEACTIVATED)

    assert account_post_block_reason(user=suspended) == "suspended"
    assert account_post_block_reason(user=deactivated) == "deactivated"


def test_limited_account_cannot_post_until_the_restriction_ends(established):
    # given
    user, expired_user, lifted_user = established(), established(), established()
    AccountRestriction.objects.create(user=user, until=timezone.now() + timedelta(hours=1), reason="spam wave")
    AccountRestriction.objects.create(user=expired_user, until=timezone.now() - timedelta(seconds=1), reason="old")
    AccountRestriction.objects.create(user=lifted_user, until=None, reason="x", lifted_at=timezone.now())

    # then
    assert account_post_block_reason(user=user) == "limited"
    assert account_post_block_reason(user=expired_user) is None
    assert account_post_block_reason(user=lifted_user) is None


def test_new_account_at_its_posts_cap_is_throttled(established):
    # given
    new_user, old_user = UserFactory(), established()
    for user in (new_user, old_user):
        velocity_check(actor=user, action="posts")
        velocity_check(actor=user, action="posts")

    # then
    assert account_post_block_reason(user=new_user) == "new_account_throttled"
    assert account_post_block_reason(user=old_user) is None


def test_anonymous_cannot_post():
    from django.contrib.auth.models import AnonymousUser

    assert account_post_block_reason(user=AnonymousUser()) == "not_authenticated"
    assert account_can_post(user=None) is False
