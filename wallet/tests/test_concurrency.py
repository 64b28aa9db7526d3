"""Concurrency: real threads, real connections, committed transactions."""

import threading

import pytest
from django.db import connection

from accounts.tests.factories import UserFactory
from wallet import ledger, services
from wallet.ledger import InsufficientFunds
from wallet.models import AccountKind, Entry, Gift, Transfer
from wallet.tests.conftest import grant_coins

pytestmark = pytest.mark.django_db(transaction=True)


def _run_concurrently(count: int, work) -> list:
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:  # collected and asserted on by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_fifty_concurrent_spends_never_overdraw(books_balance):
    # given: 30 coins and 50 concurrent 1-coin tips
    fan, creator = UserFactory(), UserFactory()
    grant_coins(fan, 30)

    # when
    results = _run_concurrently(50, lambda i: services.tip_send(sender=fan, creator_id=creator.pk, coins=1, idempotency_key=f"c{i}"))

    # then: exactly 30 succeed, 20 are refused, and the balance is exactly zero
    assert sum(isinstance(r, Gift) for r in results) == 30
    assert sum(isinstance(r, InsufficientFunds) for r in results) == 20
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 0
    assert Gift.objects.count() == 30
    books_balance()


def test_concurrent_retries_of_one_key_gift_once(books_balance):
    fan, creator = UserFactory(), UserFactory()
    grant_coins(fan, 100)

    results = _run_concurrently(10, lambda i: services.tip_send(sender=fan, creator_id=creator.pk, coins=5, idempotency_key="same"))

    assert {r.pk for r in results if isinstance(r, Gift)} == {Gift.objects.get().pk}
    assert all(isinstance(r, Gift) for r in results)
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 95
    books_balance()


def test_concurrent_gifts_from_many_fans_to_one_creator_lose_nothing(settings, books_balance):
    settings.WALLET_COIN_VALUE_PIASTRES = 10
    settings.WALLET_PLATFORM_SHARE_PERCENT = 30
    creator = UserFactory()
    fans = [UserFactory() for _ in range(20)]
    for fan in fans:
        grant_coins(fan, 10)

    results = _run_concurrently(20, lambda i: services.tip_send(sender=fans[i], creator_id=creator.pk, coins=10, idempotency_key="x"))

    assert [r for r in results if not isinstance(r, Gift)] == []
    assert ledger.balance_of(creator.pk, AccountKind.EARNINGS) == 20 * 70
    books_balance()


def test_a_gift_outside_any_transaction_is_one_committed_statement(books_balance):
    # given: no surrounding transaction (as the API runs it)
    fan, creator = UserFactory(), UserFactory()
    grant_coins(fan, 3)
    assert not connection.in_atomic_block

    # when
    gift = services.gift_send(sender=fan, gift_code="rose", creator_id=creator.pk, idempotency_key="one")

    # then: the gift row, its transfer and its lines are committed together, seen from another connection
    seen = _run_concurrently(1, lambda i: Gift.objects.select_related("transfer").get(pk=gift.pk))[0]
    assert seen.transfer_id == gift.transfer_id and seen.transfer.kind == "gift"
    assert seen.transfer.entries.count() == 5
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 2
    books_balance()


def test_a_refused_gift_outside_any_transaction_writes_nothing(books_balance):
    # given
    fan, creator = UserFactory(), UserFactory()
    grant_coins(fan, 3)
    before = (Gift.objects.count(), Transfer.objects.count(), Entry.objects.count())

    # when: a gift worth more than the fan has
    with pytest.raises(InsufficientFunds):
        services.gift_send(sender=fan, gift_code="felucca", creator_id=creator.pk, idempotency_key="big")

    # then: no gift, no transfer, no lines, no balance moved; the connection works on
    assert (Gift.objects.count(), Transfer.objects.count(), Entry.objects.count()) == before
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 3
    assert ledger.balance_of(creator.pk, AccountKind.EARNINGS) == 0
    services.gift_send(sender=fan, gift_code="rose", creator_id=creator.pk, idempotency_key="small")
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 2
    books_balance()
