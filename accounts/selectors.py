"""Accounts reads. Hidden accounts (suspended, deactivated) and failed access checks
registered by higher apps (blocks) look exactly like missing ones."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts import registry
from accounts.models import AuthEvent, DataExport, DeviceSession, Passkey, User
from daira.lib.errors import NotFound


# Anything else cannot be a handle; refusing it early also keeps NUL bytes away from Postgres.
_HANDLE_LOOKUP = re.compile(r"@?[A-Za-z0-9_.]{1,30}")


def _viewer_or_none(viewer) -> User | None:
    return viewer if viewer is not None and getattr(viewer, "is_authenticated", False) else None


def handle_lookup_key(handle) -> str | None:
    """The stored (lower-case, no "@") form of a handle typed by a client, or None when
    `handle` cannot name any account (wrong type, too long, NUL bytes, other alphabets).

    Every read by handle goes through this, so garbage never reaches Postgres (a NUL
    byte there is a database error, i.e. a 500) and callers can answer NotFound."""
    if not isinstance(handle, str) or not _HANDLE_LOOKUP.fullmatch(handle):
        return None
    return handle.removeprefix("@").lower()


def user_get_public(*, viewer, handle: str) -> User:
    """The account `viewer` (a User, AnonymousUser or None) may see under @handle, or NotFound.

    Suspended and deactivated accounts are visible to nobody but themselves; every
    registered profile access check (e.g. social's "blocked either way") must pass."""
    viewer = _viewer_or_none(viewer)
    key = handle_lookup_key(handle)
    if key is None:
        raise NotFound("User not found.")
    user = User.objects.select_related("profile").filter(handle=key).first()
    if user is None:
        raise NotFound("User not found.")
    is_self = viewer is not None and viewer.pk == user.pk
    if not is_self:
        if not user.is_active:
            raise NotFound("User not found.")
        for check in registry.profile_access_checks():
            if not check(viewer, user):
                raise NotFound("User not found.")
    return user


def profile_extras(*, viewer, user: User) -> dict[str, Any]:
    """Fields higher apps add to a public profile (is_following, follows_you, ...)."""
    viewer = _viewer_or_none(viewer)
    extras: dict[str, Any] = {}
    for builder in registry.profile_extras():
        extras.update(builder(viewer, user) or {})
    return extras


def session_list_active(*, user: User) -> QuerySet[DeviceSession]:
    return DeviceSession.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now())


def auth_event_list(*, user: User) -> QuerySet[AuthEvent]:
    return AuthEvent.objects.filter(user=user)


def passkey_list(*, user: User) -> QuerySet[Passkey]:
    return Passkey.objects.filter(user=user)


def data_export_list(*, user: User) -> QuerySet[DataExport]:
    return DataExport.objects.filter(user=user)


def two_factor_enabled(*, user: User) -> bool:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()
