"""Accounts services: every write of the accounts app.

Sign-up and login (password, phone OTP, TOTP second factor, passkeys), device sessions
and JWT rotation with reuse detection, profile/settings, phone/password/e-mail changes,
suspension (used by moderation), PDPL export and deletion. Keyword-only `<entity>_<verb>`
functions; they raise daira.lib.errors exceptions and emit events after commit.

Functions that count failed attempts (OTP codes) write that count in autocommit and must
not be called inside an outer `transaction.atomic` that the failure propagates through,
or the count would be rolled back with it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import secrets
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts import gateways, registry, tokens
from accounts.images import avatar_renditions
from accounts.models import (
    AuthEvent,
    DataExport,
    GOVERNORATE_CODES,
    DeviceSession,
    OtpChallenge,
    Passkey,
    Profile,
    User,
    UserSettings,
)
from accounts.validators import handle_normalize, looks_like_phone, phone_normalize, require_clean_text, text_is_clean
from daira.lib import events, ratelimit, realtime
from daira.lib.errors import (
    Conflict,
    Gone,
    Invalid,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
)
from daira.lib.redis import get_redis

logger = logging.getLogger(__name__)

OTP_LENGTH = 6
OTP_TTL = timedelta(minutes=10)
OTP_MAX_ATTEMPTS = 5
OTP_RESEND_COOLDOWN = timedelta(seconds=60)
TWO_FACTOR_CHALLENGE_TTL_S = 300
PASSKEY_CHALLENGE_TTL_S = 300
EMAIL_TOKEN_TTL_S = 3 * 24 * 3600
MAX_LINKS = 5

# (scope, limit, window seconds) — issue 3, "Rate limits".
LIMIT_LOGIN_IDENTIFIER = ("login_identifier", 5, 15 * 60)
LIMIT_LOGIN_IP = ("login_ip", 20, 15 * 60)
LIMIT_REGISTER_IP = ("register_ip", 3, 60 * 60)
LIMIT_OTP_NUMBER = ("otp_number", 3, 10 * 60)
LIMIT_REFRESH_SESSION = ("refresh_session", 10, 60 * 60)


def _limit(spec: tuple[str, int, int], identity: str, message: str) -> None:
    scope, limit, window = spec
    ratelimit.hit(scope, identity, limit=limit, window_s=window, message=message)


@dataclass(frozen=True)
class ClientInfo:
    """Who is calling, as far as the request tells: recorded on sessions and the audit log."""

    ip: str | None = None
    user_agent: str = ""
    device_name: str = ""

    def __post_init__(self):
        # Free text from clients: drop what Postgres cannot store rather than fail a login over it.
        for name in ("user_agent", "device_name"):
            value = getattr(self, name) or ""
            if not text_is_clean(value):
                object.__setattr__(self, name, "".join(c for c in value if c != "\x00" and not 0xD800 <= ord(c) <= 0xDFFF))


@dataclass
class LoginResult:
    """Either tokens for a new session, or a second-factor challenge to complete first."""

    user: User
    tokens: tokens.TokenPair | None = None
    session: DeviceSession | None = None
    two_factor_challenge: str | None = None
    restored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# --- Audit log ----------------------------------------------------------------------------


def auth_event_record(
    *,
    user: User | None,
    kind: str,
    client: ClientInfo | None = None,
    session: DeviceSession | None = None,
    actor: User | None = None,
    **data: Any,
) -> AuthEvent:
    """Append one row to the auth audit log (the caller's transaction decides if it sticks)."""
    client = client or ClientInfo()
    return AuthEvent.objects.create(
        user=user,
        kind=kind,
        session=session,
        actor=actor,
        ip=client.ip,
        user_agent=(client.user_agent or "")[:300],
        data=data,
    )


def _mask_phone(phone: str | None) -> str:
    return f"{phone[:4]}****{phone[-3:]}" if phone else ""


# --- Profile counters (called by social and content inside their transactions) ----------


def profile_counts_add(*, user_id: int, followers: int = 0, following: int = 0, friends: int = 0,
                       posts: int = 0) -> None:
    """Add the given deltas to a profile's public counters in one atomic UPDATE.

    Uses F() expressions, so concurrent changes never lose an increment, and clamps at 0
    (a duplicate decrement after a retried task must not violate the unsigned column)."""
    updates = {}
    for column, delta in (("followers_count", followers), ("following_count", following),
                          ("friends_count", friends), ("posts_count", posts)):
        if delta:
            updates[column] = Greatest(F(column) + delta, 0)
    if updates:
        Profile.objects.filter(user_id=user_id).update(**updates)


# --- Sessions and tokens ------------------------------------------------------------------


def _new_jti() -> str:
    return uuid.uuid4().hex


@transaction.atomic
def session_create(*, user: User, client: ClientInfo | None = None, method: str = "password") -> LoginResult:
    """Open a device session for `user` and issue its first access/refresh pair.

    Does no credential check: callers (the login services, test factories) have done
    that. Records a LOGIN audit event."""
    client = client or ClientInfo()
    now = timezone.now()
    session = DeviceSession.objects.create(
        user=user,
        device_name=(client.device_name or "")[:100],
        user_agent=(client.user_agent or "")[:300],
        ip=client.ip,
        method=method,
        refresh_jti=_new_jti(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + tokens.refresh_lifetime(),
    )
    auth_event_record(user=user, kind=AuthEvent.Kind.LOGIN, client=client, session=session, method=method)
    User.objects.filter(pk=user.pk).update(last_login=now, last_active_at=now)
    return LoginResult(user=user, tokens=tokens.issue_pair(session=session), session=session)


def session_refresh(*, refresh_token: str, client: ClientInfo | None = None) -> tokens.TokenPair:
    """Rotate a refresh token: the old one dies, a new access/refresh pair is returned.

    Presenting a refresh token that was already rotated means it was copied: the whole
    session (every token descended from that login) is revoked, a TOKEN_REUSE audit event
    is recorded, and NotAuthenticated is raised. Limited to 10 refreshes per hour per
    session (RateLimited)."""
    require_clean_text(refresh=refresh_token)
    claims = tokens.refresh_claims(refresh_token)
    _limit(LIMIT_REFRESH_SESSION, str(claims.session_id), "Too many token refreshes. Try again later.")
    reused = False
    with transaction.atomic():
        session = (
            DeviceSession.objects.select_for_update()
            .select_related("user")
            .filter(pk=claims.session_id, user_id=claims.user_id)
            .first()
        )
        if session is None or session.revoked_at is not None:
            raise NotAuthenticated("This session has ended. Log in again.", code="session_revoked")
        if not hmac.compare_digest(claims.jti, session.refresh_jti):
            _session_revoke(session=session, reason=DeviceSession.RevokeReason.TOKEN_REUSE)
            auth_event_record(user=session.user, kind=AuthEvent.Kind.TOKEN_REUSE, client=client, session=session,
                              generation=session.refresh_generation)
            logger.warning("auth.token_reuse", extra={"session_id": session.pk, "user_id": session.user_id})
            reused = True
        elif not session.user.is_active:
            raise NotAuthenticated("This account is not active.", code="user_inactive")
        else:
            now = timezone.now()
            session.refresh_jti = _new_jti()
            session.refresh_generation += 1
            session.last_seen_at = now
            session.expires_at = now + tokens.refresh_lifetime()
            if client and client.ip:
                session.ip = client.ip
            session.save(update_fields=["refresh_jti", "refresh_generation", "last_seen_at", "expires_at", "ip"])
            pair = tokens.issue_pair(session=session)
    if reused:  # raised after commit, so the revocation sticks
        raise NotAuthenticated(
            "This refresh token was already used. The session was ended for your safety; log in again.",
            code="token_reused",
        )
    return pair


def _announce_revoked(*, user_id: int, session_ids: list[int]) -> None:
    """Tell the user's live sockets after commit; the ones opened with these sessions close (4401)."""
    if session_ids:
        realtime.broadcast_on_commit(
            realtime.user_group(user_id), "session.revoked", {"session_ids": [str(sid) for sid in session_ids]}
        )


def _session_revoke(*, session: DeviceSession, reason: str) -> None:
    if session.revoked_at is None:
        session.revoked_at = timezone.now()
        session.revoked_reason = reason
        session.save(update_fields=["revoked_at", "revoked_reason"])
        _announce_revoked(user_id=session.user_id, session_ids=[session.pk])


def _sessions_revoke_all(*, user: User, reason: str, except_session_id: int | None = None) -> int:
    sessions = DeviceSession.objects.filter(user=user, revoked_at__isnull=True)
    if except_session_id is not None:
        sessions = sessions.exclude(pk=except_session_id)
    session_ids = list(sessions.values_list("pk", flat=True))
    count = DeviceSession.objects.filter(pk__in=session_ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )
    _announce_revoked(user_id=user.pk, session_ids=session_ids)
    return count


@transaction.atomic
def session_revoke(*, user: User, session_id: int, reason: str = DeviceSession.RevokeReason.REVOKED,
                   client: ClientInfo | None = None) -> DeviceSession:
    """End one of `user`'s sessions (its access token is refused at once). NotFound otherwise."""
    session = DeviceSession.objects.select_for_update().filter(pk=session_id, user=user).first()
    if session is None:
        raise NotFound("Session not found.")
    _session_revoke(session=session, reason=reason)
    kind = AuthEvent.Kind.LOGOUT if reason == DeviceSession.RevokeReason.LOGOUT else AuthEvent.Kind.SESSION_REVOKED
    auth_event_record(user=user, kind=kind, client=client, session=session)
    return session


@transaction.atomic
def session_revoke_others(*, user: User, current_session_id: int | None, client: ClientInfo | None = None) -> int:
    """End every session of `user` but the calling one; returns how many were ended."""
    count = _sessions_revoke_all(user=user, reason=DeviceSession.RevokeReason.REVOKED,
                                 except_session_id=current_session_id)
    auth_event_record(user=user, kind=AuthEvent.Kind.SESSION_REVOKED, client=client, count=count, scope="others")
    return count


# --- Registration ---------------------------------------------------------------------------


def _validate_password(password: str, *, user: User) -> None:
    if not isinstance(password, str) or not password:
        raise Invalid("Enter a password.", field="password")
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise Invalid("The password is too weak.", fields={"password": list(exc.messages)},
                      code="weak_password") from None


def _normalize_email(email: str | None, *, field_name: str = "email") -> str | None:
    if email in (None, ""):
        return None
    email = str(email).strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise Invalid("Enter a valid e-mail address.", field=field_name) from None
    return email


def user_register(
    *,
    handle: str,
    password: str,
    phone: str | None = None,
    email: str | None = None,
    otp_code: str | None = None,
    language: str | None = None,
    client: ClientInfo | None = None,
) -> LoginResult:
    """Create an account and log it in on this device.

    Needs a handle, a password and a phone number and/or an e-mail. A phone number must
    be proven with a code from `otp_request(purpose="register")` (unless
    DAIRA_REGISTER_REQUIRE_PHONE_OTP is off). Raises Invalid with per-field messages
    (taken handle, bad number, weak password...), RateLimited after 3 attempts per hour
    per IP. Emits "user.registered"."""
    client = client or ClientInfo()
    require_clean_text(handle=handle, password=password, phone=phone, email=email, otp_code=otp_code)
    _limit(LIMIT_REGISTER_IP, client.ip or "unknown", "Too many sign-ups from this network. Try again later.")

    problems: dict[str, list[str]] = {}

    def collect(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Invalid as exc:
            for name, messages in exc.fields.items():
                problems.setdefault(name, []).extend(messages)
            return None

    handle_value = collect(handle_normalize, handle)
    phone_value = collect(phone_normalize, phone) if phone else None
    email_value = collect(_normalize_email, email)
    if not phone and not email:
        problems.setdefault("phone", []).append("Enter a phone number or an e-mail address.")
    if handle_value and User.objects.filter(handle=handle_value).exists():
        problems.setdefault("handle", []).append("This handle is taken.")
    if phone_value and User.objects.filter(phone=phone_value).exists():
        problems.setdefault("phone", []).append("An account already uses this number.")
    if email_value and User.objects.filter(email__iexact=email_value).exists():
        problems.setdefault("email", []).append("An account already uses this e-mail address.")
    collect(_validate_password, password, user=User(handle=handle_value or "", email=email_value, phone=phone_value))
    if language is not None and language not in Profile.Language.values:
        problems.setdefault("language", []).append("Choose ar or en.")
    if phone_value and settings.DAIRA_REGISTER_REQUIRE_PHONE_OTP and not otp_code:
        problems.setdefault("otp_code", []).append("Enter the code sent to your phone.")
    if problems:
        raise Invalid("The sign-up form has errors.", fields=problems)

    phone_verified = False
    if phone_value and otp_code:
        _otp_consume(phone=phone_value, purpose=OtpChallenge.Purpose.REGISTER, code=otp_code, client=client)
        phone_verified = True
    try:
        return _user_create(handle=handle_value, password=password, phone=phone_value, email=email_value,
                            phone_verified=phone_verified, language=language, client=client)
    except IntegrityError:  # lost a race for the same handle/phone/e-mail
        raise Conflict("This handle, number or e-mail was just taken. Try another.") from None


@transaction.atomic
def _user_create(*, handle, password, phone, email, phone_verified, language, client) -> LoginResult:
    user = User.objects.create_user(
        handle, password, phone=phone, email=email,
        phone_verified_at=timezone.now() if phone_verified else None,
    )
    if language:
        Profile.objects.filter(user=user).update(language=language)
    auth_event_record(user=user, kind=AuthEvent.Kind.REGISTERED, client=client)
    events.emit_on_commit("user.registered", user_id=user.pk)
    if email:
        _email_verification_send(user=user)
    return session_create(user=user, client=client, method="register")


# --- Login ----------------------------------------------------------------------------------


def _identifier_lookup(identifier: str) -> tuple[str, User | None]:
    """(normalised identifier, user or None) for a handle, phone number or e-mail."""
    identifier = (identifier or "").strip()
    if "@" in identifier and not identifier.startswith("@"):
        email = identifier.lower()
        return email, User.objects.filter(email__iexact=email).first()
    if looks_like_phone(identifier):
        try:
            phone = phone_normalize(identifier)
        except Invalid:
            return identifier, None
        return phone, User.objects.filter(phone=phone).first()
    handle = identifier.removeprefix("@").lower()
    return handle, User.objects.filter(handle=handle).first()


def _login_gate(*, user: User, client: ClientInfo, restore: bool = True) -> bool:
    """Refuse suspended accounts, restore deactivated ones within the grace period.

    Returns True when the account was (or, with restore=False, would be) restored. Expired suspensions are lifted here too,
    so a user is never locked out waiting for the beat task."""
    if user.status == User.Status.SUSPENDED:
        if user.suspended_until is not None and user.suspended_until <= timezone.now():
            user_unsuspend(user=user, actor=None, reason="Suspension expired.")
            user.refresh_from_db()
        else:
            until = user.suspended_until.isoformat() if user.suspended_until else None
            raise PermissionDenied("This account is suspended.", code="account_suspended",
                                   extra={"suspended_until": until})
    if user.status == User.Status.DEACTIVATED:
        grace = timedelta(days=settings.DAIRA_DELETION_GRACE_DAYS)
        if user.deactivated_at is None or user.deactivated_at + grace <= timezone.now():
            raise NotAuthenticated("Wrong login details.", code="invalid_credentials")
        if restore:
            user_reactivate(user=user, client=client)
        return True
    return False


def _has_totp(user: User) -> bool:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def _finish_login(*, user: User, client: ClientInfo, method: str) -> LoginResult:
    if method != "passkey" and _has_totp(user):
        # Check suspension now, but restore a deactivated account only once both factors passed.
        restored = _login_gate(user=user, client=client, restore=False)
        challenge = signing.dumps({"uid": str(user.pk), "method": method, "n": secrets.token_hex(8)},
                                  salt="accounts.two_factor")
        return LoginResult(user=user, two_factor_challenge=challenge, restored=restored)
    restored = _login_gate(user=user, client=client)
    result = session_create(user=user, client=client, method=method)
    result.restored = restored
    return result


def login_with_password(*, identifier: str, password: str, client: ClientInfo | None = None) -> LoginResult:
    """Log in by handle, phone number or e-mail plus password.

    Limited to 5 attempts per 15 minutes per identifier and 20 per IP (RateLimited).
    Wrong details raise NotAuthenticated("invalid_credentials") without telling which part
    was wrong; suspended accounts get PermissionDenied("account_suspended"); a
    deactivated account within its grace period is restored. With TOTP enabled the result
    carries a `two_factor_challenge` instead of tokens (see `login_two_factor_complete`)."""
    client = client or ClientInfo()
    if not isinstance(identifier, str) or not identifier.strip():
        raise Invalid("Enter your handle, phone number or e-mail.", field="identifier")
    if not isinstance(password, str):
        raise Invalid("Enter your password.", field="password")
    require_clean_text(identifier=identifier, password=password)
    key, user = _identifier_lookup(identifier[:254])
    _limit(LIMIT_LOGIN_IP, client.ip or "unknown", "Too many login attempts from this network. Try again later.")
    _limit(LIMIT_LOGIN_IDENTIFIER, hashlib.sha256(key.encode()).hexdigest(),
           "Too many login attempts for this account. Try again later.")
    if user is None or not user.check_password(password):
        with transaction.atomic():
            auth_event_record(user=user, kind=AuthEvent.Kind.LOGIN_FAILED, client=client, method="password")
        raise NotAuthenticated("Wrong login details.", code="invalid_credentials")
    return _finish_login(user=user, client=client, method="password")


def login_two_factor_complete(*, challenge: str, code: str, client: ClientInfo | None = None) -> LoginResult:
    """Finish a login that asked for a second factor: a TOTP code from the user's app."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = client or ClientInfo()
    require_clean_text(challenge=challenge, code=code)
    try:
        data = signing.loads(challenge or "", salt="accounts.two_factor", max_age=TWO_FACTOR_CHALLENGE_TTL_S)
        user = User.objects.get(pk=int(data["uid"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, User.DoesNotExist):
        raise NotAuthenticated("The login has expired. Start again.", code="challenge_expired") from None
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None or not _totp_verify(device, code):
        with transaction.atomic():
            auth_event_record(user=user, kind=AuthEvent.Kind.LOGIN_FAILED, client=client, method="totp")
        raise Invalid("Wrong code.", field="code", code="invalid_code")
    restored = _login_gate(user=user, client=client)
    result = session_create(user=user, client=client, method=f"{data.get('method', 'password')}+totp")
    result.restored = restored
    return result


# --- Phone OTP ------------------------------------------------------------------------------


def _otp_hash(challenge_id: int, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def otp_request(*, phone: str, purpose: str, client: ClientInfo | None = None,
                user: User | None = None) -> OtpChallenge:
    """Send a 6-digit code to `phone`, trying flash call → WhatsApp → SMS.

    The code is valid 10 minutes and only its HMAC is stored. Purposes: "register" (the
    number must be free), "login" (it must belong to an account), "change_phone" (needs
    `user`; the number must be free). Raises RateLimited for a resend within 60 seconds
    and after 3 requests per 10 minutes per number, ServiceUnavailable when every gateway
    failed. The returned challenge's `channel` says how the code was sent."""
    client = client or ClientInfo()
    require_clean_text(phone=phone, purpose=purpose)
    if purpose not in OtpChallenge.Purpose.values:
        raise Invalid("Unknown purpose.", field="purpose")
    phone = phone_normalize(phone)
    owner = User.objects.filter(phone=phone).first()
    if purpose in (OtpChallenge.Purpose.REGISTER, OtpChallenge.Purpose.CHANGE_PHONE) and owner is not None:
        raise Invalid("An account already uses this number.", field="phone", code="phone_taken")
    if purpose == OtpChallenge.Purpose.LOGIN:
        if owner is None:
            raise Invalid("No account uses this number.", field="phone", code="phone_unknown")
        user = owner
    if purpose == OtpChallenge.Purpose.CHANGE_PHONE and user is None:
        raise NotAuthenticated("Log in to change your number.")

    now = timezone.now()
    last = OtpChallenge.objects.filter(phone=phone, purpose=purpose).order_by("-created_at").first()
    if last is not None and last.created_at + OTP_RESEND_COOLDOWN > now:
        wait = (last.created_at + OTP_RESEND_COOLDOWN - now).total_seconds()
        raise RateLimited("Wait before asking for another code.", retry_after=int(wait + 0.999), code="otp_cooldown")
    _limit(LIMIT_OTP_NUMBER, phone, "Too many codes for this number. Try again later.")

    code = f"{secrets.randbelow(10 ** OTP_LENGTH):0{OTP_LENGTH}d}"
    challenge = OtpChallenge(phone=phone, purpose=purpose, user=user, created_at=now, expires_at=now + OTP_TTL)
    challenge.code_hash = _otp_hash(challenge.pk, code)
    try:
        # Network I/O: outside any transaction, so no row lock waits on a slow provider.
        challenge.channel = gateways.deliver_with_fallback(phone, code)
    except gateways.GatewayError:
        logger.error("otp.delivery_failed", extra={"phone": _mask_phone(phone)})
        raise ServiceUnavailable("We could not send a code right now. Try again in a minute.",
                                 code="otp_delivery_failed") from None
    with transaction.atomic():
        challenge.save(force_insert=True)
        auth_event_record(user=user, kind=AuthEvent.Kind.OTP_SENT, client=client, channel=challenge.channel,
                          purpose=purpose, phone=_mask_phone(phone))
    return challenge


def _otp_consume(*, phone: str, purpose: str, code: str, client: ClientInfo | None = None,
                 user: User | None = None) -> OtpChallenge:
    """Check `code` against the latest challenge and use it up. See the module note on atomicity.

    Accepts the caller-id digits of a flash call (their last 6 digits are the code) and
    Arabic-Indic digits. Raises Invalid with code otp_missing / otp_expired / otp_locked
    (after 5 wrong codes) / otp_wrong (with `attempts_left`)."""
    now = timezone.now()
    challenge = (
        OtpChallenge.objects.filter(phone=phone, purpose=purpose, consumed_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    if challenge is None or (user is not None and challenge.user_id != user.pk):
        raise Invalid("Ask for a code first.", field="code", code="otp_missing")
    if challenge.expires_at <= now:
        raise Invalid("This code has expired. Ask for a new one.", field="code", code="otp_expired")
    if challenge.attempts >= OTP_MAX_ATTEMPTS:
        raise Invalid("Too many wrong codes. Ask for a new one.", field="code", code="otp_locked")
    digits = "".join(ch for ch in str(code or "").translate(_DIGITS) if ch.isascii() and ch.isdigit())[:32]
    if challenge.channel == OtpChallenge.Channel.FLASH_CALL:
        digits = digits[-OTP_LENGTH:]
    if len(digits) != OTP_LENGTH or not hmac.compare_digest(_otp_hash(challenge.pk, digits), challenge.code_hash):
        OtpChallenge.objects.filter(pk=challenge.pk).update(attempts=F("attempts") + 1)
        auth_event_record(user=challenge.user, kind=AuthEvent.Kind.OTP_FAILED, client=client, purpose=purpose)
        left = OTP_MAX_ATTEMPTS - challenge.attempts - 1
        raise Invalid("Wrong code.", field="code", code="otp_wrong", extra={"attempts_left": max(0, left)})
    used = OtpChallenge.objects.filter(pk=challenge.pk, consumed_at__isnull=True).update(consumed_at=now)
    if not used:  # a concurrent request used it first
        raise Invalid("Ask for a code first.", field="code", code="otp_missing")
    auth_event_record(user=challenge.user, kind=AuthEvent.Kind.OTP_VERIFIED, client=client, purpose=purpose)
    return challenge


def login_with_otp(*, phone: str, code: str, client: ClientInfo | None = None) -> LoginResult:
    """Log in a phone user with the code from `otp_request(purpose="login")`.

    Rate limited like password logins (per number and per IP); also proves the number,
    so it marks the phone verified."""
    client = client or ClientInfo()
    require_clean_text(phone=phone, code=code)
    phone = phone_normalize(phone)
    _limit(LIMIT_LOGIN_IP, client.ip or "unknown", "Too many login attempts from this network. Try again later.")
    _limit(LIMIT_LOGIN_IDENTIFIER, hashlib.sha256(phone.encode()).hexdigest(),
           "Too many login attempts for this account. Try again later.")
    challenge = _otp_consume(phone=phone, purpose=OtpChallenge.Purpose.LOGIN, code=code, client=client)
    user = User.objects.filter(pk=challenge.user_id, phone=phone).first()
    if user is None:
        raise NotAuthenticated("Wrong login details.", code="invalid_credentials")
    if user.phone_verified_at is None:
        User.objects.filter(pk=user.pk).update(phone_verified_at=timezone.now())
    return _finish_login(user=user, client=client, method="otp")


# --- Suspension (moderation calls these) ----------------------------------------------------


@transaction.atomic
def user_suspend(*, user: User, actor: User | None, reason: str, until: datetime | None = None) -> None:
    """Suspend `user` (indefinitely when `until` is None): status SUSPENDED, every session
    revoked (tokens refused at once), audit-logged; emits "user.suspended" after commit.
    The beat task `users_suspensions_lift_task` lifts it once `until` has passed."""
    if until is not None and until <= timezone.now():
        raise Invalid("A suspension must end in the future.", field="until")
    User.objects.filter(pk=user.pk).update(status=User.Status.SUSPENDED, suspended_until=until,
                                           suspension_reason=(reason or "")[:300])
    user.status, user.suspended_until, user.suspension_reason = User.Status.SUSPENDED, until, (reason or "")[:300]
    _sessions_revoke_all(user=user, reason=DeviceSession.RevokeReason.SUSPENDED)
    auth_event_record(user=user, kind=AuthEvent.Kind.SUSPENDED, actor=actor, reason=reason,
                      until=until.isoformat() if until else None)
    events.emit_on_commit("user.suspended", user_id=user.pk, until=until.isoformat() if until else None)


@transaction.atomic
def user_unsuspend(*, user: User, actor: User | None, reason: str) -> None:
    """Lift a suspension (no-op for an account that is not suspended); emits "user.unsuspended"."""
    updated = User.objects.filter(pk=user.pk, status=User.Status.SUSPENDED).update(
        status=User.Status.ACTIVE, suspended_until=None, suspension_reason=""
    )
    if not updated:
        return
    user.status, user.suspended_until, user.suspension_reason = User.Status.ACTIVE, None, ""
    auth_event_record(user=user, kind=AuthEvent.Kind.UNSUSPENDED, actor=actor, reason=reason)
    events.emit_on_commit("user.unsuspended", user_id=user.pk)


def users_suspensions_lift(*, now: datetime | None = None) -> int:
    """Lift every suspension whose end has passed; returns how many (idempotent)."""
    now = now or timezone.now()
    lifted = 0
    for user in User.objects.filter(status=User.Status.SUSPENDED, suspended_until__lte=now).iterator():
        user_unsuspend(user=user, actor=None, reason="Suspension expired.")
        lifted += 1
    return lifted


# --- Profile and settings -------------------------------------------------------------------


def _validate_links(links: Any) -> list[str]:
    if not isinstance(links, (list, tuple)):
        raise Invalid("Links must be a list of URLs.", field="links")
    if len(links) > MAX_LINKS:
        raise Invalid(f"Add at most {MAX_LINKS} links.", field="links")
    validator = URLValidator(schemes=["http", "https"])
    cleaned = []
    for link in links:
        if not isinstance(link, str) or len(link) > 300:
            raise Invalid("Each link must be an http(s) URL.", field="links")
        try:
            validator(link.strip())
        except ValidationError:
            raise Invalid(f"{link[:60]!r} is not an http(s) URL.", field="links") from None
        cleaned.append(link.strip())
    return cleaned


@transaction.atomic
def profile_update(*, user: User, display_name: str | None = None, bio: str | None = None,
                   links: list[str] | None = None, language: str | None = None,
                   governorate: str | None = None) -> Profile:
    """Change what others see. Bio ≤ 150 characters, ≤ 5 http(s) links, language ar/en.

    `governorate` (private, ISO 3166-2:EG code such as "EG-C"; "" clears it) is never shown
    to others; For-You uses it for "popular near you"."""
    require_clean_text(display_name=display_name, bio=bio, language=language,
                       links="".join(link for link in links if isinstance(link, str))
                       if isinstance(links, (list, tuple)) else links)
    profile = Profile.objects.select_for_update().get(user=user)
    if display_name is not None:
        display_name = str(display_name).strip()
        if len(display_name) > 64:
            raise Invalid("A display name has at most 64 characters.", field="display_name")
        profile.display_name = display_name
    if bio is not None:
        if len(str(bio)) > 150:
            raise Invalid("A bio has at most 150 characters.", field="bio")
        profile.bio = str(bio)
    if links is not None:
        profile.links = _validate_links(links)
    if language is not None:
        if language not in Profile.Language.values:
            raise Invalid("Choose ar or en.", field="language")
        profile.language = language
    if governorate is not None:
        code = str(governorate).strip().upper()
        if code and code not in GOVERNORATE_CODES:
            raise Invalid("Choose a governorate code such as EG-C (Cairo); GET /api/v1/governorates lists them.",
                          field="governorate")
        profile.governorate = code
    profile.save()
    events.emit_on_commit("user.profile_updated", user_id=user.pk)
    return profile


SETTINGS_FIELDS = ("data_saver", "who_can_message", "who_can_mention", "show_activity_status",
                   "read_receipts", "default_post_audience")


@transaction.atomic
def settings_update(*, user: User, is_private: bool | None = None, **changes: Any) -> UserSettings:
    """Change privacy and app preferences. Unknown names or values raise Invalid."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise Invalid(f"Unknown settings: {', '.join(sorted(unknown))}.")
    user_settings = UserSettings.objects.select_for_update().get(user=user)
    choices = {
        "who_can_message": UserSettings.Audience.values,
        "who_can_mention": UserSettings.Audience.values,
        "default_post_audience": UserSettings.DefaultPostAudience.values,
    }
    for name, value in changes.items():
        if value is None:
            continue
        if name in choices and value not in choices[name]:
            raise Invalid(f"Choose one of: {', '.join(choices[name])}.", field=name)
        if name not in choices and not isinstance(value, bool):
            raise Invalid("Must be true or false.", field=name)
        setattr(user_settings, name, value)
    user_settings.save()
    if is_private is not None and is_private != user.is_private:
        User.objects.filter(pk=user.pk).update(is_private=bool(is_private))
        user.is_private = bool(is_private)
        events.emit_on_commit("user.privacy_changed", user_id=user.pk, is_private=user.is_private)
    return user_settings


def avatar_set(*, user: User, upload) -> Profile:
    """Replace the avatar: the file is checked by content (JPEG/PNG/WebP, ≤ 10 MB) and stored
    as 200×200 and 400×400 square JPEG renditions without EXIF. Old renditions are deleted."""
    if upload is None:
        raise Invalid("Attach an image.", field="avatar")
    if upload.size > settings.DAIRA_AVATAR_MAX_BYTES:
        raise PayloadTooLarge("An avatar may be at most 10 MB.", field="avatar")
    data = upload.read(settings.DAIRA_AVATAR_MAX_BYTES + 1)
    if len(data) > settings.DAIRA_AVATAR_MAX_BYTES:
        raise PayloadTooLarge("An avatar may be at most 10 MB.", field="avatar")
    renditions = avatar_renditions(data)
    stem = f"avatars/{user.pk}/{secrets.token_hex(8)}"
    paths = {str(size): default_storage.save(f"{stem}-{size}.jpg", ContentFile(body))
             for size, body in renditions.items()}
    with transaction.atomic():
        profile = Profile.objects.select_for_update().get(user=user)
        old = dict(profile.avatar or {})
        profile.avatar = paths
        profile.save(update_fields=["avatar"])
        transaction.on_commit(lambda: _storage_delete(old.values()))
        events.emit_on_commit("user.profile_updated", user_id=user.pk)
    return profile


@transaction.atomic
def avatar_remove(*, user: User) -> Profile:
    profile = Profile.objects.select_for_update().get(user=user)
    old = dict(profile.avatar or {})
    profile.avatar = {}
    profile.save(update_fields=["avatar"])
    transaction.on_commit(lambda: _storage_delete(old.values()))
    return profile


def _storage_delete(paths) -> None:
    for path in paths:
        try:
            default_storage.delete(path)
        except Exception:  # storage hiccups must not fail the request; orphans are harmless
            logger.warning("storage.delete_failed", extra={"path": path})


# --- Phone, password, e-mail changes ------------------------------------------------------


def phone_change_request(*, user: User, phone: str, client: ClientInfo | None = None) -> OtpChallenge:
    """Send a code to the new number (it must not belong to another account)."""
    return otp_request(phone=phone, purpose=OtpChallenge.Purpose.CHANGE_PHONE, client=client, user=user)


def phone_change_confirm(*, user: User, phone: str, code: str, client: ClientInfo | None = None) -> User:
    """Switch to the new number once its code is confirmed. Audit-logged (PHONE_CHANGED)."""
    require_clean_text(phone=phone, code=code)
    phone = phone_normalize(phone)
    _otp_consume(phone=phone, purpose=OtpChallenge.Purpose.CHANGE_PHONE, code=code, client=client, user=user)
    old = user.phone
    try:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(phone=phone, phone_verified_at=timezone.now())
            auth_event_record(user=user, kind=AuthEvent.Kind.PHONE_CHANGED, client=client,
                              old=_mask_phone(old), new=_mask_phone(phone))
    except IntegrityError:
        raise Conflict("An account already uses this number.", field="phone") from None
    user.refresh_from_db()
    return user


@transaction.atomic
def password_change(*, user: User, current_password: str, new_password: str,
                    current_session_id: int | None = None, client: ClientInfo | None = None) -> int:
    """Set a new password after checking the current one, and end every other session.

    Returns how many sessions were ended. Raises Invalid for a wrong current password or
    a weak new one."""
    require_clean_text(current_password=current_password, new_password=new_password)
    if user.has_usable_password() and not user.check_password(current_password or ""):
        raise Invalid("The current password is wrong.", field="current_password", code="wrong_password")
    _validate_password(new_password, user=user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    ended = _sessions_revoke_all(user=user, reason=DeviceSession.RevokeReason.PASSWORD_CHANGED,
                                 except_session_id=current_session_id)
    auth_event_record(user=user, kind=AuthEvent.Kind.PASSWORD_CHANGED, client=client, sessions_ended=ended)
    return ended


def _email_verification_send(*, user: User) -> None:
    token = signing.dumps({"uid": str(user.pk), "email": user.email}, salt="accounts.email")
    link = f"{settings.PUBLIC_BASE_URL}/api/v1/auth/email/verify?token={token}"
    email = user.email

    def send():
        send_mail(
            subject="Confirm your e-mail for DAIRA / تأكيد بريدك الإلكتروني",
            message=f"Open this link to confirm {email}:\n{link}\n\nافتح الرابط لتأكيد بريدك الإلكتروني.",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
            fail_silently=True,
        )

    transaction.on_commit(send)


@transaction.atomic
def email_change(*, user: User, email: str, client: ClientInfo | None = None) -> User:
    """Set a new (unverified) e-mail and send a verification link to it."""
    require_clean_text(email=email)
    normalized = _normalize_email(email)
    if normalized is None:
        raise Invalid("Enter an e-mail address.", field="email")
    if User.objects.filter(email__iexact=normalized).exclude(pk=user.pk).exists():
        raise Invalid("An account already uses this e-mail address.", field="email")
    User.objects.filter(pk=user.pk).update(email=normalized, email_verified_at=None)
    user.email, user.email_verified_at = normalized, None
    auth_event_record(user=user, kind=AuthEvent.Kind.EMAIL_CHANGED, client=client)
    _email_verification_send(user=user)
    return user


def email_verification_resend(*, user: User) -> None:
    if not user.email:
        raise Invalid("Add an e-mail address first.", field="email")
    if user.email_verified_at:
        raise Invalid("This e-mail address is already verified.", field="email")
    with transaction.atomic():
        _email_verification_send(user=user)


@transaction.atomic
def email_verify(*, token: str) -> User:
    """Mark the e-mail verified from the link's token (valid 3 days, and only for the same address)."""
    require_clean_text(token=token)
    try:
        data = signing.loads(token or "", salt="accounts.email", max_age=EMAIL_TOKEN_TTL_S)
        user = User.objects.select_for_update().get(pk=int(data["uid"]))
    except signing.SignatureExpired:
        raise Gone("This link has expired. Ask for a new one.") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError, User.DoesNotExist):
        raise Invalid("This link is not valid.", field="token") from None
    if (user.email or "").lower() != str(data.get("email", "")).lower():
        raise Invalid("This link is for an older e-mail address.", field="token")
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        auth_event_record(user=user, kind=AuthEvent.Kind.EMAIL_VERIFIED)
    return user


# --- TOTP two-factor ------------------------------------------------------------------------


def _totp_verify(device, code) -> bool:
    digits = "".join(ch for ch in str(code or "").translate(_DIGITS) if ch.isascii() and ch.isdigit())
    if len(digits) != 6:
        return False
    with transaction.atomic():
        return bool(device.verify_token(digits))


@transaction.atomic
def totp_setup(*, user: User):
    """Start (or restart) TOTP enrolment: an unconfirmed device whose otpauth:// URL the app shows as a QR.

    Raises Conflict if two-factor is already on."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise Conflict("Two-factor authentication is already on.")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def totp_confirm(*, user: User, code: str, client: ClientInfo | None = None) -> None:
    """Turn two-factor on once the app shows a correct code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        raise Invalid("Start the set-up first.", field="code")
    if not _totp_verify(device, code):
        raise Invalid("Wrong code.", field="code", code="invalid_code")
    with transaction.atomic():
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        auth_event_record(user=user, kind=AuthEvent.Kind.TOTP_ENABLED, client=client)


def totp_disable(*, user: User, code: str, client: ClientInfo | None = None) -> None:
    """Turn two-factor off; needs a current code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        raise Invalid("Two-factor authentication is off.", field="code")
    if not _totp_verify(device, code):
        raise Invalid("Wrong code.", field="code", code="invalid_code")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        auth_event_record(user=user, kind=AuthEvent.Kind.TOTP_DISABLED, client=client)


# --- Passkeys (WebAuthn) --------------------------------------------------------------------


def _webauthn_challenge_store(key: str, challenge: bytes) -> None:
    get_redis().set(f"webauthn:{key}", challenge, ex=PASSKEY_CHALLENGE_TTL_S)


def _webauthn_challenge_take(key: str) -> bytes | None:
    client = get_redis()
    pipe = client.pipeline()
    pipe.get(f"webauthn:{key}")
    pipe.delete(f"webauthn:{key}")
    value, _ = pipe.execute()
    return value


def passkey_registration_options(*, user: User) -> dict:
    """Options for navigator.credentials.create() (PublicKeyCredentialCreationOptions as JSON).

    The challenge is kept in Redis for 5 minutes, one per user."""
    import webauthn
    from webauthn.helpers import options_to_json
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    options = webauthn.generate_registration_options(
        rp_id=settings.DAIRA_WEBAUTHN_RP_ID,
        rp_name=settings.DAIRA_WEBAUTHN_RP_NAME,
        user_id=str(user.pk).encode(),
        user_name=user.handle,
        user_display_name=getattr(getattr(user, "profile", None), "display_name", "") or user.handle,
        exclude_credentials=[PublicKeyCredentialDescriptor(id=bytes(key.credential_id))
                             for key in Passkey.objects.filter(user=user)],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    _webauthn_challenge_store(f"reg:{user.pk}", options.challenge)
    return json.loads(options_to_json(options))


def passkey_register(*, user: User, credential: dict | str, name: str = "",
                     client: ClientInfo | None = None) -> Passkey:
    """Verify the authenticator's attestation and save the credential. Raises Invalid."""
    import webauthn
    from webauthn.helpers.exceptions import WebAuthnException

    require_clean_text(name=name)
    challenge = _webauthn_challenge_take(f"reg:{user.pk}")
    if challenge is None:
        raise Invalid("The passkey set-up has expired. Start again.", field="credential", code="challenge_expired")
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.DAIRA_WEBAUTHN_RP_ID,
            expected_origin=settings.DAIRA_WEBAUTHN_ORIGINS,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise Invalid(f"The passkey could not be verified: {exc}", field="credential",
                      code="invalid_credential") from None
    with transaction.atomic():
        if Passkey.objects.filter(credential_id=verified.credential_id).exists():
            raise Conflict("This passkey is already registered.", field="credential")
        transports = []
        if isinstance(credential, dict):
            raw = (credential.get("response") or {}).get("transports") or []
            transports = [str(t)[:20] for t in raw][:8] if isinstance(raw, list) else []
        passkey = Passkey.objects.create(
            user=user,
            name=(name or "Passkey")[:64],
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            aaguid=str(verified.aaguid),
            transports=transports,
        )
        auth_event_record(user=user, kind=AuthEvent.Kind.PASSKEY_ADDED, client=client, passkey_id=str(passkey.pk))
    return passkey


def passkey_login_options(*, handle: str | None = None) -> tuple[str, dict]:
    """(challenge id, options for navigator.credentials.get()). With a handle, its
    credentials are listed; without, the authenticator offers its discoverable ones."""
    import webauthn
    from webauthn.helpers import options_to_json
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

    allow = []
    if handle and text_is_clean(handle):
        allow = [PublicKeyCredentialDescriptor(id=bytes(key.credential_id))
                 for key in Passkey.objects.filter(user__handle=str(handle).lower().removeprefix("@"))]
    options = webauthn.generate_authentication_options(rp_id=settings.DAIRA_WEBAUTHN_RP_ID, allow_credentials=allow)
    challenge_id = secrets.token_urlsafe(16)
    _webauthn_challenge_store(f"auth:{challenge_id}", options.challenge)
    return challenge_id, json.loads(options_to_json(options))


def passkey_login(*, challenge_id: str, credential: dict | str, client: ClientInfo | None = None) -> LoginResult:
    """Log in with a passkey assertion (no second factor: the passkey is one already)."""
    import webauthn
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.exceptions import WebAuthnException

    client = client or ClientInfo()
    _limit(LIMIT_LOGIN_IP, client.ip or "unknown", "Too many login attempts from this network. Try again later.")
    valid_id = isinstance(challenge_id, str) and text_is_clean(challenge_id) and len(challenge_id) <= 100
    challenge = _webauthn_challenge_take(f"auth:{challenge_id}") if valid_id else None
    if challenge is None:
        raise Invalid("The passkey login has expired. Start again.", field="challenge_id", code="challenge_expired")
    try:
        raw_id = credential["rawId"] if isinstance(credential, dict) else json.loads(credential)["rawId"]
        credential_id = base64url_to_bytes(raw_id)
    except (KeyError, TypeError, ValueError):
        raise Invalid("The passkey answer is malformed.", field="credential") from None
    passkey = Passkey.objects.select_related("user").filter(credential_id=credential_id).first()
    if passkey is None:
        raise NotAuthenticated("This passkey is not registered.", code="invalid_credentials")
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.DAIRA_WEBAUTHN_RP_ID,
            expected_origin=settings.DAIRA_WEBAUTHN_ORIGINS,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError):
        with transaction.atomic():
            auth_event_record(user=passkey.user, kind=AuthEvent.Kind.LOGIN_FAILED, client=client, method="passkey")
        raise NotAuthenticated("The passkey could not be verified.", code="invalid_credentials") from None
    Passkey.objects.filter(pk=passkey.pk).update(sign_count=verified.new_sign_count, last_used_at=timezone.now())
    return _finish_login(user=passkey.user, client=client, method="passkey")


@transaction.atomic
def passkey_delete(*, user: User, passkey_id: int, client: ClientInfo | None = None) -> None:
    deleted, _ = Passkey.objects.filter(pk=passkey_id, user=user).delete()
    if not deleted:
        raise NotFound("Passkey not found.")
    auth_event_record(user=user, kind=AuthEvent.Kind.PASSKEY_REMOVED, client=client, passkey_id=str(passkey_id))


# --- PDPL: export ---------------------------------------------------------------------------


@transaction.atomic
def data_export_request(*, user: User, client: ClientInfo | None = None) -> DataExport:
    """Queue a data export. One pending export at a time (Conflict otherwise); the zip is
    built by `data_export_build_task` after commit."""
    if DataExport.objects.filter(user=user, status=DataExport.Status.PENDING).exists():
        raise Conflict("An export is already being prepared.")
    export = DataExport.objects.create(user=user)
    auth_event_record(user=user, kind=AuthEvent.Kind.EXPORT_REQUESTED, client=client, export_id=str(export.pk))

    def enqueue():
        from accounts.tasks import data_export_build_task

        try:
            data_export_build_task.delay(export.pk)
        except Exception:  # broker down: the beat task retries pending exports
            logger.exception("export.enqueue_failed", extra={"export_id": export.pk})

    transaction.on_commit(enqueue)
    return export


def _export_payload(user: User) -> dict[str, Any]:
    from accounts import selectors

    profile = user.profile
    prefs = user.settings
    payload: dict[str, Any] = {
        "account": {
            "id": str(user.pk), "handle": user.handle, "phone": user.phone, "email": user.email,
            "status": user.status, "is_private": user.is_private, "date_joined": user.date_joined,
            "phone_verified_at": user.phone_verified_at, "email_verified_at": user.email_verified_at,
        },
        "profile": {
            "display_name": profile.display_name, "bio": profile.bio, "links": profile.links,
            "language": profile.language, "governorate": profile.governorate, "avatar": profile.avatar,
            "followers_count": profile.followers_count, "following_count": profile.following_count,
            "friends_count": profile.friends_count, "posts_count": profile.posts_count,
        },
        "settings": {name: getattr(prefs, name) for name in SETTINGS_FIELDS},
        "sessions": [
            {"id": str(s.pk), "device_name": s.device_name, "user_agent": s.user_agent, "ip": s.ip,
             "method": s.method, "created_at": s.created_at, "last_seen_at": s.last_seen_at,
             "revoked_at": s.revoked_at, "revoked_reason": s.revoked_reason}
            for s in DeviceSession.objects.filter(user=user).order_by("-id")
        ],
        "security_events": [
            {"kind": e.kind, "ip": e.ip, "user_agent": e.user_agent, "created_at": e.created_at, "data": e.data}
            for e in selectors.auth_event_list(user=user).order_by("-id")[:5000]
        ],
        "passkeys": [
            {"id": str(p.pk), "name": p.name, "created_at": p.created_at, "last_used_at": p.last_used_at}
            for p in Passkey.objects.filter(user=user)
        ],
    }
    for name, builder in registry.export_sections().items():
        payload[name] = builder(user)
    return payload


def data_export_build(*, export_id: int) -> DataExport | None:
    """Build the zip for one export (one JSON file per section), store it, mark it ready.

    Idempotent: a ready export is left alone. A section builder that raises marks the
    export failed (and re-raises, so the task's retry policy applies)."""
    export = DataExport.objects.select_related("user").filter(pk=export_id).first()
    if export is None or export.status == DataExport.Status.READY:
        return export
    user = export.user
    try:
        payload = _export_payload(user)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in payload.items():
                archive.writestr(f"{name}.json", json.dumps(data, ensure_ascii=False, indent=2, default=str))
            archive.writestr("README.txt", "Your DAIRA data export. Each .json file is one part of your data.\n")
        path = default_storage.save(f"exports/{user.pk}/{export.pk}-{secrets.token_hex(8)}.zip",
                                    ContentFile(buffer.getvalue()))
    except Exception as exc:
        DataExport.objects.filter(pk=export.pk).update(status=DataExport.Status.FAILED, error=str(exc)[:300],
                                                       finished_at=timezone.now())
        raise
    now = timezone.now()
    DataExport.objects.filter(pk=export.pk).update(
        status=DataExport.Status.READY, file=path, size=len(buffer.getvalue()), finished_at=now,
        expires_at=now + timedelta(seconds=settings.DAIRA_EXPORT_LINK_TTL_S), error="",
    )
    export.refresh_from_db()
    return export


def data_export_download_token(*, export: DataExport) -> str:
    return signing.TimestampSigner(salt="accounts.export").sign(str(export.pk))


def data_export_from_token(*, token: str) -> DataExport:
    """The ready export a download link points to. Gone once the link has expired."""
    signer = signing.TimestampSigner(salt="accounts.export")
    try:
        export_id = int(signer.unsign(token or "", max_age=settings.DAIRA_EXPORT_LINK_TTL_S))
    except signing.SignatureExpired:
        raise Gone("This download link has expired. Request a new export.") from None
    except (signing.BadSignature, ValueError):
        raise NotFound("Export not found.") from None
    export = DataExport.objects.filter(pk=export_id, status=DataExport.Status.READY).first()
    if export is None or not export.file:
        raise NotFound("Export not found.")
    if export.expires_at and export.expires_at <= timezone.now():
        raise Gone("This download link has expired. Request a new export.")
    return export


# --- PDPL: deletion -------------------------------------------------------------------------


@transaction.atomic
def user_deactivate(*, user: User, password: str | None, client: ClientInfo | None = None) -> None:
    """Delete the account, reversibly: hidden everywhere at once, sessions revoked, purged
    after DAIRA_DELETION_GRACE_DAYS (30) unless the owner logs in again. Needs the password
    when the account has one. Emits "user.deactivated"."""
    require_clean_text(password=password)
    if user.has_usable_password() and not user.check_password(password or ""):
        raise Invalid("The password is wrong.", field="password", code="wrong_password")
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(status=User.Status.DEACTIVATED, deactivated_at=now)
    user.status, user.deactivated_at = User.Status.DEACTIVATED, now
    _sessions_revoke_all(user=user, reason=DeviceSession.RevokeReason.DEACTIVATED)
    auth_event_record(user=user, kind=AuthEvent.Kind.DEACTIVATED, client=client)
    events.emit_on_commit("user.deactivated", user_id=user.pk)


@transaction.atomic
def user_reactivate(*, user: User, client: ClientInfo | None = None) -> None:
    """Undo a deactivation within the grace period (done by logging in). Emits "user.reactivated"."""
    updated = User.objects.filter(pk=user.pk, status=User.Status.DEACTIVATED).update(
        status=User.Status.ACTIVE, deactivated_at=None
    )
    if updated:
        user.status, user.deactivated_at = User.Status.ACTIVE, None
        auth_event_record(user=user, kind=AuthEvent.Kind.REACTIVATED, client=client)
        events.emit_on_commit("user.reactivated", user_id=user.pk)


@transaction.atomic
def user_purge(*, user: User) -> None:
    """Erase an account for good: deletion hooks of other apps run first, then the user row
    (and everything cascading from it) is deleted and stored files removed after commit.
    Emits "user.purged"."""
    user_id = user.pk
    for hook in registry.deletion_hooks():
        hook(user)
    files = list((Profile.objects.filter(user_id=user_id).values_list("avatar", flat=True).first() or {}).values())
    files += [path for path in DataExport.objects.filter(user_id=user_id).values_list("file", flat=True) if path]
    AuthEvent.objects.filter(actor_id=user_id).update(actor=None)
    user.delete()
    transaction.on_commit(lambda: _storage_delete(files))
    events.emit_on_commit("user.purged", user_id=user_id)


def users_purge_deactivated(*, now: datetime | None = None) -> int:
    """Purge every account deactivated longer than the grace period; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.DAIRA_DELETION_GRACE_DAYS)
    purged = 0
    for user in User.objects.filter(status=User.Status.DEACTIVATED, deactivated_at__lte=cutoff).iterator():
        user_purge(user=user)
        purged += 1
    return purged


def data_exports_expire(*, now: datetime | None = None) -> int:
    """Delete the files of exports whose link expired (the rows stay as history)."""
    now = now or timezone.now()
    expired = list(DataExport.objects.filter(status=DataExport.Status.READY, expires_at__lte=now).exclude(file=""))
    _storage_delete([export.file for export in expired])
    DataExport.objects.filter(pk__in=[export.pk for export in expired]).update(file="")
    return len(expired)


def otp_challenges_prune(*, now: datetime | None = None) -> int:
    """Delete OTP challenges older than a day (their cooldown and attempt history no longer matter)."""
    cutoff = (now or timezone.now()) - timedelta(days=1)
    deleted, _ = OtpChallenge.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def sessions_prune(*, now: datetime | None = None) -> int:
    """Delete sessions that ended (revoked or expired) more than 90 days ago; the audit log keeps the history."""
    cutoff = (now or timezone.now()) - timedelta(days=90)
    ended = DeviceSession.objects.filter(revoked_at__lt=cutoff) | DeviceSession.objects.filter(expires_at__lt=cutoff)
    deleted, _ = ended.delete()
    return deleted
