"""The finance admin: pages render, actions call the services (maker-checker included)."""

import pytest
from django.test import Client

from wallet import services
from wallet.models import Payment, Payout
from wallet.tests.conftest import grant_coins
from wallet.tests.test_payouts import earn

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(finance):
    finance.is_superuser = True
    finance.save(update_fields=["is_superuser"])
    client = Client()
    client.force_login(finance)
    return client


@pytest.mark.parametrize("model", ["account", "entry", "transfer", "payment", "paymentevent", "payout", "payoutbatch",
                                   "reconciliationrun", "auditlog", "subscription", "subscriptiontier"])
def test_changelists_render(admin_client, fan, model):
    grant_coins(fan, 10)
    assert admin_client.get(f"/admin/wallet/{model}/").status_code == 200


def test_sandbox_admin_action_confirms_a_payment(admin_client, fan):
    payment = services.coin_purchase_start(user=fan, package_code="coins_100", method="card", idempotency_key="a")

    response = admin_client.post("/admin/wallet/payment/", {"action": "sandbox_paid", "_selected_action": [payment.pk]})

    assert response.status_code == 302
    assert Payment.objects.get(pk=payment.pk).status == "paid"


def test_payout_queue_approve_and_export_csv(admin_client, creator):
    services.payout_profile_set(user=creator, full_name="Mona Ahmed", national_id="29001010100015",
                                destination_type="wallet", destination="01001234567")
    earn(creator, 100_000)
    payout = services.payout_request(user=creator, amount_piastres=20_000, idempotency_key="p")

    admin_client.post("/admin/wallet/payout/", {"action": "approve", "_selected_action": [payout.pk]})
    export = admin_client.post("/admin/wallet/payout/", {"action": "export_batch", "_selected_action": [payout.pk]})

    assert export["Content-Type"] == "text/csv"
    assert f"{payout.pk},200.00,Mona Ahmed,wallet,+201001234567" in export.content.decode()
    assert Payout.objects.get(pk=payout.pk).status == "exported"


def test_reconciliation_upload_in_the_admin(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("s.csv", b"merchant_reference,provider_reference,amount,status,settled_at\n"
                                         b"123,F1,10.00,PAID,2026-11-01T10:00:00+02:00\n")
    response = admin_client.post("/admin/wallet/reconciliationrun/add/", {"provider": "fawry", "file": upload})

    assert response.status_code == 302
    from wallet.models import ReconciliationRun

    run = ReconciliationRun.objects.get()
    assert list(run.mismatches.values_list("kind", flat=True)) == ["unknown_payment"]
