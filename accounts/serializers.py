"""Output shapes of accounts, shared by REST views (and documented in OpenAPI).

Every id is a string: snowflakes exceed JavaScript's 2^53.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from rest_framework import serializers

from accounts import selectors
from accounts.models import AuthEvent, DataExport, DeviceSession, Passkey, Profile, User, UserSettings


def avatar_urls(profile: Profile) -> dict[str, str]:
    return {size: default_storage.url(path) for size, path in (profile.avatar or {}).items()}


class CountsSerializer(serializers.Serializer):
    followers = serializers.IntegerField(source="followers_count")
    following = serializers.IntegerField(source="following_count")
    friends = serializers.IntegerField(source="friends_count")
    posts = serializers.IntegerField(source="posts_count")


class AvatarSerializer(serializers.Serializer):
    small = serializers.CharField(source="200", required=False, help_text="200×200 JPEG URL")
    large = serializers.CharField(source="400", required=False, help_text="400×400 JPEG URL")


class PublicProfileSerializer(serializers.Serializer):
    """A public profile. Higher apps add fields (e.g. is_following, follows_you) via accounts.registry."""

    id = serializers.CharField(read_only=True)
    handle = serializers.CharField()
    display_name = serializers.CharField(source="profile.display_name")
    bio = serializers.CharField(source="profile.bio")
    links = serializers.ListField(child=serializers.URLField(), source="profile.links")
    language = serializers.CharField(source="profile.language")
    avatar = serializers.SerializerMethodField()
    is_private = serializers.BooleanField()
    counts = CountsSerializer(source="profile")
    date_joined = serializers.DateTimeField()

    def get_avatar(self, user) -> dict[str, str]:
        return avatar_urls(user.profile)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["id"] = str(instance.pk)
        data.update(selectors.profile_extras(viewer=self.context.get("viewer"), user=instance))
        return data


class SettingsSerializer(serializers.Serializer):
    is_private = serializers.BooleanField(source="user.is_private")
    data_saver = serializers.BooleanField()
    who_can_message = serializers.ChoiceField(choices=UserSettings.Audience.choices)
    who_can_mention = serializers.ChoiceField(choices=UserSettings.Audience.choices)
    show_activity_status = serializers.BooleanField()
    read_receipts = serializers.BooleanField()
    default_post_audience = serializers.ChoiceField(choices=UserSettings.DefaultPostAudience.choices)


class MeSerializer(PublicProfileSerializer):
    phone = serializers.CharField(allow_null=True)
    email = serializers.EmailField(allow_null=True)
    phone_verified = serializers.SerializerMethodField()
    email_verified = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=User.Status.choices)
    governorate = serializers.CharField(source="profile.governorate",
                                        help_text="Private: ISO 3166-2:EG code, '' when not set")
    two_factor_enabled = serializers.SerializerMethodField()
    passkeys = serializers.SerializerMethodField()
    settings = SettingsSerializer()

    def get_phone_verified(self, user) -> bool:
        return user.phone_verified_at is not None

    def get_email_verified(self, user) -> bool:
        return user.email_verified_at is not None

    def get_two_factor_enabled(self, user) -> bool:
        return selectors.two_factor_enabled(user=user)

    def get_passkeys(self, user) -> int:
        return selectors.passkey_list(user=user).count()

    def to_representation(self, instance):
        self.context.setdefault("viewer", instance)
        return super().to_representation(instance)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Bearer token, 15 minutes")
    refresh = serializers.CharField(help_text="Refresh token, 30 days, single use (rotated)")
    access_expires_at = serializers.DateTimeField()
    refresh_expires_at = serializers.DateTimeField()
    session_id = serializers.CharField()


class LoginOutputSerializer(serializers.Serializer):
    """Tokens and the account, or `two_factor_required` with a challenge for /auth/login/2fa."""

    two_factor_required = serializers.BooleanField()
    challenge = serializers.CharField(required=False, allow_null=True)
    restored = serializers.BooleanField(help_text="True when this login undid a pending account deletion")
    tokens = TokenPairSerializer(required=False, allow_null=True)
    user = MeSerializer(required=False, allow_null=True)


def token_pair_data(pair) -> dict:
    return {
        "access": pair.access,
        "refresh": pair.refresh,
        "access_expires_at": pair.access_expires_at.isoformat(),
        "refresh_expires_at": pair.refresh_expires_at.isoformat(),
        "session_id": str(pair.session_id),
    }


def login_data(result) -> dict:
    if result.two_factor_challenge:
        return {"two_factor_required": True, "challenge": result.two_factor_challenge, "restored": result.restored,
                "tokens": None, "user": None}
    return {
        "two_factor_required": False,
        "challenge": None,
        "restored": result.restored,
        "tokens": token_pair_data(result.tokens),
        "user": MeSerializer(User.objects.select_related("profile", "settings").get(pk=result.user.pk)).data,
    }


class SessionSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    current = serializers.SerializerMethodField()

    class Meta:
        model = DeviceSession
        fields = ["id", "device_name", "user_agent", "ip", "method", "created_at", "last_seen_at", "current"]

    def get_current(self, session) -> bool:
        return session.pk == self.context.get("current_session_id")


class AuthEventSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    session_id = serializers.SerializerMethodField()

    class Meta:
        model = AuthEvent
        fields = ["id", "kind", "ip", "user_agent", "session_id", "data", "created_at"]

    def get_session_id(self, event) -> str | None:
        return str(event.session_id) if event.session_id else None


class PasskeySerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)

    class Meta:
        model = Passkey
        fields = ["id", "name", "transports", "created_at", "last_used_at"]


class DataExportSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DataExport
        fields = ["id", "status", "size", "created_at", "finished_at", "expires_at", "download_url"]

    def get_download_url(self, export) -> str | None:
        from django.conf import settings
        from django.utils import timezone

        from accounts.services import data_export_download_token

        if export.status != DataExport.Status.READY or not export.file:
            return None
        if export.expires_at and export.expires_at <= timezone.now():
            return None
        token = data_export_download_token(export=export)
        return f"{settings.PUBLIC_BASE_URL}/api/v1/me/exports/download?token={token}"


class OtpSentSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=["flash_call", "whatsapp", "sms", "console"],
                                      help_text="How the code was sent. For flash_call, send back the caller id.")
    expires_in = serializers.IntegerField(help_text="Seconds the code stays valid")
    resend_after = serializers.IntegerField(help_text="Seconds before another code may be requested")
    code_length = serializers.IntegerField()
