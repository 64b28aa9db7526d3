"""Accounts: the user model (from the first migration) and what belongs to one account."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from daira.lib.models import SnowflakeIdField


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(handle=str(username).lower())

    def _create(self, handle: str, password: str | None, **fields) -> User:
        """Create the user with its Profile and UserSettings rows (every user has both)."""
        if not handle:
            raise ValueError("A handle is required.")
        email = fields.pop("email", None)
        user = self.model(handle=handle.lower(), email=self.normalize_email(email).lower() if email else None, **fields)
        user.set_password(password)
        user.save(using=self._db)
        Profile.objects.using(self._db).create(user=user)
        UserSettings.objects.using(self._db).create(user=user)
        return user

    def create_user(self, handle: str, password: str | None = None, **fields) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(handle, password, **fields)

    def create_superuser(self, handle: str, password: str | None = None, **fields) -> User:
        fields["is_staff"] = True
        fields["is_superuser"] = True
        return self._create(handle, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A DAIRA account. The handle is the public name (@handle).

    Handles are stored lower-case (a check constraint enforces it), so the plain unique
    index on `handle` is case-insensitive uniqueness.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        DEACTIVATED = "deactivated", "Deactivated"

    id = SnowflakeIdField()
    handle = models.CharField(max_length=30, unique=True, help_text="3–30 of a-z 0-9 _ . (stored lower-case)")
    phone = models.CharField(max_length=20, null=True, blank=True, help_text="E.164, e.g. +201012345678")
    email = models.EmailField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    last_active_at = models.DateTimeField(null=True, blank=True)
    is_private = models.BooleanField(default=False, help_text="Only approved followers see posts")
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    phone_verified_at = models.DateTimeField(null=True, blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    suspended_until = models.DateTimeField(null=True, blank=True, help_text="Empty while suspended: indefinitely")
    suspension_reason = models.CharField(max_length=300, blank=True, default="")
    deactivated_at = models.DateTimeField(null=True, blank=True, help_text="Purged 30 days later unless restored")

    objects = UserManager()

    USERNAME_FIELD = "handle"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["phone"], name="user_phone_unique"),
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(condition=models.Q(handle=Lower("handle")), name="user_handle_lowercase"),
        ]
        indexes = [models.Index(fields=["last_active_at"], name="user_last_active_idx")]

    def __str__(self) -> str:
        return f"@{self.handle}"

    @property
    def is_active(self) -> bool:  # Django auth, admin and DRF all consult this
        return self.status == self.Status.ACTIVE


# Egypt's 27 governorates by ISO 3166-2:EG code: (code, English name, Arabic name).
GOVERNORATES: tuple[tuple[str, str, str], ...] = (
    ("EG-ALX", "Alexandria", "الإسكندرية"), ("EG-ASN", "Aswan", "أسوان"), ("EG-AST", "Asyut", "أسيوط"),
    ("EG-BA", "Red Sea", "البحر الأحمر"), ("EG-BH", "Beheira", "البحيرة"), ("EG-BNS", "Beni Suef", "بني سويف"),
    ("EG-C", "Cairo", "القاهرة"), ("EG-DK", "Dakahlia", "الدقهلية"), ("EG-DT", "Damietta", "دمياط"),
    ("EG-FYM", "Faiyum", "الفيوم"), ("EG-GH", "Gharbia", "الغربية"), ("EG-GZ", "Giza", "الجيزة"),
    ("EG-IS", "Ismailia", "الإسماعيلية"), ("EG-JS", "South Sinai", "جنوب سيناء"), ("EG-KB", "Qalyubia", "القليوبية"),
    ("EG-KFS", "Kafr El Sheikh", "كفر الشيخ"), ("EG-KN", "Qena", "قنا"), ("EG-LX", "Luxor", "الأقصر"),
    ("EG-MN", "Minya", "المنيا"), ("EG-MNF", "Monufia", "المنوفية"), ("EG-MT", "Matrouh", "مطروح"),
    ("EG-PTS", "Port Said", "بورسعيد"), ("EG-SHG", "Sohag", "سوهاج"), ("EG-SHR", "Sharqia", "الشرقية"),
    ("EG-SIN", "North Sinai", "شمال سيناء"), ("EG-SUZ", "Suez", "السويس"), ("EG-WAD", "New Valley", "الوادي الجديد"),
)
GOVERNORATE_CODES = frozenset(code for code, _, _ in GOVERNORATES)


class Profile(models.Model):
    """What others see of an account, and its public counts.

    The counts are denormalised and kept exact by the services that change them (social
    for follows/friends, content for posts) through `accounts.services.profile_counts_add`,
    which updates with F() expressions so concurrent changes never lose an increment.
    """

    class Language(models.TextChoices):
        ARABIC = "ar", "العربية"
        ENGLISH = "en", "English"

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="profile")
    display_name = models.CharField(max_length=64, blank=True, default="")
    bio = models.CharField(max_length=150, blank=True, default="")
    links = models.JSONField(default=list, blank=True, help_text="Up to 5 http(s) URLs")
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.ARABIC)
    avatar = models.JSONField(default=dict, blank=True, help_text="Rendition URLs/paths by size")
    # Private to the account (on /me, never on the public profile): For-You uses it for
    # "popular near you". Empty until the user picks one.
    governorate = models.CharField(
        max_length=6, blank=True, default="", choices=[(code, en) for code, en, _ in GOVERNORATES],
        help_text="Optional, private: ISO 3166-2:EG code, e.g. EG-C (Cairo)",
    )
    followers_count = models.PositiveIntegerField(default=0)
    following_count = models.PositiveIntegerField(default=0)
    friends_count = models.PositiveIntegerField(default=0)
    posts_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class UserSettings(models.Model):
    """Per-account privacy and app preferences. `is_private` lives on User for cheap policy joins."""

    class Audience(models.TextChoices):
        EVERYONE = "everyone", "Everyone"
        FOLLOWING = "following", "People I follow"
        NOBODY = "nobody", "Nobody"

    class DefaultPostAudience(models.TextChoices):
        PUBLIC = "public", "Public"
        FOLLOWERS = "followers", "Followers"
        FRIENDS = "friends", "Friends"
        CLOSE_FRIENDS = "close_friends", "Close friends"

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="settings")
    data_saver = models.BooleanField(default=True, help_text="New accounts start with data saver on")
    who_can_message = models.CharField(max_length=10, choices=Audience.choices, default=Audience.EVERYONE)
    who_can_mention = models.CharField(max_length=10, choices=Audience.choices, default=Audience.EVERYONE)
    show_activity_status = models.BooleanField(default=True)
    read_receipts = models.BooleanField(default=True)
    default_post_audience = models.CharField(
        max_length=16, choices=DefaultPostAudience.choices, default=DefaultPostAudience.PUBLIC
    )

    def __str__(self) -> str:
        return f"settings of {self.user_id}"


# --- Sessions, security log, OTP, passkeys, exports (issue 3) -------------------------------


class DeviceSession(models.Model):
    """One login on one device: the family of every refresh/access token descended from it.

    `refresh_jti` is the only refresh token of the family that may still be used. A refresh
    presenting any other jti of this session is a replay of a rotated token (theft), and
    revokes the whole session. Access tokens carry the session id (`sid`), so revoking the
    session refuses them at once.
    """

    class RevokeReason(models.TextChoices):
        LOGOUT = "logout", "Logged out"
        REVOKED = "revoked", "Revoked by the user"
        TOKEN_REUSE = "token_reuse", "Refresh token reused"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        SUSPENDED = "suspended", "Account suspended"
        DEACTIVATED = "deactivated", "Account deactivated"
        ADMIN = "admin", "Revoked by staff"

    id = SnowflakeIdField()
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="device_sessions")
    device_name = models.CharField(max_length=100, blank=True, default="")
    user_agent = models.CharField(max_length=300, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    method = models.CharField(max_length=16, default="password", help_text="How this session logged in")
    refresh_jti = models.CharField(max_length=64)
    refresh_generation = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=20, choices=RevokeReason.choices, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"], name="session_user_active_idx")]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.user_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class AuthEvent(models.Model):
    """The auth audit log: one row per security-relevant event of an account."""

    class Kind(models.TextChoices):
        REGISTERED = "registered", "Registered"
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOGOUT = "logout", "Logged out"
        OTP_SENT = "otp_sent", "OTP sent"
        OTP_VERIFIED = "otp_verified", "OTP verified"
        OTP_FAILED = "otp_failed", "OTP failed"
        TOKEN_REUSE = "token_reuse", "Refresh token reuse detected"
        SESSION_REVOKED = "session_revoked", "Session revoked"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        PHONE_CHANGED = "phone_changed", "Phone changed"
        EMAIL_CHANGED = "email_changed", "E-mail changed"
        EMAIL_VERIFIED = "email_verified", "E-mail verified"
        TOTP_ENABLED = "totp_enabled", "Two-factor enabled"
        TOTP_DISABLED = "totp_disabled", "Two-factor disabled"
        PASSKEY_ADDED = "passkey_added", "Passkey added"
        PASSKEY_REMOVED = "passkey_removed", "Passkey removed"
        SUSPENDED = "suspended", "Suspended"
        UNSUSPENDED = "unsuspended", "Unsuspended"
        DEACTIVATED = "deactivated", "Deactivated"
        REACTIVATED = "reactivated", "Reactivated"
        EXPORT_REQUESTED = "export_requested", "Data export requested"

    id = SnowflakeIdField()
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="auth_events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    session = models.ForeignKey(DeviceSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "-id"], name="authevent_user_idx")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.user_id}"


class OtpChallenge(models.Model):
    """A one-time code sent to a phone number. Only an HMAC of the code is stored."""

    class Purpose(models.TextChoices):
        REGISTER = "register", "Register"
        LOGIN = "login", "Log in"
        CHANGE_PHONE = "change_phone", "Change phone"

    class Channel(models.TextChoices):
        FLASH_CALL = "flash_call", "Flash call"
        WHATSAPP = "whatsapp", "WhatsApp"
        SMS = "sms", "SMS"
        CONSOLE = "console", "Console (development)"

    id = SnowflakeIdField()
    phone = models.CharField(max_length=20)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["phone", "purpose", "-created_at"], name="otp_phone_purpose_idx")]


class Passkey(models.Model):
    """A WebAuthn credential (the mobile apps' biometric login)."""

    id = SnowflakeIdField()
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=64, blank=True, default="")
    credential_id = models.BinaryField(unique=True)
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"passkey {self.name or self.pk} of {self.user_id}"


class DataExport(models.Model):
    """A PDPL data export: a zip built by a Celery job, downloadable through a signed link."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    id = SnowflakeIdField()
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="data_exports")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    file = models.CharField(max_length=300, blank=True, default="", help_text="Path in default storage")
    size = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
