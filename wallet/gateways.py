"""Payment provider gateways: one class per provider, each with a real HTTP implementation
written against the provider's documented API, and a sandbox used by default.

A gateway turns a Payment into a checkout (a Fawry reference code, a wallet/InstaPay
redirect, a card iframe), verifies and parses callbacks (raising SignatureInvalid), asks
the provider for a payment's status (for the stuck-payment reconciler) and refunds.
Services never talk HTTP themselves. Tests fake the providers at the HTTP boundary with
httpx.MockTransport (pass `client=`).

Statuses coming back are mapped onto ours: pending | paid | failed | expired | refunded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from daira.lib.errors import NotFound, ServiceUnavailable

logger = logging.getLogger(__name__)
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class SignatureInvalid(Exception):
    """The callback's signature does not verify (or it is unreadable)."""


class ProviderError(ServiceUnavailable):
    default_code = "provider_error"


@dataclass
class Checkout:
    provider_reference: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProviderUpdate:
    merchant_reference: str  # our Payment id
    status: str  # pending | paid | failed | expired | refunded
    provider_reference: str = ""
    amount_piastres: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def piastres_to_egp(amount: int) -> str:
    """"15.00" for 1500: providers take decimal strings with two places."""
    return f"{Decimal(amount) / 100:.2f}"


def egp_to_piastres(value: Any) -> int:
    amount = Decimal(str(value)) * 100
    if amount != amount.to_integral_value():
        raise ValueError(f"{value!r} has fractions of a piastre")
    return int(amount)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Gateway:
    name = ""
    configured_by: tuple[str, ...] = ()

    def __init__(self, *, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(timeout=TIMEOUT)

    def is_configured(self) -> bool:
        return True

    def _require_configured(self) -> None:
        if not self.is_configured():
            raise ProviderError(f"The {self.name} provider is not configured.", code="provider_not_configured")

    def create_payment(self, payment, *, phone: str = "") -> Checkout:
        raise NotImplementedError

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> ProviderUpdate:
        raise NotImplementedError

    def fetch_status(self, payment) -> ProviderUpdate | None:
        raise NotImplementedError

    def refund(self, payment) -> None:
        raise NotImplementedError

    def _post(self, url: str, payload: dict) -> dict:
        try:
            response = self.client.post(url, json=payload)
        except httpx.HTTPError as exc:
            logger.warning("wallet.provider_unreachable", extra={"provider": self.name, "url": url})
            raise ProviderError(f"{self.name} could not be reached.") from exc
        if response.status_code >= 400:
            logger.warning("wallet.provider_error", extra={"provider": self.name, "status": response.status_code})
            raise ProviderError(f"{self.name} refused the request ({response.status_code}).")
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(f"{self.name} answered with something that is not JSON.") from exc


# --- Sandbox -----------------------------------------------------------------------------
class SandboxGateway(Gateway):
    """The default provider: every payment waits as pending until someone settles it
    (`manage.py wallet_sandbox`, or the "Sandbox: mark paid/failed" admin actions), which
    then delivers a signed callback through the same webhook path as a real provider.
    Signature: hex HMAC-SHA256 of the raw body with WALLET_SANDBOX_SECRET, in X-Sandbox-Signature."""

    name = "sandbox"
    SIGNATURE_HEADER = "X-Sandbox-Signature"

    def create_payment(self, payment, *, phone: str = "") -> Checkout:
        reference = f"SBX-{payment.pk}"
        return Checkout(
            provider_reference=reference,
            data={"type": "sandbox", "reference": reference, "instructions": "Settle it with manage.py wallet_sandbox."},
        )

    @staticmethod
    def sign(body: bytes) -> str:
        return hmac.new(settings.WALLET_SANDBOX_SECRET.encode(), body, hashlib.sha256).hexdigest()

    def callback(self, *, payment, status: str) -> tuple[bytes, dict[str, str]]:
        """The body and headers the sandbox provider sends for `payment` reaching `status`."""
        body = json.dumps(
            {"merchant_reference": str(payment.pk), "reference": f"SBX-{payment.pk}", "status": status,
             "amount_piastres": payment.amount_piastres, "sent_at": timezone.now().isoformat()},
            sort_keys=True,
        ).encode()
        return body, {self.SIGNATURE_HEADER: self.sign(body)}

    def parse_webhook(self, *, body, headers, query) -> ProviderUpdate:
        signature = _header(headers, self.SIGNATURE_HEADER)
        if not signature or not hmac.compare_digest(signature, self.sign(body)):
            raise SignatureInvalid("bad sandbox signature")
        try:
            data = json.loads(body)
            return ProviderUpdate(
                merchant_reference=str(data["merchant_reference"]), status=str(data["status"]),
                provider_reference=str(data.get("reference", "")), amount_piastres=int(data["amount_piastres"]), raw=data,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SignatureInvalid("unreadable sandbox body") from exc

    def fetch_status(self, payment) -> ProviderUpdate | None:
        return None  # the sandbox only speaks when settled

    def refund(self, payment) -> None:
        return None


# --- Fawry ---------------------------------------------------------------------------------
class FawryGateway(Gateway):
    """FawryPay "Pay at Fawry" reference codes (the customer pays cash at any Fawry outlet or
    in the Fawry/bank apps with the code).

    API (FawryPay developer docs): charge POST /ECommerceWeb/Fawry/payments/charge with
    signature = SHA-256(merchantCode + merchantRefNum + customerProfileId + paymentMethod +
    amount + secureKey); status GET /ECommerceWeb/Fawry/payments/status/v2 with signature =
    SHA-256(merchantCode + merchantRefNumber + secureKey); refund POST
    /ECommerceWeb/Fawry/payments/refund with SHA-256(merchantCode + referenceNumber +
    refundAmount + reason + secureKey); the V2 server notification carries messageSignature =
    SHA-256(fawryRefNumber + merchantRefNumber + paymentAmount + orderAmount + orderStatus +
    paymentMethod + paymentRefrenceNumber + secureKey), amounts with two decimals."""

    name = "fawry"
    STATUS = {"NEW": "pending", "UNPAID": "pending", "PAID": "paid", "CANCELED": "failed", "CANCELLED": "failed",
              "FAILED": "failed", "EXPIRED": "expired", "REFUNDED": "refunded"}

    def __init__(self, *, client: httpx.Client | None = None, config: Mapping[str, str] | None = None) -> None:
        super().__init__(client=client)
        self.config = dict(config or settings.WALLET_FAWRY)

    def is_configured(self) -> bool:
        return bool(self.config.get("merchant_code") and self.config.get("secure_key"))

    @property
    def base(self) -> str:
        return self.config["base_url"].rstrip("/")

    def create_payment(self, payment, *, phone: str = "") -> Checkout:
        self._require_configured()
        code, key = self.config["merchant_code"], self.config["secure_key"]
        amount = piastres_to_egp(payment.amount_piastres)
        profile = str(payment.user_id or "")
        method = "PAYATFAWRY"
        expiry_ms = int((timezone.now().timestamp() + settings.WALLET_PAYMENT_EXPIRY_MINUTES * 60) * 1000)
        payload = {
            "merchantCode": code, "merchantRefNum": str(payment.pk), "customerProfileId": profile,
            "customerMobile": phone.replace("+20", "0") if phone else "", "paymentMethod": method,
            "amount": amount, "currencyCode": "EGP", "description": f"DAIRA {payment.purpose}",
            "paymentExpiry": expiry_ms, "language": "ar-eg",
            "chargeItems": [{"itemId": payment.package_code or payment.purpose, "description": payment.purpose,
                             "price": amount, "quantity": 1}],
            "signature": _sha256(code + str(payment.pk) + profile + method + amount + key),
        }
        data = self._post(f"{self.base}/ECommerceWeb/Fawry/payments/charge", payload)
        if int(data.get("statusCode", 0)) != 200 or not data.get("referenceNumber"):
            raise ProviderError(f"Fawry refused the charge: {data.get('statusDescription', 'unknown error')}")
        reference = str(data["referenceNumber"])
        return Checkout(provider_reference=reference, data={"type": "fawry_reference", "reference_number": reference,
                                                           "expires_at_ms": expiry_ms})

    def _update(self, data: Mapping[str, Any]) -> ProviderUpdate:
        status = self.STATUS.get(str(data.get("orderStatus", "")).upper(), "pending")
        amount = data.get("paymentAmount", data.get("orderAmount"))
        return ProviderUpdate(
            merchant_reference=str(data.get("merchantRefNumber") or data.get("merchantRefNum") or ""),
            status=status, provider_reference=str(data.get("fawryRefNumber", "")),
            amount_piastres=egp_to_piastres(amount) if amount not in (None, "") else None, raw=dict(data),
        )

    def parse_webhook(self, *, body, headers, query) -> ProviderUpdate:
        if not self.is_configured():
            raise SignatureInvalid("fawry is not configured")
        try:
            data = json.loads(body)
            fields = [
                str(data["fawryRefNumber"]), str(data["merchantRefNumber"]),
                f"{Decimal(str(data['paymentAmount'])):.2f}", f"{Decimal(str(data['orderAmount'])):.2f}",
                str(data["orderStatus"]), str(data["paymentMethod"]), str(data.get("paymentRefrenceNumber") or ""),
            ]
            expected = _sha256("".join(fields) + self.config["secure_key"])
            signature = str(data["messageSignature"])
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            raise SignatureInvalid("unreadable fawry notification") from exc
        if not hmac.compare_digest(signature.lower(), expected):
            raise SignatureInvalid("bad fawry signature")
        return self._update(data)

    def fetch_status(self, payment) -> ProviderUpdate | None:
        self._require_configured()
        code, key = self.config["merchant_code"], self.config["secure_key"]
        params = {"merchantCode": code, "merchantRefNumber": str(payment.pk),
                  "signature": _sha256(code + str(payment.pk) + key)}
        try:
            response = self.client.get(f"{self.base}/ECommerceWeb/Fawry/payments/status/v2", params=params)
            response.raise_for_status()
            return self._update(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderError("Fawry status could not be read.") from exc

    def refund(self, payment) -> None:
        self._require_configured()
        code, key = self.config["merchant_code"], self.config["secure_key"]
        amount, reason = piastres_to_egp(payment.amount_piastres), "refund"
        payload = {"merchantCode": code, "referenceNumber": payment.provider_reference, "refundAmount": amount,
                   "reason": reason, "signature": _sha256(code + payment.provider_reference + amount + reason + key)}
        data = self._post(f"{self.base}/ECommerceWeb/Fawry/payments/refund", payload)
        if int(data.get("statusCode", 0)) != 200:
            raise ProviderError(f"Fawry refused the refund: {data.get('statusDescription', 'unknown error')}")


# --- Paymob (mobile wallets, cards) and InstaPay through it -----------------------------------
class PaymobGateway(Gateway):
    """Paymob Accept, the aggregator for mobile wallets (Vodafone Cash, Orange Cash, Etisalat
    Cash, WE Pay) and cards.

    API (Paymob Accept docs): POST /api/auth/tokens {api_key} → token; POST
    /api/ecommerce/orders → order id; POST /api/acceptance/payment_keys → payment token;
    wallets: POST /api/acceptance/payments/pay {source: {identifier: phone, subtype: WALLET}}
    → redirect_url; cards: the iframe /api/acceptance/iframes/<iframe_id>?payment_token=…;
    status: POST /api/ecommerce/orders/transaction_inquiry {merchant_order_id}; refund: POST
    /api/acceptance/void_refund/refund. The "transaction processed" callback is verified
    with HMAC-SHA512 (the account's HMAC secret) over the concatenated values of
    HMAC_FIELDS in that order (booleans lower-case), sent as the `hmac` query parameter."""

    name = "paymob"
    integration_key = "wallet_integration_id"
    HMAC_FIELDS = (
        "amount_cents", "created_at", "currency", "error_occured", "has_parent_transaction", "id",
        "integration_id", "is_3d_secure", "is_auth", "is_capture", "is_refunded", "is_standalone_payment",
        "is_voided", "order.id", "owner", "pending", "source_data.pan", "source_data.sub_type",
        "source_data.type", "success",
    )

    def __init__(self, *, client: httpx.Client | None = None, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(client=client)
        self.config = dict(config or settings.WALLET_PAYMOB)

    def is_configured(self) -> bool:
        return bool(self.config.get("api_key") and self.config.get("hmac_secret"))

    @property
    def base(self) -> str:
        return self.config["base_url"].rstrip("/")

    def _token(self) -> str:
        data = self._post(f"{self.base}/api/auth/tokens", {"api_key": self.config["api_key"]})
        if not data.get("token"):
            raise ProviderError("Paymob did not issue an auth token.")
        return str(data["token"])

    def _integration_id(self, payment) -> int:
        key = "card_integration_id" if payment.method == "card" else self.integration_key
        return int(self.config.get(key) or 0)

    def create_payment(self, payment, *, phone: str = "") -> Checkout:
        self._require_configured()
        token = self._token()
        order = self._post(f"{self.base}/api/ecommerce/orders", {
            "auth_token": token, "delivery_needed": False, "amount_cents": payment.amount_piastres,
            "currency": "EGP", "merchant_order_id": str(payment.pk), "items": [],
        })
        local_phone = phone.replace("+20", "0") if phone else "NA"
        key = self._post(f"{self.base}/api/acceptance/payment_keys", {
            "auth_token": token, "amount_cents": payment.amount_piastres, "expiration": 3600,
            "order_id": order["id"], "currency": "EGP", "integration_id": self._integration_id(payment),
            "billing_data": {"first_name": "DAIRA", "last_name": "user", "email": "NA", "phone_number": local_phone,
                             "apartment": "NA", "floor": "NA", "street": "NA", "building": "NA", "city": "NA",
                             "country": "EG", "state": "NA", "postal_code": "NA", "shipping_method": "NA"},
        })
        payment_token = str(key["token"])
        if payment.method == "card":
            url = f"{self.base}/api/acceptance/iframes/{self.config.get('iframe_id')}?payment_token={payment_token}"
            return Checkout(provider_reference=str(order["id"]), data={"type": "redirect", "url": url})
        if not phone:
            raise ProviderError("A mobile number is needed to pay with a wallet.", code="phone_required")
        paid = self._post(f"{self.base}/api/acceptance/payments/pay", {
            "source": {"identifier": local_phone, "subtype": "WALLET"}, "payment_token": payment_token,
        })
        url = paid.get("redirect_url") or paid.get("iframe_redirection_url") or ""
        return Checkout(provider_reference=str(order["id"]), data={"type": "redirect", "url": url})

    @classmethod
    def hmac_message(cls, obj: Mapping[str, Any]) -> str:
        parts = []
        for dotted in cls.HMAC_FIELDS:
            value: Any = obj
            for part in dotted.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            if isinstance(value, bool):
                value = "true" if value else "false"
            parts.append("" if value is None else str(value))
        return "".join(parts)

    def _update(self, obj: Mapping[str, Any]) -> ProviderUpdate:
        if obj.get("is_refunded") or obj.get("is_voided"):
            status = "refunded"
        elif obj.get("pending"):
            status = "pending"
        elif obj.get("success"):
            status = "paid"
        else:
            status = "failed"
        order = obj.get("order") or {}
        return ProviderUpdate(
            merchant_reference=str(order.get("merchant_order_id") or obj.get("merchant_order_id") or ""),
            status=status, provider_reference=str(obj.get("id", "")),
            amount_piastres=int(obj["amount_cents"]) if obj.get("amount_cents") is not None else None, raw=dict(obj),
        )

    def parse_webhook(self, *, body, headers, query) -> ProviderUpdate:
        if not self.is_configured():
            raise SignatureInvalid("paymob is not configured")
        try:
            obj = json.loads(body)["obj"]
            message = self.hmac_message(obj)
        except (ValueError, KeyError, TypeError) as exc:
            raise SignatureInvalid("unreadable paymob callback") from exc
        expected = hmac.new(self.config["hmac_secret"].encode(), message.encode(), hashlib.sha512).hexdigest()
        if not hmac.compare_digest(str(query.get("hmac", "")).lower(), expected):
            raise SignatureInvalid("bad paymob hmac")
        return self._update(obj)

    def fetch_status(self, payment) -> ProviderUpdate | None:
        self._require_configured()
        data = self._post(f"{self.base}/api/ecommerce/orders/transaction_inquiry",
                          {"auth_token": self._token(), "merchant_order_id": str(payment.pk)})
        return self._update(data)

    def refund(self, payment) -> None:
        self._require_configured()
        self._post(f"{self.base}/api/acceptance/void_refund/refund", {
            "auth_token": self._token(), "transaction_id": payment.provider_reference,
            "amount_cents": payment.amount_piastres,
        })


class InstaPayGateway(PaymobGateway):
    """InstaPay collections through the aggregator: the same Paymob API with the InstaPay
    integration id (the customer approves the request-to-pay in their bank's InstaPay app)."""

    name = "instapay"
    integration_key = "instapay_integration_id"

    def is_configured(self) -> bool:
        return super().is_configured() and bool(self.config.get("instapay_integration_id"))


GATEWAYS: dict[str, type[Gateway]] = {
    "sandbox": SandboxGateway, "fawry": FawryGateway, "paymob": PaymobGateway, "instapay": InstaPayGateway,
}
METHOD_PROVIDERS = {"fawry": "fawry", "wallet": "paymob", "card": "paymob", "instapay": "instapay"}
_overrides: dict[str, Gateway] = {}


def get_gateway(name: str) -> Gateway:
    """The gateway for provider `name` (NotFound for unknown names). Tests may `install()` one."""
    if name in _overrides:
        return _overrides[name]
    if name not in GATEWAYS or (name == "sandbox" and not settings.WALLET_SANDBOX_ENABLED):
        raise NotFound("Unknown payment provider.")
    return GATEWAYS[name]()


def install(name: str, gateway: Gateway | None) -> None:
    """Use `gateway` for provider `name` (None restores the default): for tests and the bench."""
    if gateway is None:
        _overrides.pop(name, None)
    else:
        _overrides[name] = gateway


def provider_for(method: str) -> str:
    """Which provider takes `method`: the sandbox unless WALLET_DEFAULT_PROVIDER says "live"."""
    if settings.WALLET_DEFAULT_PROVIDER == "sandbox":
        return "sandbox"
    return METHOD_PROVIDERS[method]


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""
