"""Bearer-token authentication shared by REST, GraphQL and WebSockets.

`settings.DAIRA_JWT_AUTHENTICATION_CLASS` names one DRF authentication class; DRF uses it
directly, and the helpers here use the same class for GraphQL requests and WebSocket
handshakes, so a rule added there (session revocation, suspended accounts) holds on
every transport.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.module_loading import import_string
from rest_framework import exceptions


@lru_cache(maxsize=1)
def _authenticator():
    return import_string(settings.DAIRA_JWT_AUTHENTICATION_CLASS)()


def user_from_token(raw_token: str | bytes | None):
    """The active user for an access token, or AnonymousUser when missing/invalid/revoked."""
    if not raw_token:
        return AnonymousUser()
    if isinstance(raw_token, str):
        raw_token = raw_token.encode()
    authenticator = _authenticator()
    try:
        validated = authenticator.get_validated_token(raw_token)
        user = authenticator.get_user(validated)
    except exceptions.APIException:
        return AnonymousUser()
    if user is None or not getattr(user, "is_active", False):
        return AnonymousUser()
    return user


def user_from_authorization_header(header: str | None):
    """Parse `Authorization: Bearer <token>`; anything else is anonymous."""
    if not header:
        return AnonymousUser()
    parts = header.split()
    if len(parts) != 2 or parts[0] not in settings.SIMPLE_JWT["AUTH_HEADER_TYPES"]:
        return AnonymousUser()
    return user_from_token(parts[1])
