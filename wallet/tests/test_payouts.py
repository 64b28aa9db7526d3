"""Payouts: identity and destination checks, funds to pending, maker-checker, CSV, results."""

import csv
import io

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from daira.lib.errors import Conflict, Invalid, PermissionDenied
from wallet import ledger, services, validators
from wallet.ledger import InsufficientFunds, Line
from wallet.models import AccountKind, AuditLog, Payout, Transfer

pytestmark = pytest.mark.django_db

VALID_NID = "29001010100015"  # born 1990-01-01 in Cairo
VALID_IBAN = "EG380019000500000000263180002"


def earn(user, piastres: int) -> None:
    """Credit earnings as gifts would (from the coin float)."""
    for shard in range(2):
        ledger.transfer_post(key=f"earn:{user.pk}:{shard}:{piastres}", kind=Transfer.Kind.GIFT, lines=[
            Line(ledger.platform_account(AccountKind.COIN_FLOAT, shard=0), -(piastres // 2)),
            Line(ledger.earnings_account(user.pk, spread_by=shard), piastres // 2),
        ])


@pytest.fixture
def payee(creator):
    services.payout_profile_set(user=creator, full_name="Mona Ahmed Hassan", national_id=VALID_NID,
                                destination_type="wallet", destination="010 0123 4567")
    earn(creator, 1_000_000)
    return creator


@pytest.mark.parametrize("nid", ["2900101010001", "19001010100015", "29013010100015", "29001019900015", "3990101010001x",
                                 "32601010100015"])
def test_national_id_structure_is_validated(nid):
    with pytest.raises(Invalid):
        validators.validate_national_id(nid)


def test_valid_national_id_and_arabic_digits():
    assert validators.validate_national_id(VALID_NID) == VALID_NID
    assert validators.validate_national_id("٢٩٠٠١٠١٠١٠٠٠١٥") == VALID_NID


def test_national_id_check_digit_when_enabled(settings):
    settings.WALLET_NATIONAL_ID_CHECK_DIGIT = True
    body = VALID_NID[:13]
    good = body + str(validators.national_id_check_digit(body))
    bad = body + str((int(good[-1]) + 1) % 10)

    assert validators.validate_national_id(good) == good
    with pytest.raises(Invalid):
        validators.validate_national_id(bad)


def test_iban_mod97_and_format():
    assert validators.validate_egyptian_iban("eg38 0019 0005 0000 0000 2631 80002") == VALID_IBAN
    with pytest.raises(Invalid):
        validators.validate_egyptian_iban("EG380019000500000000263180003")
    with pytest.raises(Invalid):
        validators.validate_egyptian_iban("DE89370400440532013000")


@pytest.mark.parametrize(("kind", "raw", "expected"), [
    ("wallet", "01001234567", "+201001234567"), ("wallet", "+20 122 123 4567", "+201221234567"),
    ("instapay", "Mona.Ahmed@InstaPay", "mona.ahmed@instapay"), ("iban", VALID_IBAN, VALID_IBAN),
])
def test_destinations_are_normalised(kind, raw, expected):
    assert validators.validate_destination(kind, raw) == expected


@pytest.mark.parametrize(("kind", "raw"), [("wallet", "01301234567"), ("instapay", "mona@gmail.com"), ("bitcoin", "x")])
def test_bad_destinations_are_refused(kind, raw):
    with pytest.raises(Invalid):
        validators.validate_destination(kind, raw)


def test_payout_needs_a_verified_phone():
    user = UserFactory()
    with pytest.raises(PermissionDenied) as denied:
        services.payout_request(user=user, amount_piastres=20_000, idempotency_key="k")
    assert denied.value.code == "phone_not_verified"


def test_payout_request_moves_funds_to_pending_at_once(payee, books_balance, emitted_events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        payout = services.payout_request(user=payee, amount_piastres=600_000, idempotency_key="p1")

    assert (payout.status, payout.approvals_required, payout.destination) == ("requested", 2, "+201001234567")
    assert ledger.balance_of(payee.pk, AccountKind.EARNINGS) == 400_000
    assert ledger.balance_of(payee.pk, AccountKind.PENDING_PAYOUT) == 600_000
    assert ("payout.updated", {"payout_id": payout.pk, "user_id": payee.pk, "status": "requested"}) in emitted_events
    assert services.payout_request(user=payee, amount_piastres=600_000, idempotency_key="p1").pk == payout.pk
    books_balance()


def test_payout_below_minimum_or_above_earnings_is_refused(payee, settings):
    settings.WALLET_PAYOUT_MIN_PIASTRES = 10_000
    with pytest.raises(Invalid):
        services.payout_request(user=payee, amount_piastres=9_999, idempotency_key="a")
    with pytest.raises(InsufficientFunds):
        services.payout_request(user=payee, amount_piastres=1_000_001, idempotency_key="b")
    assert Payout.objects.exists() is False
    assert ledger.balance_of(payee.pk, AccountKind.EARNINGS) == 1_000_000


def test_maker_checker_needs_two_different_staff_above_the_threshold(payee, finance, finance2, settings):
    settings.WALLET_PAYOUT_DUAL_APPROVAL_ABOVE_PIASTRES = 500_000
    payout = services.payout_request(user=payee, amount_piastres=600_000, idempotency_key="big")

    services.payout_approve(payout_id=payout.pk, staff=finance)
    assert Payout.objects.get(pk=payout.pk).status == "requested"
    with pytest.raises(PermissionDenied) as same_staff:
        services.payout_approve(payout_id=payout.pk, staff=finance)
    assert same_staff.value.code == "maker_checker"

    services.payout_approve(payout_id=payout.pk, staff=finance2)
    assert Payout.objects.get(pk=payout.pk).status == "approved"


def test_small_payout_needs_one_approval_and_staff_cannot_approve_their_own(payee, finance):
    payout = services.payout_request(user=payee, amount_piastres=20_000, idempotency_key="small")
    services.payout_approve(payout_id=payout.pk, staff=finance)
    assert Payout.objects.get(pk=payout.pk).status == "approved"

    # a finance staff member who is also a creator cannot approve their own payout
    services.payout_profile_set(user=finance, full_name="Omar Ali Said", national_id=VALID_NID,
                                destination_type="iban", destination=VALID_IBAN)
    finance.phone_verified_at = timezone.now()
    finance.save(update_fields=["phone_verified_at"])
    earn(finance, 50_000)
    own = services.payout_request(user=finance, amount_piastres=20_000, idempotency_key="own")
    with pytest.raises(PermissionDenied) as denied:
        services.payout_approve(payout_id=own.pk, staff=finance)
    assert denied.value.code == "maker_checker"
    assert Payout.objects.get(pk=own.pk).status == "requested"


def test_non_finance_staff_cannot_approve(payee):
    payout = services.payout_request(user=payee, amount_piastres=20_000, idempotency_key="x")
    with pytest.raises(PermissionDenied):
        services.payout_approve(payout_id=payout.pk, staff=UserFactory(is_staff=True))
    assert Payout.objects.get(pk=payout.pk).status == "requested"


def test_export_csv_then_paid(payee, finance, books_balance):
    payout = services.payout_request(user=payee, amount_piastres=20_000, idempotency_key="x")
    services.payout_approve(payout_id=payout.pk, staff=finance)

    batch = services.payouts_export_batch(staff=finance)
    rows = list(csv.reader(io.StringIO(batch.csv)))
    assert rows[0] == services.CSV_HEADER
    assert rows[1][:5] == [str(payout.pk), "200.00", "Mona Ahmed Hassan", "wallet", "+201001234567"]
    assert Payout.objects.get(pk=payout.pk).status == "exported"
    books_balance()

    services.payout_mark_paid(payout_id=payout.pk, staff=finance, bank_reference="BANK-1")

    assert ledger.balance_of(payee.pk, AccountKind.PENDING_PAYOUT) == 0
    assert ledger.platform_balance(AccountKind.PAYOUT_CLEARING) == 20_000
    assert ledger.balance_of(payee.pk, AccountKind.EARNINGS) == 980_000
    assert list(AuditLog.objects.filter(object_id=payout.pk).values_list("action", flat=True).order_by("id")) == [
        "payout.requested", "payout.approved", "payout.paid"]
    books_balance()


def test_failed_payout_returns_the_funds_by_a_reversing_entry(payee, finance, books_balance):
    payout = services.payout_request(user=payee, amount_piastres=20_000, idempotency_key="x")
    services.payout_approve(payout_id=payout.pk, staff=finance)
    services.payouts_export_batch(staff=finance)

    services.payout_mark_failed(payout_id=payout.pk, staff=finance, reason="wallet closed")

    payout.refresh_from_db()
    assert payout.status == "failed"
    assert ledger.balance_of(payee.pk, AccountKind.EARNINGS) == 1_000_000
    assert ledger.balance_of(payee.pk, AccountKind.PENDING_PAYOUT) == 0
    assert Transfer.objects.get(pk=payout.send_transfer_id).status == "voided"
    assert Transfer.objects.get(reverses=payout.request_transfer).kind == "reversal"
    with pytest.raises(Conflict):
        services.payout_mark_paid(payout_id=payout.pk, staff=finance)
    books_balance()


def test_rejected_payout_returns_the_funds(payee, finance, books_balance):
    payout = services.payout_request(user=payee, amount_piastres=20_000, idempotency_key="x")

    services.payout_reject(payout_id=payout.pk, staff=finance, reason="identity mismatch")

    assert ledger.balance_of(payee.pk, AccountKind.EARNINGS) == 1_000_000
    assert AuditLog.objects.filter(action="payout.rejected", actor=finance).count() == 1
    books_balance()


def test_money_records_stay_anonymised_when_the_account_is_purged(payee, finance, books_balance):
    payout = services.payout_request(user=payee, amount_piastres=20_000, idempotency_key="x")
    user_id = payee.pk

    services.user_money_records_anonymise(payee)
    # What deleting the user row does to wallet rows (every FK to the user is SET NULL,
    # except the creator's own tiers and payout profile, which go): simulated here so the
    # test does not depend on every other app's tables.
    from django.db import models as dj

    from wallet.models import Account, Gift, Payment, Subscription

    for model, field in ((Account, "owner"), (Payout, "user"), (Payment, "user"), (Gift, "sender"),
                         (Gift, "creator"), (Subscription, "subscriber"), (Subscription, "creator")):
        assert model._meta.get_field(field).remote_field.on_delete is dj.SET_NULL
        model.objects.filter(**{field: payee}).update(**{field: None})

    payout.refresh_from_db()
    assert (payout.user_id, payout.full_name, payout.destination) == (None, "(deleted user)", "•••••••••4567")
    assert ledger.Account.objects.filter(owner_id=user_id).exists() is False
    assert ledger.Account.objects.filter(anonymised_at__isnull=False, kind="pending_payout").get().balance == 20_000
    books_balance()
