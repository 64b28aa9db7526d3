"""Coin purchases, provider callbacks (signature, replay, out of order), refunds, stuck payments."""

import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from daira.lib.errors import Invalid
from wallet import gateways, ledger, services
from wallet.models import AccountKind, Payment, PaymentEvent

pytestmark = pytest.mark.django_db


def _buy(user, package="coins_100", key="buy-1"):
    return services.coin_purchase_start(user=user, package_code=package, method="wallet", idempotency_key=key)


def test_purchase_is_pending_and_credits_nothing_until_confirmed(fan):
    payment = _buy(fan)

    assert (payment.status, payment.provider, payment.amount_piastres, payment.coins) == ("pending", "sandbox", 1500, 100)
    assert payment.checkout["reference"] == f"SBX-{payment.pk}"
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 0


def test_purchase_with_the_same_key_returns_the_same_payment(fan):
    assert _buy(fan).pk == _buy(fan).pk
    assert Payment.objects.count() == 1


def test_unknown_package_is_invalid(fan):
    with pytest.raises(Invalid):
        _buy(fan, package="coins_999999")
    assert Payment.objects.exists() is False


def test_confirmed_callback_credits_coins_once_even_when_replayed(fan, books_balance):
    payment = _buy(fan)
    body, headers = gateways.SandboxGateway().callback(payment=payment, status="paid")

    first = services.payment_webhook_handle(provider="sandbox", body=body, headers=headers, query={})
    replay = services.payment_webhook_handle(provider="sandbox", body=body, headers=headers, query={})

    assert (first.outcome, replay.outcome) == ("applied", "duplicate")
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 100
    assert ledger.platform_balance(AccountKind.PROVIDER_CLEARING, provider="sandbox") == -1500
    assert Payment.objects.get(pk=payment.pk).status == "paid"
    books_balance()


def test_late_pending_after_paid_changes_nothing(fan, books_balance):
    payment = _buy(fan)
    services.sandbox_settle(payment=payment, outcome="paid")

    late = services.sandbox_settle(payment=payment, outcome="pending")
    failed_after = services.sandbox_settle(payment=payment, outcome="failed")

    assert (late.outcome, failed_after.outcome) == ("ignored", "ignored")
    assert Payment.objects.get(pk=payment.pk).status == "paid"
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 100
    books_balance()


def test_failed_payment_credits_nothing_and_a_late_paid_is_ignored(fan):
    payment = _buy(fan)
    services.sandbox_settle(payment=payment, outcome="failed")

    late = services.sandbox_settle(payment=payment, outcome="paid")

    assert late.outcome == "ignored"
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 0


def test_bad_signature_is_rejected_logged_and_changes_nothing(fan):
    payment = _buy(fan)
    body, _ = gateways.SandboxGateway().callback(payment=payment, status="paid")

    with pytest.raises(Invalid) as rejected:
        services.payment_webhook_handle(provider="sandbox", body=body, headers={"X-Sandbox-Signature": "0" * 64}, query={})

    assert rejected.value.code == "bad_signature"
    assert Payment.objects.get(pk=payment.pk).status == "pending"
    assert list(PaymentEvent.objects.values_list("signature_valid", "outcome")) == [(False, "rejected")]


def test_webhook_endpoint_answers_400_on_bad_signature_and_200_when_valid(fan, api_client):
    payment = _buy(fan)
    body, headers = gateways.SandboxGateway().callback(payment=payment, status="paid")

    bad = api_client.post("/api/v1/wallet/webhooks/sandbox", body, content_type="application/json",
                          HTTP_X_SANDBOX_SIGNATURE="deadbeef")
    good = api_client.post("/api/v1/wallet/webhooks/sandbox", body, content_type="application/json",
                           HTTP_X_SANDBOX_SIGNATURE=headers["X-Sandbox-Signature"])

    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_signature")
    assert (good.status_code, good.json()) == (200, {"outcome": "applied"})
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 100


def test_callback_with_another_amount_is_refused(fan):
    payment = _buy(fan)
    body = json.dumps({"merchant_reference": str(payment.pk), "status": "paid", "amount_piastres": 1}).encode()

    event = services.payment_webhook_handle(provider="sandbox", body=body,
                                            headers={"X-Sandbox-Signature": gateways.SandboxGateway.sign(body)}, query={})

    assert event.outcome == "amount_mismatch"
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 0


def test_refund_after_coins_were_spent_goes_negative_only_on_the_platform(fan, creator, books_balance):
    # given: 100 coins bought for EGP 15, then 60 spent on a tip
    payment = _buy(fan)
    services.sandbox_settle(payment=payment, outcome="paid")
    services.tip_send(sender=fan, creator_id=creator.pk, coins=60, idempotency_key="spend")
    earnings = ledger.balance_of(creator.pk, AccountKind.EARNINGS)

    # when: the payer charges it back
    event = services.sandbox_settle(payment=payment, outcome="refunded")

    # then: the 40 coins left are taken back, the creator keeps the earnings, the platform absorbs 60%
    assert event.outcome == "applied"
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 0
    assert ledger.balance_of(creator.pk, AccountKind.EARNINGS) == earnings
    assert ledger.platform_balance(AccountKind.REFUNDS) == -900
    assert ledger.platform_balance(AccountKind.PROVIDER_CLEARING, provider="sandbox") == 0
    assert Payment.objects.get(pk=payment.pk).refunded_coins_recovered == 40
    books_balance()


class FakeFawry:
    """Fawry's status API over httpx.MockTransport."""

    def __init__(self, status="PAID", amount="15.00"):
        self.status, self.amount, self.requests = status, amount, []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/payments/charge"):
            return httpx.Response(200, json={"statusCode": 200, "referenceNumber": "963455678"})
        ref = request.url.params["merchantRefNumber"]
        return httpx.Response(200, json={"merchantRefNumber": ref, "fawryRefNumber": "963455678",
                                         "orderStatus": self.status, "paymentAmount": self.amount})


FAWRY_CONFIG = {"base_url": "https://fawry.test", "merchant_code": "MC1", "secure_key": "sk1"}


def _fawry(fake):
    return gateways.FawryGateway(client=httpx.Client(transport=httpx.MockTransport(fake.handler)), config=FAWRY_CONFIG)


def test_fawry_charge_is_signed_as_documented():
    fake = FakeFawry()
    gateway = _fawry(fake)
    payment = Payment(pk=42, user_id=7, provider="fawry", method="fawry", purpose="coins", package_code="coins_100",
                      coins=100, amount_piastres=1500, idempotency_key="k")

    checkout = gateway.create_payment(payment, phone="+201001234567")

    sent = json.loads(fake.requests[0].content)
    assert checkout.provider_reference == "963455678"
    assert sent["signature"] == hashlib.sha256(b"MC1" + b"42" + b"7" + b"PAYATFAWRY" + b"15.00" + b"sk1").hexdigest()
    assert (sent["amount"], sent["customerMobile"]) == ("15.00", "01001234567")


def _fawry_notification(payment_id, status="PAID", key="sk1"):
    data = {"requestId": "r1", "fawryRefNumber": "963455678", "merchantRefNumber": str(payment_id),
            "paymentAmount": 15.0, "orderAmount": 15.0, "orderStatus": status, "paymentMethod": "PAYATFAWRY",
            "paymentRefrenceNumber": "12345"}
    text = "963455678" + str(payment_id) + "15.00" + "15.00" + status + "PAYATFAWRY" + "12345" + key
    data["messageSignature"] = hashlib.sha256(text.encode()).hexdigest()
    return json.dumps(data).encode()


def test_fawry_notification_signature_is_verified():
    gateway = gateways.FawryGateway(config=FAWRY_CONFIG)

    update = gateway.parse_webhook(body=_fawry_notification(42), headers={}, query={})

    assert (update.merchant_reference, update.status, update.amount_piastres) == ("42", "paid", 1500)
    with pytest.raises(gateways.SignatureInvalid):
        gateway.parse_webhook(body=_fawry_notification(42, key="wrong"), headers={}, query={})


def _paymob_callback(secret, obj):
    message = gateways.PaymobGateway.hmac_message(obj)
    return json.dumps({"type": "TRANSACTION", "obj": obj}).encode(), hmac.new(secret.encode(), message.encode(), hashlib.sha512).hexdigest()


PAYMOB_OBJ = {
    "amount_cents": 1500, "created_at": "2026-11-23T10:00:00", "currency": "EGP", "error_occured": False,
    "has_parent_transaction": False, "id": 9911, "integration_id": 55, "is_3d_secure": False, "is_auth": False,
    "is_capture": False, "is_refunded": False, "is_standalone_payment": True, "is_voided": False,
    "order": {"id": 777, "merchant_order_id": "42"}, "owner": 1, "pending": False,
    "source_data": {"pan": "01001234567", "sub_type": "WALLET", "type": "wallet"}, "success": True,
}


def test_paymob_callback_hmac_is_verified():
    gateway = gateways.PaymobGateway(config={"base_url": "https://paymob.test", "api_key": "a", "hmac_secret": "hs"})
    body, signature = _paymob_callback("hs", PAYMOB_OBJ)

    update = gateway.parse_webhook(body=body, headers={}, query={"hmac": signature})

    assert (update.merchant_reference, update.status, update.amount_piastres, update.provider_reference) == ("42", "paid", 1500, "9911")
    with pytest.raises(gateways.SignatureInvalid):
        gateway.parse_webhook(body=body.replace(b"1500", b"1"), headers={}, query={"hmac": signature})


def test_paymob_wallet_checkout_follows_the_documented_calls():
    calls = []

    def handler(request):
        calls.append(request.url.path)
        answers = {"/api/auth/tokens": {"token": "T"}, "/api/ecommerce/orders": {"id": 777},
                   "/api/acceptance/payment_keys": {"token": "PK"},
                   "/api/acceptance/payments/pay": {"redirect_url": "https://wallet.test/approve"}}
        return httpx.Response(200, json=answers[request.url.path])

    gateway = gateways.PaymobGateway(client=httpx.Client(transport=httpx.MockTransport(handler)),
                                     config={"base_url": "https://paymob.test", "api_key": "a", "hmac_secret": "hs",
                                             "wallet_integration_id": 55})
    payment = Payment(pk=42, method="wallet", purpose="coins", amount_piastres=1500)

    checkout = gateway.create_payment(payment, phone="+201001234567")

    assert calls == ["/api/auth/tokens", "/api/ecommerce/orders", "/api/acceptance/payment_keys", "/api/acceptance/payments/pay"]
    assert (checkout.provider_reference, checkout.data["url"]) == ("777", "https://wallet.test/approve")


def test_unconfigured_live_provider_refuses_clearly(fan, settings):
    settings.WALLET_DEFAULT_PROVIDER = "live"
    settings.WALLET_FAWRY = {"base_url": "https://fawry.test", "merchant_code": "", "secure_key": ""}

    with pytest.raises(gateways.ProviderError) as refused:
        services.coin_purchase_start(user=fan, package_code="coins_100", method="fawry", idempotency_key="f")

    assert refused.value.code == "provider_not_configured"
    assert Payment.objects.get().status == "failed"


def test_stale_pending_payments_are_reconciled_by_asking_the_provider(fan, books_balance):
    # given: a Fawry payment pending for an hour, which Fawry says is paid
    payment = Payment.objects.create(user=fan, provider="fawry", method="fawry", purpose="coins", package_code="coins_100",
                                     coins=100, amount_piastres=1500, status="pending", idempotency_key="p")
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(hours=1))
    gateways.install("fawry", _fawry(FakeFawry(status="PAID")))

    # when
    counts = services.payments_reconcile_stale()
    again = services.payments_reconcile_stale()

    # then
    assert counts == {"asked": 1, "applied": 1, "expired": 0}
    assert again == {"asked": 0, "applied": 0, "expired": 0}
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 100
    books_balance()


def test_abandoned_payments_expire(fan):
    payment = _buy(fan)
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(days=2))

    counts = services.payments_reconcile_stale()

    assert counts == {"asked": 1, "applied": 0, "expired": 1}
    assert Payment.objects.get(pk=payment.pk).status == "expired"


def test_sandbox_command_settles_pending_payments(fan):
    from django.core.management import call_command

    payment = _buy(fan)

    call_command("wallet_sandbox", "--pay-all")

    assert Payment.objects.get(pk=payment.pk).status == "paid"
    assert ledger.balance_of(fan.pk, AccountKind.COIN_BALANCE) == 100


def test_sandbox_gateway_is_refused_when_disabled(settings):
    # given: a production-like configuration where the sandbox is off
    from daira.lib.errors import NotFound
    from wallet import gateways

    settings.WALLET_SANDBOX_ENABLED = False

    # when / then: no sandbox callbacks or checkouts can be made
    with pytest.raises(NotFound):
        gateways.get_gateway("sandbox")
