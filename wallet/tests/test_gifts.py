"""Gifts and tips: rate and platform share, idempotency, blocks, visibility, notifications."""

import pytest

from accounts.tests.factories import UserFactory
from content.services import post_create
from daira.lib.errors import Conflict, NotFound, PermissionDenied
from social.tests.factories import block
from wallet import ledger, services
from wallet.ledger import InsufficientFunds
from wallet.models import AccountKind, Gift, Transfer
from wallet.tests.conftest import grant_coins

pytestmark = pytest.mark.django_db


def test_gift_moves_coins_to_creator_earnings_at_rate_minus_platform_share(fan, creator, settings, books_balance):
    # given: 1 coin = 10 piastres, platform keeps 30%
    settings.WALLET_COIN_VALUE_PIASTRES = 10
    settings.WALLET_PLATFORM_SHARE_PERCENT = 30
    grant_coins(fan, 200)
    post = post_create(author=creator, body="hello")

    # when: a 100-coin felucca (EGP 10.00 of value)
    gift = services.gift_send(sender=fan, gift_code="felucca", post_id=post.pk, idempotency_key="g1")

    # then
    assert (gift.coins, gift.creator_piastres, gift.platform_piastres) == (100, 700, 300)
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 100
    assert ledger.balance_of(creator.pk, AccountKind.EARNINGS) == 700
    assert ledger.platform_balance(AccountKind.PLATFORM_REVENUE) == 300
    assert gift.post_id == post.pk and gift.creator_id == creator.pk
    books_balance()


def test_platform_gets_the_rounding(fan, creator, settings):
    settings.WALLET_COIN_VALUE_PIASTRES = 1
    settings.WALLET_PLATFORM_SHARE_PERCENT = 30
    grant_coins(fan, 10)

    gift = services.tip_send(sender=fan, creator_id=creator.pk, coins=5, idempotency_key="t1")

    assert (gift.creator_piastres, gift.platform_piastres) == (3, 2)


def test_same_idempotency_key_gifts_once(fan, creator, books_balance):
    grant_coins(fan, 50)
    post = post_create(author=creator, body="hello")

    first = services.gift_send(sender=fan, gift_code="tea", post_id=post.pk, idempotency_key="retry-me")
    again = services.gift_send(sender=fan, gift_code="tea", post_id=post.pk, idempotency_key="retry-me")

    assert again.pk == first.pk
    assert Gift.objects.count() == 1
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 40
    books_balance()


def test_reusing_a_key_for_another_gift_is_a_conflict(fan, creator):
    grant_coins(fan, 50)
    post = post_create(author=creator, body="hello")
    services.gift_send(sender=fan, gift_code="tea", post_id=post.pk, idempotency_key="k")

    with pytest.raises(Conflict):
        services.gift_send(sender=fan, gift_code="rose", post_id=post.pk, idempotency_key="k")

    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 40


@pytest.mark.parametrize("direction", ["fan_blocks", "creator_blocks"])
def test_blocked_users_cannot_gift_or_tip_each_other(fan, creator, direction):
    grant_coins(fan, 50)
    block(fan, creator) if direction == "fan_blocks" else block(creator, fan)

    with pytest.raises(PermissionDenied) as denied:
        services.tip_send(sender=fan, creator_id=creator.pk, coins=5, idempotency_key="b")
    with pytest.raises(PermissionDenied) as denied_gift:
        services.gift_send(sender=fan, gift_code="rose", creator_id=creator.pk, idempotency_key="g")

    assert denied.value.code == denied_gift.value.code == "blocked"
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 50
    assert Gift.objects.exists() is False


def test_gift_on_a_post_the_sender_cannot_see_is_not_found(fan, creator):
    grant_coins(fan, 50)
    post = post_create(author=creator, body="friends only", audience="friends")

    with pytest.raises(NotFound):
        services.gift_send(sender=fan, gift_code="rose", post_id=post.pk, idempotency_key="x")

    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 50


def test_gift_without_enough_coins_changes_nothing(fan, creator, books_balance):
    grant_coins(fan, 3)

    with pytest.raises(InsufficientFunds):
        services.gift_send(sender=fan, gift_code="heart", creator_id=creator.pk, idempotency_key="poor")

    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 3
    assert Transfer.objects.filter(kind="gift").exists() is False
    books_balance()


def test_cannot_tip_yourself(fan):
    grant_coins(fan, 10)

    with pytest.raises(services.Invalid):
        services.tip_send(sender=fan, creator_id=fan.pk, coins=1, idempotency_key="me")


def test_gift_emits_event_and_live_event_after_commit(fan, creator, emitted_events, django_capture_on_commit_callbacks, mocker):
    grant_coins(fan, 10)
    post = post_create(author=creator, body="hello")
    sent = mocker.patch("daira.lib.realtime.send_now")
    emitted_events.clear()

    with django_capture_on_commit_callbacks(execute=True):
        gift = services.gift_send(sender=fan, gift_code="rose", post_id=post.pk, idempotency_key="n1")

    assert ("gift.received", {"gift_id": gift.pk, "sender_id": fan.pk, "creator_id": creator.pk, "post_id": post.pk}) in emitted_events
    sent.assert_called_once_with(f"user.{creator.pk}", "gift.received", {
        "id": str(gift.pk), "sender_id": str(fan.pk), "coins": 1, "gift": "rose", "post_id": str(post.pk), "message": "",
    })


def test_tip_emits_tip_received(fan, creator, emitted_events, django_capture_on_commit_callbacks):
    grant_coins(fan, 10)

    with django_capture_on_commit_callbacks(execute=True):
        tip = services.tip_send(sender=fan, creator_id=creator.pk, coins=7, context="dm", idempotency_key="t")

    assert ("tip.received", {"tip_id": tip.pk, "sender_id": fan.pk, "creator_id": creator.pk, "context": "dm"}) in emitted_events


def test_tip_to_an_inactive_user_is_not_found(fan):
    grant_coins(fan, 10)
    gone = UserFactory(status="deactivated")

    with pytest.raises(NotFound):
        services.tip_send(sender=fan, creator_id=gone.pk, coins=1, idempotency_key="z")


@pytest.mark.parametrize("creator_id", [0, -5, 1 << 63, 10**30, "12x", None, 999_999_999_999])
def test_tip_to_an_id_that_names_no_user_is_not_found(fan, creator_id, books_balance):
    grant_coins(fan, 10)

    with pytest.raises(NotFound):
        services.tip_send(sender=fan, creator_id=creator_id, coins=1, idempotency_key=f"bad-{creator_id}")

    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 10
    books_balance()


def test_gift_to_a_sharded_creator_credits_the_senders_shard(creator, settings):
    # given: eight earnings shards and fans whose ids land on different shards
    settings.WALLET_EARNINGS_SHARDS = 8
    fans = [UserFactory() for _ in range(4)]
    for fan in fans:
        grant_coins(fan, 5)

    # when
    for fan in fans:
        services.gift_send(sender=fan, gift_code="rose", creator_id=creator.pk, idempotency_key="s")

    # then: each gift's earnings line is on the shard its sender's id picks
    for fan in fans:
        transfer = Gift.objects.get(sender=fan).transfer
        shards = {e.account.shard for e in transfer.entries.select_related("account") if e.account.kind == AccountKind.EARNINGS}
        assert shards == {fan.pk % 8}
    assert ledger.balance_of(creator.pk, AccountKind.EARNINGS) == 4 * Gift.objects.filter(creator=creator).first().creator_piastres
