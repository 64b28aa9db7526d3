"""Creator subscriptions: tiers, paying, renewal with grace and retries, cancel, the audience."""

from datetime import timedelta

import pytest

from content import selectors as content_selectors
from content.services import post_create
from daira.lib.errors import Conflict, Invalid, NotFound
from social import policy
from wallet import ledger, services
from wallet.models import AccountKind, Subscription
from wallet.tests.conftest import grant_coins

pytestmark = pytest.mark.django_db


@pytest.fixture
def tier(creator):
    return services.tier_upsert(creator=creator, level=1, name="Fans", price_piastres=2_000)


def _subscribe(fan, tier, key="s1"):
    return services.subscription_start(subscriber=fan, tier_id=tier.pk, pay_with="coins", idempotency_key=key)


def test_a_creator_has_at_most_three_tiers(creator):
    for level in (1, 2, 3):
        services.tier_upsert(creator=creator, level=level, name=f"T{level}", price_piastres=1000 * level)

    with pytest.raises(Invalid):
        services.tier_upsert(creator=creator, level=4, name="T4", price_piastres=5000)

    assert creator.subscription_tiers.count() == 3


def test_subscribe_with_coins_pays_the_creator_and_starts_a_period(fan, creator, tier, settings, emitted_events,
                                                                   django_capture_on_commit_callbacks, books_balance):
    # given: EGP 20 a month = 200 coins at 10 piastres
    settings.WALLET_COIN_VALUE_PIASTRES = 10
    grant_coins(fan, 250)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        sub = _subscribe(fan, tier)

    # then
    assert (sub.status, sub.periods_paid, sub.tier_level) == ("active", 1, 1)
    assert sub.current_period_end - sub.current_period_start == timedelta(days=30)
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 50
    assert ledger.balance_of(creator.pk, AccountKind.EARNINGS) == 1_400
    assert ("subscription.started", {"subscription_id": sub.pk, "subscriber_id": fan.pk, "creator_id": creator.pk,
                                     "tier_level": 1}) in emitted_events
    books_balance()


def test_subscribe_twice_with_one_key_subscribes_once_and_twice_is_a_conflict(fan, creator, tier):
    grant_coins(fan, 1000)
    first = _subscribe(fan, tier, key="a")

    assert _subscribe(fan, tier, key="a").pk == first.pk
    with pytest.raises(Conflict):
        _subscribe(fan, tier, key="b")
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 800


def test_renewal_charges_the_next_period(fan, creator, tier, books_balance):
    grant_coins(fan, 400)
    sub = _subscribe(fan, tier)
    end = sub.current_period_end

    counts = services.subscriptions_renew_due(now=end + timedelta(minutes=1))
    again = services.subscriptions_renew_due(now=end + timedelta(minutes=2))

    sub.refresh_from_db()
    assert counts == {"renewed": 1}
    assert again == {}
    assert (sub.status, sub.periods_paid, sub.current_period_start) == ("active", 2, end)
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 0
    books_balance()


def test_failed_renewal_is_past_due_in_grace_then_retried_then_expires(fan, creator, tier, settings):
    settings.WALLET_SUBSCRIPTION_GRACE_DAYS = 3
    settings.WALLET_SUBSCRIPTION_RETRY_HOURS = 24
    grant_coins(fan, 200)
    sub = _subscribe(fan, tier)
    end = sub.current_period_end

    # when: the first renewal finds no coins
    assert services.subscriptions_renew_due(now=end + timedelta(minutes=1)) == {"retry": 1}
    sub.refresh_from_db()

    # then: past due, still a subscriber during the grace period, retried a day later
    assert (sub.status, sub.renewal_attempts, sub.grace_until) == ("past_due", 1, end + timedelta(days=3))
    assert policy.can_view_content(fan, creator, "subscribers") is True
    assert services.subscriptions_renew_due(now=end + timedelta(hours=2)) == {}

    # and: the grace period ends without coins → expired, no access
    assert services.subscriptions_renew_due(now=end + timedelta(days=1, minutes=2)) == {"retry": 1}
    assert services.subscriptions_renew_due(now=end + timedelta(days=3, minutes=1)) == {"expired": 1}
    sub.refresh_from_db()
    assert sub.status == "expired"
    assert policy.can_view_content(fan, creator, "subscribers") is False


def test_a_retry_that_finds_coins_renews_from_the_old_period_end(fan, creator, tier):
    grant_coins(fan, 200)
    sub = _subscribe(fan, tier)
    end = sub.current_period_end
    services.subscriptions_renew_due(now=end + timedelta(minutes=1))
    grant_coins(fan, 200)

    assert services.subscriptions_renew_due(now=end + timedelta(days=1)) == {"renewed": 1}

    sub.refresh_from_db()
    assert (sub.status, sub.current_period_start, sub.renewal_attempts) == ("active", end, 0)


def test_cancel_keeps_access_until_the_period_ends(fan, creator, tier):
    grant_coins(fan, 1000)
    sub = _subscribe(fan, tier)

    services.subscription_cancel(subscriber=fan, subscription_id=sub.pk)
    assert policy.can_view_content(fan, creator, "subscribers") is True

    assert services.subscriptions_renew_due(now=sub.current_period_end + timedelta(seconds=1)) == {"canceled": 1}
    sub.refresh_from_db()
    assert sub.status == "canceled"
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 800
    assert policy.can_view_content(fan, creator, "subscribers") is False


def test_cancel_someone_elses_subscription_is_not_found(fan, creator, tier):
    grant_coins(fan, 1000)
    sub = _subscribe(fan, tier)

    with pytest.raises(NotFound):
        services.subscription_cancel(subscriber=creator, subscription_id=sub.pk)

    assert Subscription.objects.get(pk=sub.pk).cancel_at_period_end is False


def test_subscribe_through_a_provider_activates_on_confirmation(fan, creator, tier, books_balance):
    sub = services.subscription_start(subscriber=fan, tier_id=tier.pk, pay_with="provider", method="wallet", idempotency_key="p")
    assert sub.status == "incomplete"
    assert policy.can_view_content(fan, creator, "subscribers") is False

    services.sandbox_settle(payment=sub.payments.get(), outcome="paid")

    sub.refresh_from_db()
    assert (sub.status, sub.periods_paid) == ("active", 1)
    assert ledger.balance_of(creator.pk, AccountKind.EARNINGS) == 1_400
    books_balance()


def test_subscribers_audience_through_the_policy_and_content(fan, creator, tier):
    # given: a subscribers-only post, and a tier-2-minimum post
    outsider = type(fan).objects.create_user("outsider")
    grant_coins(fan, 1000)
    post = post_create(author=creator, body="for subscribers", audience="subscribers")
    premium = post_create(author=creator, body="for tier 2+", audience="subscribers_t2")
    _subscribe(fan, tier)

    # then: the predicate and the SQL form agree, through content's own selector
    assert content_selectors.post_get_visible(viewer=fan, post_id=post.pk).pk == post.pk
    with pytest.raises(NotFound):
        content_selectors.post_get_visible(viewer=outsider, post_id=post.pk)
    with pytest.raises(NotFound):
        content_selectors.post_get_visible(viewer=fan, post_id=premium.pk)
    assert policy.can_view_content(fan, creator, "subscribers_t2") is False
    assert policy.can_view_content(creator, creator, "subscribers_t2") is True


def test_subscriber_badge_on_profiles(fan, creator, tier):
    from wallet import hooks

    grant_coins(fan, 1000)
    _subscribe(fan, tier)

    assert hooks.profile_extra(creator, fan)["subscriber_badge"]["tier_level"] == 1
    assert hooks.profile_extra(fan, creator)["subscription"]["tier_name"] == "Fans"
