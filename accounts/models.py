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
