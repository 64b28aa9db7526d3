"""Session-aware JWT authentication: the default `DAIRA_JWT_AUTHENTICATION_CLASS`.

REST (DRF), GraphQL and WebSocket handshakes all authenticate through this class
(daira/lib/auth.py), so an access token stops working on every transport the moment its
device session is revoked, and for suspended or deactivated accounts.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.models import DeviceSession, User
from daira.lib.prepared import PreparedQuery, execute_prepared

# Writing last-seen on every request would turn reads into writes; once a minute is enough
# for the sessions screen and activity status.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)

# Every authenticated request runs it: compiled once, a prepared statement (daira/lib/prepared.py).
_SESSION_WITH_USER = PreparedQuery(lambda variant, slots: DeviceSession.objects.select_related("user").filter(
    pk=slots.value("session_id"), user_id=slots.value("user_id"))[:1])

# The once-a-minute refresh of the session's last-seen and the user's last-active time, in
# one prepared statement (one round trip instead of two UPDATE queries).
_TOUCH_SESSION_AND_USER = (
    f'WITH touched AS (UPDATE "{DeviceSession._meta.db_table}" SET "last_seen_at" = %s WHERE "id" = %s)'
    f' UPDATE "{User._meta.db_table}" SET "last_active_at" = %s WHERE "id" = %s'
)


class SessionJWTAuthentication(JWTAuthentication):
    """Bearer access tokens that name a live DeviceSession (`sid` claim).

    One query per request (session joined with its user). Sets `user.current_session_id`
    so views can tell which session is calling (logout, "this device")."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except InvalidToken:
            # simplejwt's own errors carry a dict detail; give clients our flat shape instead.
            raise exceptions.AuthenticationFailed("The access token is invalid or expired.",
                                                  code="token_not_valid") from None

    def get_user(self, validated_token):
        try:
            session_id = int(validated_token["sid"])
            user_id = int(validated_token["user_id"])
        except (KeyError, TypeError, ValueError):
            raise exceptions.AuthenticationFailed("The token is not bound to a session.",
                                                  code="token_not_valid") from None
        if not (0 < session_id < 1 << 63 and 0 < user_id < 1 << 63):
            raise exceptions.AuthenticationFailed("The token is not bound to a session.", code="token_not_valid")
        found = _SESSION_WITH_USER.run("session", session_id=session_id, user_id=user_id)
        session = found[0] if found else None
        now = timezone.now()
        if session is None or session.revoked_at is not None or session.expires_at <= now:
            raise exceptions.AuthenticationFailed("This session has ended. Log in again.", code="session_revoked")
        user: User = session.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("This account is not active.", code="user_inactive")
        if session.last_seen_at < now - LAST_SEEN_RESOLUTION:
            execute_prepared(_TOUCH_SESSION_AND_USER, [now, session.pk, now, user.pk])
        user.current_session_id = session.pk
        return user
