"""Reconciliation of a provider settlement file against our payments."""

from datetime import timedelta

import pytest
from django.utils import timezone

from daira.lib.errors import Invalid, PermissionDenied
from wallet import services
from wallet.models import Payment

pytestmark = pytest.mark.django_db


def _paid(user, key, amount=1500, hours_ago=1):
    payment = Payment.objects.create(user=user, provider="fawry", method="fawry", purpose="coins", coins=100,
                                     amount_piastres=amount, status="paid", idempotency_key=key,
                                     paid_at=timezone.now() - timedelta(hours=hours_ago))
    return payment


def test_settlement_mismatches_are_listed(fan, finance):
    # given: four paid payments and one still pending
    ok, wrong_amount, missing, _outside = (_paid(fan, f"k{i}", hours_ago=h) for i, h in enumerate((3, 3, 2, 48)))
    pending = Payment.objects.create(user=fan, provider="fawry", method="fawry", purpose="coins", coins=100,
                                     amount_piastres=1500, status="pending", idempotency_key="kp")
    at = (timezone.now() - timedelta(hours=4)).isoformat()
    end = timezone.now().isoformat()
    csv_text = "\n".join([
        "merchant_reference,provider_reference,amount,status,settled_at",
        f"{ok.pk},F1,15.00,PAID,{at}",
        f"{wrong_amount.pk},F2,14.50,PAID,{at}",
        f"{pending.pk},F3,15.00,PAID,{end}",
        "999,F4,20.00,PAID," + at,
        "abc,F5,not-money,PAID," + at,
    ])

    # when
    run = services.reconciliation_import(provider="fawry", csv_text=csv_text, staff=finance, filename="fawry.csv")

    # then
    found = sorted((m.kind, m.reference, m.ledger_amount, m.settlement_amount) for m in run.mismatches.all())
    assert found == sorted([
        ("amount", str(wrong_amount.pk), 1500, 1450),
        ("status", str(pending.pk), 1500, 1500),
        ("unknown_payment", "999", None, 2000),
        ("bad_line", "abc", None, None),
        ("missing", str(missing.pk), 1500, None),
    ])
    assert (run.lines, run.matched) == (5, 1)


def test_settlement_file_without_the_columns_is_refused(finance):
    with pytest.raises(Invalid):
        services.reconciliation_import(provider="fawry", csv_text="a,b\n1,2\n", staff=finance)


def test_only_finance_staff_reconcile(fan):
    with pytest.raises(PermissionDenied):
        services.reconciliation_import(provider="fawry", csv_text="", staff=fan)
