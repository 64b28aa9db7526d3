"""OTP delivery gateways: flash call → WhatsApp → SMS, with a console gateway for development.

Each gateway is a class with one method, `deliver(phone, code)`, which raises
GatewayError when the provider fails, answers with an error status, or times out; the
chain then falls back to the next gateway. Real gateways speak HTTP through httpx and are
switched on by their environment variables (daira/settings.py, "Accounts" section). With
none configured, the console gateway logs the code (the development default).

Tests fake the providers at the HTTP boundary by setting `TRANSPORT` (an
`httpx.MockTransport`); nothing above the HTTP client is replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

# None in production (a normal network transport); tests set an httpx.MockTransport here.
TRANSPORT: httpx.BaseTransport | None = None


class GatewayError(Exception):
    """The provider did not accept the message (error status, bad answer, timeout, network)."""


class OtpGateway:
    channel: str = ""

    def deliver(self, phone: str, code: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=settings.DAIRA_OTP_GATEWAY_TIMEOUT_S, transport=TRANSPORT)

    def _post(self, url: str, **kwargs) -> httpx.Response:
        try:
            with self._client() as client:
                response = client.post(url, **kwargs)
        except httpx.HTTPError as exc:  # timeouts, refused connections, protocol errors
            raise GatewayError(f"{self.channel}: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise GatewayError(f"{self.channel}: HTTP {response.status_code}")
        return response


class ConsoleGateway(OtpGateway):
    """Development delivery: the code goes to the log (never use in production)."""

    channel = "console"

    def deliver(self, phone: str, code: str) -> None:
        logger.warning("otp.console_delivery phone=%s code=%s", phone, code)


class FlashCallGateway(OtpGateway):
    """A missed call whose caller id ends with the code (CEQUENS-style flash call API).

    The app reads the incoming caller id (Android call log permission) and sends its
    digits back; verification compares the last digits with the code. Configured by
    DAIRA_FLASHCALL_URL / DAIRA_FLASHCALL_TOKEN / DAIRA_FLASHCALL_CLI_PREFIX."""

    channel = "flash_call"

    def deliver(self, phone: str, code: str) -> None:
        self._post(
            settings.DAIRA_FLASHCALL_URL,
            headers={"Authorization": f"Bearer {settings.DAIRA_FLASHCALL_TOKEN}"},
            json={"to": phone, "cli": f"{settings.DAIRA_FLASHCALL_CLI_PREFIX}{code}", "ring_seconds": 2},
        )


class WhatsAppGateway(OtpGateway):
    """WhatsApp Business Cloud API: an authentication template with the code (body + copy button)."""

    channel = "whatsapp"

    def deliver(self, phone: str, code: str) -> None:
        url = (
            f"{settings.DAIRA_WHATSAPP_API_BASE}/{settings.DAIRA_WHATSAPP_PHONE_NUMBER_ID}/messages"
        )
        response = self._post(
            url,
            headers={"Authorization": f"Bearer {settings.DAIRA_WHATSAPP_TOKEN}"},
            json={
                "messaging_product": "whatsapp",
                "to": phone.lstrip("+"),
                "type": "template",
                "template": {
                    "name": settings.DAIRA_WHATSAPP_TEMPLATE,
                    "language": {"code": settings.DAIRA_WHATSAPP_LANGUAGE},
                    "components": [
                        {"type": "body", "parameters": [{"type": "text", "text": code}]},
                        {"type": "button", "sub_type": "url", "index": "0",
                         "parameters": [{"type": "text", "text": code}]},
                    ],
                },
            },
        )
        try:
            accepted = bool(response.json().get("messages"))
        except ValueError:
            accepted = False
        if not accepted:  # 200 without a message id: the number is not on WhatsApp
            raise GatewayError("whatsapp: message not accepted")


class SmsGateway(OtpGateway):
    """SMS through Twilio's Messages API (any Twilio-compatible endpoint via DAIRA_SMS_API_BASE)."""

    channel = "sms"

    def deliver(self, phone: str, code: str) -> None:
        url = f"{settings.DAIRA_SMS_API_BASE}/2010-04-01/Accounts/{settings.DAIRA_SMS_ACCOUNT_SID}/Messages.json"
        self._post(
            url,
            auth=(settings.DAIRA_SMS_ACCOUNT_SID, settings.DAIRA_SMS_AUTH_TOKEN),
            data={"To": phone, "From": settings.DAIRA_SMS_FROM,
                  "Body": f"DAIRA: {code} رمز التحقق الخاص بك. Your verification code is {code}."},
        )


def delivery_chain() -> list[OtpGateway]:
    """The configured gateways in fallback order; the console one when none is configured."""
    chain: list[OtpGateway] = []
    for channel in settings.DAIRA_OTP_CHANNELS:
        if channel == "flash_call" and settings.DAIRA_FLASHCALL_URL:
            chain.append(FlashCallGateway())
        elif channel == "whatsapp" and settings.DAIRA_WHATSAPP_TOKEN:
            chain.append(WhatsAppGateway())
        elif channel == "sms" and settings.DAIRA_SMS_ACCOUNT_SID:
            chain.append(SmsGateway())
    return chain or [ConsoleGateway()]


def deliver_with_fallback(phone: str, code: str, chain: Sequence[OtpGateway] | None = None) -> str:
    """Try each gateway in order; return the channel that accepted. Raises GatewayError if all fail."""
    failures = []
    for gateway in chain if chain is not None else delivery_chain():
        try:
            gateway.deliver(phone, code)
        except GatewayError as exc:
            logger.warning("otp.gateway_failed", extra={"channel": gateway.channel, "reason": str(exc)})
            failures.append(str(exc))
            continue
        return gateway.channel
    raise GatewayError("; ".join(failures) or "no gateway")
