"""JWT access/refresh tokens bound to a DeviceSession.

Both tokens carry `user_id` and `sid` (the session id) as *strings*: snowflake ids exceed
JavaScript's 2^53. The refresh token's `jti` must equal the session's current
`refresh_jti`; see `accounts.services.session_refresh` for rotation and reuse detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from daira.lib.errors import NotAuthenticated


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    session_id: int


def access_lifetime():
    return settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]


def refresh_lifetime():
    return settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]


def issue_pair(*, session) -> TokenPair:
    """Sign an access token and the session's current refresh token (jti = session.refresh_jti)."""
    now = timezone.now()
    refresh = RefreshToken()
    refresh.set_exp(from_time=now, lifetime=refresh_lifetime())
    refresh["jti"] = session.refresh_jti
    refresh["user_id"] = str(session.user_id)
    refresh["sid"] = str(session.pk)
    access = AccessToken()
    access.set_exp(from_time=now, lifetime=access_lifetime())
    access["user_id"] = str(session.user_id)
    access["sid"] = str(session.pk)
    return TokenPair(
        access=str(access),
        refresh=str(refresh),
        access_expires_at=now + access_lifetime(),
        refresh_expires_at=now + refresh_lifetime(),
        session_id=session.pk,
    )


@dataclass(frozen=True)
class RefreshClaims:
    user_id: int
    session_id: int
    jti: str


def refresh_claims(raw: str) -> RefreshClaims:
    """Check a refresh token's signature, type and expiry. Raises NotAuthenticated."""
    if not isinstance(raw, str) or not raw or len(raw) > 4096:
        raise NotAuthenticated("The refresh token is not valid.", code="token_not_valid")
    try:
        token = RefreshToken(raw)
        return RefreshClaims(user_id=int(token["user_id"]), session_id=int(token["sid"]), jti=str(token["jti"]))
    except (TokenError, KeyError, TypeError, ValueError):
        raise NotAuthenticated("The refresh token is not valid or has expired.", code="token_not_valid") from None
