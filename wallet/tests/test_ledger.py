"""The ledger's guarantees, held by the database itself."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.utils import DatabaseError

from accounts.tests.factories import UserFactory
from wallet import ledger
from wallet.ledger import DuplicateTransfer, InsufficientFunds, Line
from wallet.models import Account, AccountKind, Entry, Transfer
from wallet.tests.conftest import grant_coins

pytestmark = pytest.mark.django_db


def _raw_transfer(key: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wallet_transfer (id, idempotency_key, kind, status, memo, created_at) "
            "VALUES (%s, %s, 'adjustment', 'posted', '', now()) RETURNING id",
            [abs(hash(key)) % (1 << 62), key],
        )
        return cursor.fetchone()[0]


def test_raw_insert_that_breaks_zero_sum_fails_at_commit_check():
    # given: a transfer with a single +100 line, written with raw SQL (no Python checks)
    account = ledger.platform_account(AccountKind.FEES, shard=0)

    # when: the deferred constraint trigger runs (as it does at COMMIT)
    with pytest.raises(IntegrityError, match="does not sum to zero"):
        with transaction.atomic(), connection.cursor() as cursor:
            transfer_id = _raw_transfer("raw-unbalanced")
            cursor.execute(
                "INSERT INTO wallet_entry (id, transfer_id, account_id, amount, created_at) VALUES (%s, %s, %s, 100, now())",
                [transfer_id + 1, transfer_id, account.pk],
            )
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    # then: nothing of it is left
    assert Entry.objects.count() == 0


def test_raw_insert_that_balances_passes_the_check():
    a = ledger.platform_account(AccountKind.FEES, shard=0)
    b = ledger.platform_account(AccountKind.FEES, shard=1)
    transfer_id = _raw_transfer("raw-balanced")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wallet_entry (id, transfer_id, account_id, amount, created_at) "
            "VALUES (%s, %s, %s, 100, now()), (%s, %s, %s, -100, now())",
            [transfer_id + 1, transfer_id, a.pk, transfer_id + 2, transfer_id, b.pk],
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    assert Entry.objects.filter(transfer_id=transfer_id).count() == 2


@pytest.mark.django_db(transaction=True)
def test_committing_an_unbalanced_raw_transfer_fails_and_leaves_nothing():
    account = ledger.platform_account(AccountKind.FEES, shard=0)

    with pytest.raises(IntegrityError, match="does not sum to zero"):
        with transaction.atomic():
            transfer_id = _raw_transfer("raw-commit")
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO wallet_entry (id, transfer_id, account_id, amount, created_at) VALUES (%s, %s, %s, 5, now())",
                    [transfer_id + 1, transfer_id, account.pk],
                )

    assert Transfer.objects.count() == 0
    assert Entry.objects.count() == 0


def test_entries_cannot_be_updated_or_deleted(fan):
    transfer = grant_coins(fan, 10)
    entry = transfer.entries.first()

    with pytest.raises(DatabaseError, match="immutable"):
        with transaction.atomic():
            Entry.objects.filter(pk=entry.pk).update(amount=999)
    with pytest.raises(DatabaseError, match="immutable"):
        with transaction.atomic():
            Entry.objects.filter(pk=entry.pk).delete()

    assert Entry.objects.get(pk=entry.pk).amount == entry.amount


def test_a_posted_transfer_cannot_go_back_to_pending(fan):
    transfer = grant_coins(fan, 10)

    with pytest.raises(DatabaseError, match="not allowed"):
        with transaction.atomic():
            Transfer.objects.filter(pk=transfer.pk).update(status="pending")

    assert Transfer.objects.get(pk=transfer.pk).status == "posted"


def test_user_balance_check_constraint_refuses_negative(fan):
    account = ledger.user_account(fan.pk, AccountKind.COIN_BALANCE)

    with pytest.raises(IntegrityError):
        with transaction.atomic():
            Account.objects.filter(pk=account.pk).update(balance=-1)


def test_transfer_post_refuses_unbalanced_lines_in_python(fan):
    account = ledger.user_account(fan.pk, AccountKind.COIN_BALANCE)

    with pytest.raises(ledger.Invalid):
        ledger.transfer_post(key="x", kind="adjustment", lines=[Line(account, 5)])

    assert Transfer.objects.count() == 0


def test_overdraft_is_refused_and_writes_nothing(fan, books_balance):
    grant_coins(fan, 5)
    coin = ledger.user_account(fan.pk, AccountKind.COIN_BALANCE)
    sink = ledger.platform_account(AccountKind.COIN_ISSUANCE, shard=0)

    with pytest.raises(InsufficientFunds), transaction.atomic():
        ledger.transfer_post(key="spend-6", kind="gift", lines=[Line(coin, -6), Line(sink, 6)])

    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 5
    assert Transfer.objects.filter(idempotency_key="spend-6").exists() is False
    books_balance()


def test_same_idempotency_key_moves_money_once(fan, books_balance):
    grant_coins(fan, 10)
    coin = ledger.user_account(fan.pk, AccountKind.COIN_BALANCE)
    sink = ledger.platform_account(AccountKind.COIN_ISSUANCE, shard=0)
    first = ledger.transfer_post(key="k1", kind="gift", lines=[Line(coin, -3), Line(sink, 3)])

    with pytest.raises(DuplicateTransfer) as duplicate, transaction.atomic():
        ledger.transfer_post(key="k1", kind="gift", lines=[Line(coin, -3), Line(sink, 3)])

    assert duplicate.value.existing.pk == first.pk
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 7
    books_balance()


def test_a_record_is_written_with_its_transfer_and_only_then(fan, creator, books_balance):
    # given
    from wallet.models import Gift

    grant_coins(fan, 10)
    coin = ledger.user_account(fan.pk, AccountKind.COIN_BALANCE)
    sink = ledger.platform_account(AccountKind.COIN_ISSUANCE, shard=0)

    def gift():
        return Gift(kind="gift", context="profile", sender=fan, creator=creator, gift_code="tea", coins=3,
                    creator_piastres=0, platform_piastres=0, message="يا سلام")

    # when: a transfer with its record, the same key again, and an overdraft, each with a record
    first = gift()
    transfer = ledger.transfer_post(key="r1", kind="gift", lines=[Line(coin, -3), Line(sink, 3)], record=first)
    with pytest.raises(DuplicateTransfer), transaction.atomic():
        ledger.transfer_post(key="r1", kind="gift", lines=[Line(coin, -3), Line(sink, 3)], record=gift())
    with pytest.raises(InsufficientFunds), transaction.atomic():
        ledger.transfer_post(key="r2", kind="gift", lines=[Line(coin, -30), Line(sink, 30)], record=gift())

    # then: only the first record exists, field for field as saved, pointing at its transfer
    stored = Gift.objects.get()
    assert (stored.pk, stored.transfer_id, stored.message, stored.coins) == (first.pk, transfer.pk, "يا سلام", 3)
    assert stored.created_at == first.created_at and first.transfer == transfer
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 7
    books_balance()


def test_two_phase_pending_reserves_debits_then_post_lands_credits(fan, books_balance):
    grant_coins(fan, 10)
    coin = ledger.user_account(fan.pk, AccountKind.COIN_BALANCE)
    sink = ledger.platform_account(AccountKind.COIN_ISSUANCE, shard=0)
    sink_before = Account.objects.get(pk=sink.pk).balance

    pending = ledger.transfer_post(key="p1", kind="gift", pending=True, lines=[Line(coin, -4), Line(sink, 4)])
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 6
    assert Account.objects.get(pk=sink.pk).balance == sink_before
    books_balance()

    ledger.transfer_post_pending(transfer=pending)
    assert Account.objects.get(pk=sink.pk).balance == sink_before + 4
    assert Transfer.objects.get(pk=pending.pk).status == "posted"
    books_balance()


def test_two_phase_void_releases_the_reserved_debits(fan, books_balance):
    grant_coins(fan, 10)
    coin = ledger.user_account(fan.pk, AccountKind.COIN_BALANCE)
    sink = ledger.platform_account(AccountKind.COIN_ISSUANCE, shard=0)
    pending = ledger.transfer_post(key="p2", kind="gift", pending=True, lines=[Line(coin, -4), Line(sink, 4)])

    ledger.transfer_void(transfer=pending)

    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 10
    assert Transfer.objects.get(pk=pending.pk).status == "voided"
    with pytest.raises(ledger.Conflict):
        ledger.transfer_post_pending(transfer=pending)
    books_balance()


def test_reverse_posts_negated_lines_once(fan, books_balance):
    transfer = grant_coins(fan, 10)

    reversal = ledger.transfer_reverse(transfer=transfer, key="rev-1")

    assert sorted(reversal.entries.values_list("amount", flat=True)) == sorted(-a for a in transfer.entries.values_list("amount", flat=True))
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 0
    with pytest.raises(ledger.Conflict):
        ledger.transfer_reverse(transfer=transfer, key="rev-2")
    books_balance()


def test_earnings_shards_sum_on_read():
    creator = UserFactory()
    payer = ledger.platform_account(AccountKind.COIN_FLOAT, shard=0)
    for sender_id in range(1, 9):
        account = ledger.earnings_account(creator.pk, spread_by=sender_id)
        ledger.transfer_post(key=f"e{sender_id}", kind="gift", lines=[Line(payer, -10), Line(account, 10)])

    assert Account.objects.filter(owner=creator, kind=AccountKind.EARNINGS).count() == 8
    assert ledger.balance_of(creator.pk, AccountKind.EARNINGS) == 80


def test_a_creators_first_earnings_account_brings_all_its_shards(settings, django_assert_num_queries):
    settings.WALLET_EARNINGS_SHARDS = 4
    creator, fan = UserFactory(), UserFactory()

    # when: the first lookup misses
    coin, earnings = ledger.user_accounts([(fan.pk, AccountKind.COIN_BALANCE, 0), (creator.pk, AccountKind.EARNINGS, 2)])

    # then: the fan's coins and every shard of the creator's earnings exist, once each
    assert (coin.owner_id, coin.kind, earnings.owner_id, earnings.shard) == (fan.pk, AccountKind.COIN_BALANCE, creator.pk, 2)
    assert sorted(Account.objects.filter(owner=creator, kind=AccountKind.EARNINGS).values_list("shard", flat=True)) == [0, 1, 2, 3]
    assert Account.objects.filter(owner=fan).count() == 1
    # and: a lookup of another shard is one query, with nothing created
    with django_assert_num_queries(1):
        [other] = ledger.user_accounts([(creator.pk, AccountKind.EARNINGS, 3)])
    assert other.shard == 3 and other.pk != earnings.pk
    # and: a shard outside the setting (it was lowered) is still found or created
    assert ledger.user_account(creator.pk, AccountKind.EARNINGS, shard=9).shard == 9
    assert ledger.user_accounts([(creator.pk, AccountKind.EARNINGS, 9)])[0].shard == 9
