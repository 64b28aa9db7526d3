"""Push gateways: FCM (through pyfcm) in production, a logging one in development.

`get_push_gateway()` picks FCM when FCM_PROJECT_ID and FCM_CREDENTIALS_FILE are set. FCM
HTTP v1 serves Android and iOS alike (APNs is behind FCM), so one gateway covers both.

Only the outside world is behind this class: tests run the real pyfcm client against a
local HTTP server that plays both Google's OAuth token endpoint (the service-account file
names its `token_uri`) and FCM's send endpoint (FCM_API_BASE).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass
class PushMessage:
    token: str
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)
    collapse_key: str = ""


@dataclass
class PushResult:
    """`status`: "sent", "invalid_token" (delete the device) or "failed" (try later)."""

    status: str
    provider_id: str = ""
    error: str = ""


class PushGateway:
    name = "base"

    def send(self, message: PushMessage) -> PushResult:  # pragma: no cover - interface
        raise NotImplementedError


class ConsolePushGateway(PushGateway):
    """Development: logs what would have been pushed (no FCM credentials configured)."""

    name = "console"

    def send(self, message: PushMessage) -> PushResult:
        logger.info(
            "push.console",
            extra={"title": message.title, "body": message.body, "collapse_key": message.collapse_key,
                   "data": message.data, "token_suffix": message.token[-8:]},
        )
        return PushResult(status="sent", provider_id="console")


# FCM v1 error codes that mean "this token will never work again": delete the device.
# https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
_INVALID_TOKEN_CODES = {"UNREGISTERED", "SENDER_ID_MISMATCH"}


class FcmPushGateway(PushGateway):
    name = "fcm"

    def __init__(self, *, project_id: str, credentials_file: str, api_base: str | None = None) -> None:
        from pyfcm import FCMNotification

        self.client = FCMNotification(service_account_file=credentials_file, project_id=project_id)
        # pyfcm builds its URL from this class attribute; an instance attribute points one
        # client elsewhere (a regional endpoint, or the local server in tests).
        self.client.FCM_END_POINT_BASE = (api_base or settings.FCM_API_BASE).rstrip("/")

    def _configs(self, message: PushMessage) -> dict[str, Any]:
        android: dict[str, Any] = {"priority": "high"}
        apns: dict[str, Any] = {"headers": {"apns-priority": "10"}}
        if message.collapse_key:
            # One visible notification per conversation: a newer push replaces the older.
            android["collapse_key"] = message.collapse_key
            android["notification"] = {"tag": message.collapse_key}
            apns["headers"]["apns-collapse-id"] = message.collapse_key[:64]
        return {"android_config": android, "apns_config": apns}

    def send(self, message: PushMessage) -> PushResult:
        from pyfcm.errors import FCMError, FCMNotRegisteredError, FCMSenderIdMismatchError, InvalidDataError

        try:
            answer = self.client.notify(
                fcm_token=message.token,
                notification_title=message.title,
                notification_body=message.body,
                data_payload={k: str(v) for k, v in message.data.items()} or None,
                timeout=settings.FCM_TIMEOUT_S,
                **self._configs(message),
            )
        except (FCMNotRegisteredError, FCMSenderIdMismatchError) as exc:
            return PushResult(status="invalid_token", error=str(exc)[:300])
        except InvalidDataError as exc:
            # 400 INVALID_ARGUMENT: for a malformed registration token FCM names the token
            # field; any other invalid argument is our bug, not the device's.
            text = str(exc)
            if any(code in text for code in _INVALID_TOKEN_CODES) or "registration token" in text.lower():
                return PushResult(status="invalid_token", error=text[:300])
            logger.warning("push.fcm_invalid", extra={"error": text[:300]})
            return PushResult(status="failed", error=text[:300])
        except (FCMError, OSError) as exc:
            logger.warning("push.fcm_failed", extra={"error": str(exc)[:300]})
            return PushResult(status="failed", error=str(exc)[:300])
        except Exception as exc:  # requests' own errors (timeouts, connection refused)
            logger.warning("push.fcm_failed", extra={"error": str(exc)[:300]})
            return PushResult(status="failed", error=str(exc)[:300])
        return PushResult(status="sent", provider_id=str((answer or {}).get("name", "")))


_gateway: PushGateway | None = None
_gateway_key: tuple | None = None


def get_push_gateway() -> PushGateway:
    """The configured gateway, built once per settings combination (pyfcm caches its token)."""
    global _gateway, _gateway_key
    key = (settings.FCM_PROJECT_ID, settings.FCM_CREDENTIALS_FILE, settings.FCM_API_BASE)
    if _gateway is None or _gateway_key != key:
        if settings.FCM_PROJECT_ID and settings.FCM_CREDENTIALS_FILE:
            _gateway = FcmPushGateway(
                project_id=settings.FCM_PROJECT_ID, credentials_file=settings.FCM_CREDENTIALS_FILE
            )
        else:
            _gateway = ConsolePushGateway()
        _gateway_key = key
    return _gateway
