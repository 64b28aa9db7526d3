"""Accounts REST API: /api/v1/auth/... (anonymous) and /api/v1/me... (the caller), /api/v1/users/{handle}.

Views are thin: parse with a nested InputSerializer, call one service or selector, render.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import GOVERNORATES, OtpChallenge, Profile, UserSettings
from accounts.serializers import (
    AuthEventSerializer,
    DataExportSerializer,
    LoginOutputSerializer,
    MeSerializer,
    OtpSentSerializer,
    PasskeySerializer,
    PublicProfileSerializer,
    SessionSerializer,
    SettingsSerializer,
    TokenPairSerializer,
    login_data,
    token_pair_data,
)
from daira.lib.errors import NotFound, PayloadTooLarge
from daira.lib.pagination import paginate_by_id, paginated_response, parse_limit

DEVICE_NAME_HELP = "Shown in the sessions list, e.g. \"Galaxy A54\". Also read from the X-Device-Name header."


def client_info(request, device_name: str | None = None) -> services.ClientInfo:
    """Caller IP (X-Forwarded-For only through DAIRA_TRUSTED_PROXY_COUNT proxies), UA, device name."""
    ip = request.META.get("REMOTE_ADDR")
    hops = settings.DAIRA_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(chain) >= hops:
            ip = chain[-hops]
    return services.ClientInfo(
        ip=ip or None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        device_name=(device_name or request.META.get("HTTP_X_DEVICE_NAME", ""))[:100],
    )


def _snowflake(raw: str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise NotFound("Not found.") from None
    if not 0 < value < 1 << 63:
        raise NotFound("Not found.")
    return value


def _current_session_id(request) -> int | None:
    return getattr(request.user, "current_session_id", None)


def _page_of(serializer_class, name: str):
    """OpenAPI shape of a cursor page: {"results": [...], "next_cursor": "..."|null}."""
    return inline_serializer(name, {"results": serializer_class(many=True),
                                    "next_cursor": serializers.CharField(allow_null=True)})


PAGE_PARAMETERS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, description="next_cursor of the previous page"),
    OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (default 20, at most 100)"),
]


class AnonymousApi(APIView):
    """Auth endpoints: no Bearer needed, and a stale one must not block logging in again."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class MeApiBase(APIView):
    permission_classes = [IsAuthenticated]


LOGIN_EXAMPLES = [
    OpenApiExample(
        "Logged in",
        response_only=True,
        value={
            "two_factor_required": False, "challenge": None, "restored": False,
            "tokens": {"access": "eyJ...", "refresh": "eyJ...", "access_expires_at": "2026-01-01T10:15:00Z",
                       "refresh_expires_at": "2026-01-31T10:00:00Z", "session_id": "7293847562938475"},
            "user": {"id": "7293847562938470", "handle": "mona.k", "display_name": "Mona"},
        },
    ),
    OpenApiExample(
        "Second factor needed",
        response_only=True,
        value={"two_factor_required": True, "challenge": "eyJ1aWQi...", "restored": False, "tokens": None,
               "user": None},
    ),
]


# --- auth -----------------------------------------------------------------------------------


class RegisterApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        handle = serializers.CharField(max_length=64)
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True)
        email = serializers.CharField(max_length=254, required=False, allow_blank=True, allow_null=True)
        otp_code = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True,
                                         help_text="Code from /auth/otp/request (purpose register) when a phone is given")
        language = serializers.ChoiceField(choices=Profile.Language.choices, required=False)
        device_name = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text=DEVICE_NAME_HELP)

    @extend_schema(
        summary="Sign up",
        request=InputSerializer,
        responses={201: LoginOutputSerializer},
        examples=[OpenApiExample("Phone sign-up", request_only=True,
                                 value={"handle": "mona.k", "password": "a long passphrase", "phone": "01012345678",
                                        "otp_code": "123456", "device_name": "Galaxy A54"}), *LOGIN_EXAMPLES],
    )
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        result = services.user_register(client=client_info(request, data.pop("device_name", None)), **data)
        return Response(login_data(result), status=status.HTTP_201_CREATED)


class LoginApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        identifier = serializers.CharField(max_length=254, help_text="Handle, phone number or e-mail")
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        device_name = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text=DEVICE_NAME_HELP)

    @extend_schema(
        summary="Log in with a password",
        description="5 attempts per 15 minutes per identifier and 20 per IP, then 429 with Retry-After.",
        request=InputSerializer,
        responses={200: LoginOutputSerializer},
        examples=[OpenApiExample("By phone", request_only=True,
                                 value={"identifier": "01012345678", "password": "a long passphrase"}),
                  *LOGIN_EXAMPLES],
    )
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        result = services.login_with_password(identifier=data["identifier"], password=data["password"],
                                              client=client_info(request, data.get("device_name")))
        return Response(login_data(result))


class LoginTwoFactorApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        challenge = serializers.CharField(max_length=1000)
        code = serializers.CharField(max_length=16)
        device_name = serializers.CharField(max_length=100, required=False, allow_blank=True)

    @extend_schema(summary="Complete a login with a TOTP code", request=InputSerializer,
                   responses={200: LoginOutputSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        result = services.login_two_factor_complete(challenge=data["challenge"], code=data["code"],
                                                    client=client_info(request, data.get("device_name")))
        return Response(login_data(result))


class OtpRequestApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=32)
        purpose = serializers.ChoiceField(choices=[OtpChallenge.Purpose.REGISTER, OtpChallenge.Purpose.LOGIN])

    @extend_schema(
        summary="Send a phone code (flash call → WhatsApp → SMS)",
        description="Codes last 10 minutes; one request per 60 s and 3 per 10 minutes per number (429 + Retry-After).",
        request=InputSerializer,
        responses={200: OtpSentSerializer},
        examples=[OpenApiExample("Sent by WhatsApp", response_only=True,
                                 value={"channel": "whatsapp", "expires_in": 600, "resend_after": 60, "code_length": 6})],
    )
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        challenge = services.otp_request(client=client_info(request), **payload.validated_data)
        return Response(_otp_sent(challenge))


def _otp_sent(challenge) -> dict:
    return {
        "channel": challenge.channel,
        "expires_in": int(services.OTP_TTL.total_seconds()),
        "resend_after": int(services.OTP_RESEND_COOLDOWN.total_seconds()),
        "code_length": services.OTP_LENGTH,
    }


class OtpLoginApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=32)
        code = serializers.CharField(max_length=32, help_text="The code, or the caller id of the flash call")
        device_name = serializers.CharField(max_length=100, required=False, allow_blank=True)

    @extend_schema(summary="Log in with a phone code", request=InputSerializer, responses={200: LoginOutputSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        result = services.login_with_otp(phone=data["phone"], code=data["code"],
                                         client=client_info(request, data.get("device_name")))
        return Response(login_data(result))


class TokenRefreshApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        refresh = serializers.CharField(max_length=4096)

    @extend_schema(
        summary="Rotate the refresh token",
        description="Each refresh token works once. Re-using a rotated one ends the whole session (theft).",
        request=InputSerializer,
        responses={200: TokenPairSerializer},
    )
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        pair = services.session_refresh(refresh_token=payload.validated_data["refresh"], client=client_info(request))
        return Response(token_pair_data(pair))


class LogoutApi(MeApiBase):
    @extend_schema(summary="Log out this device", request=None, responses={204: None})
    def post(self, request):
        session_id = _current_session_id(request)
        if session_id is not None:
            services.session_revoke(user=request.user, session_id=session_id, reason="logout",
                                    client=client_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasskeyLoginOptionsApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        handle = serializers.CharField(max_length=64, required=False, allow_blank=True)

    @extend_schema(
        summary="Start a passkey login",
        request=InputSerializer,
        responses={200: inline_serializer("PasskeyLoginOptions", {
            "challenge_id": serializers.CharField(),
            "options": serializers.JSONField(help_text="PublicKeyCredentialRequestOptions (JSON)"),
        })},
    )
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        challenge_id, options = services.passkey_login_options(handle=payload.validated_data.get("handle") or None)
        return Response({"challenge_id": challenge_id, "options": options})


class PasskeyLoginApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        challenge_id = serializers.CharField(max_length=100)
        credential = serializers.DictField(help_text="The PublicKeyCredential from navigator.credentials.get()")
        device_name = serializers.CharField(max_length=100, required=False, allow_blank=True)

    @extend_schema(summary="Log in with a passkey", request=InputSerializer, responses={200: LoginOutputSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        result = services.passkey_login(challenge_id=data["challenge_id"], credential=data["credential"],
                                        client=client_info(request, data.get("device_name")))
        return Response(login_data(result))


class EmailVerifyApi(AnonymousApi):
    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=1000)

    @extend_schema(summary="Confirm an e-mail address (link from the e-mail)",
                   parameters=[OpenApiParameter("token", OpenApiTypes.STR, required=True)],
                   responses={200: inline_serializer("EmailVerified", {"email_verified": serializers.BooleanField()})})
    def get(self, request):
        payload = self.InputSerializer(data=request.query_params)
        payload.is_valid(raise_exception=True)
        services.email_verify(token=payload.validated_data["token"])
        return Response({"email_verified": True})

    @extend_schema(summary="Confirm an e-mail address", request=InputSerializer,
                   responses={200: inline_serializer("EmailVerifiedPost", {"email_verified": serializers.BooleanField()})})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.email_verify(token=payload.validated_data["token"])
        return Response({"email_verified": True})


# --- me -------------------------------------------------------------------------------------


class MeApi(MeApiBase):
    class InputSerializer(serializers.Serializer):
        display_name = serializers.CharField(max_length=64, required=False, allow_blank=True)
        bio = serializers.CharField(max_length=150, required=False, allow_blank=True, trim_whitespace=False)
        links = serializers.ListField(child=serializers.CharField(max_length=300), max_length=5, required=False)
        language = serializers.ChoiceField(choices=Profile.Language.choices, required=False)
        governorate = serializers.CharField(
            max_length=16, required=False, allow_blank=True,
            help_text="Private (never on your public profile): ISO 3166-2:EG code from GET /governorates; '' clears it")

    class DeleteSerializer(serializers.Serializer):
        password = serializers.CharField(max_length=128, required=False, allow_blank=True, trim_whitespace=False)

    @extend_schema(summary="My account", responses={200: MeSerializer})
    def get(self, request):
        return Response(MeSerializer(_fresh(request.user)).data)

    @extend_schema(
        summary="Edit my profile",
        request=InputSerializer,
        responses={200: MeSerializer},
        examples=[OpenApiExample("Edit", request_only=True,
                                 value={"display_name": "منى", "bio": "Cairo · photos", "links": ["https://mona.example"],
                                        "language": "ar", "governorate": "EG-C"})],
    )
    def patch(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.profile_update(user=request.user, **payload.validated_data)
        return Response(MeSerializer(_fresh(request.user)).data)

    @extend_schema(
        summary="Delete my account",
        description="Deactivates at once (hidden, logged out everywhere). Logging in within 30 days restores it; "
                    "after that it is purged.",
        request=DeleteSerializer,
        responses={204: None},
    )
    def delete(self, request):
        payload = self.DeleteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.user_deactivate(user=request.user, password=payload.validated_data.get("password"),
                                 client=client_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _fresh(user):
    from accounts.models import User

    return User.objects.select_related("profile", "settings").get(pk=user.pk)


class MeSettingsApi(MeApiBase):
    class InputSerializer(serializers.Serializer):
        is_private = serializers.BooleanField(required=False)
        data_saver = serializers.BooleanField(required=False)
        who_can_message = serializers.ChoiceField(choices=UserSettings.Audience.choices, required=False)
        who_can_mention = serializers.ChoiceField(choices=UserSettings.Audience.choices, required=False)
        show_activity_status = serializers.BooleanField(required=False)
        read_receipts = serializers.BooleanField(required=False)
        default_post_audience = serializers.ChoiceField(choices=UserSettings.DefaultPostAudience.choices,
                                                        required=False)

    @extend_schema(summary="My privacy and app settings", responses={200: SettingsSerializer})
    def get(self, request):
        return Response(SettingsSerializer(_fresh(request.user).settings).data)

    @extend_schema(summary="Change settings", request=InputSerializer, responses={200: SettingsSerializer})
    def patch(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.settings_update(user=request.user, **payload.validated_data)
        return Response(SettingsSerializer(_fresh(request.user).settings).data)


class MeAvatarApi(MeApiBase):
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        avatar = serializers.FileField(help_text="JPEG, PNG or WebP (checked by content), at most 10 MB")

    @extend_schema(summary="Upload an avatar", request={"multipart/form-data": InputSerializer},
                   responses={200: MeSerializer})
    def put(self, request):
        # This path is exempt from the global body limit; refuse oversized bodies before
        # Django spools them to disk (10 MB for the file plus room for the multipart framing).
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DAIRA_AVATAR_MAX_BYTES + 64 * 1024:
            raise PayloadTooLarge("An avatar may be at most 10 MB.", field="avatar")
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.avatar_set(user=request.user, upload=payload.validated_data["avatar"])
        return Response(MeSerializer(_fresh(request.user)).data)

    post = put

    @extend_schema(summary="Remove my avatar", responses={200: MeSerializer})
    def delete(self, request):
        services.avatar_remove(user=request.user)
        return Response(MeSerializer(_fresh(request.user)).data)


class MeSessionsApi(MeApiBase):
    @extend_schema(summary="My logged-in devices", responses={200: _page_of(SessionSerializer, "SessionPage")}, parameters=PAGE_PARAMETERS)
    def get(self, request):
        page = paginate_by_id(selectors.session_list_active(user=request.user),
                              cursor=request.query_params.get("cursor"),
                              limit=parse_limit(request.query_params.get("limit")))
        return paginated_response(page, SessionSerializer, context={"current_session_id": _current_session_id(request)})


class MeSessionRevokeApi(MeApiBase):
    @extend_schema(summary="Log out one device", responses={204: None})
    def delete(self, request, session_id: str):
        services.session_revoke(user=request.user, session_id=_snowflake(session_id), client=client_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeSessionsRevokeOthersApi(MeApiBase):
    @extend_schema(summary="Log out every other device", request=None,
                   responses={200: inline_serializer("SessionsRevoked", {"revoked": serializers.IntegerField()})})
    def post(self, request):
        count = services.session_revoke_others(user=request.user, current_session_id=_current_session_id(request),
                                               client=client_info(request))
        return Response({"revoked": count})


class MeSecurityEventsApi(MeApiBase):
    @extend_schema(summary="My auth audit log (logins, failures, OTPs, token reuse, changes)",
                   responses={200: _page_of(AuthEventSerializer, "AuthEventPage")}, parameters=PAGE_PARAMETERS)
    def get(self, request):
        page = paginate_by_id(selectors.auth_event_list(user=request.user), cursor=request.query_params.get("cursor"),
                              limit=parse_limit(request.query_params.get("limit")))
        return paginated_response(page, AuthEventSerializer)


class MePhoneApi(MeApiBase):
    class InputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=32)

    @extend_schema(summary="Change phone: send a code to the new number", request=InputSerializer,
                   responses={200: OtpSentSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        challenge = services.phone_change_request(user=request.user, phone=payload.validated_data["phone"],
                                                  client=client_info(request))
        return Response(_otp_sent(challenge))


class MePhoneConfirmApi(MeApiBase):
    class InputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=32)
        code = serializers.CharField(max_length=32)

    @extend_schema(summary="Change phone: confirm the code", request=InputSerializer, responses={200: MeSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.phone_change_confirm(user=request.user, client=client_info(request), **payload.validated_data)
        return Response(MeSerializer(_fresh(request.user)).data)


class MePasswordApi(MeApiBase):
    class InputSerializer(serializers.Serializer):
        current_password = serializers.CharField(max_length=128, trim_whitespace=False, allow_blank=True)
        new_password = serializers.CharField(max_length=128, trim_whitespace=False)

    @extend_schema(summary="Change password (logs out every other device)", request=InputSerializer,
                   responses={200: inline_serializer("PasswordChanged", {"sessions_revoked": serializers.IntegerField()})})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        ended = services.password_change(user=request.user, current_session_id=_current_session_id(request),
                                         client=client_info(request), **payload.validated_data)
        return Response({"sessions_revoked": ended})


class MeEmailApi(MeApiBase):
    class InputSerializer(serializers.Serializer):
        email = serializers.CharField(max_length=254)

    @extend_schema(summary="Change e-mail (sends a verification link)", request=InputSerializer,
                   responses={200: MeSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.email_change(user=request.user, email=payload.validated_data["email"], client=client_info(request))
        return Response(MeSerializer(_fresh(request.user)).data)


class MeEmailResendApi(MeApiBase):
    @extend_schema(summary="Send the verification e-mail again", request=None, responses={202: None})
    def post(self, request):
        services.email_verification_resend(user=request.user)
        return Response(status=status.HTTP_202_ACCEPTED)


class MeTotpApi(MeApiBase):
    class CodeSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=16)

    @extend_schema(summary="Start TOTP set-up", request=None,
                   responses={201: inline_serializer("TotpSetup", {
                       "otpauth_url": serializers.CharField(help_text="Show as a QR code"),
                       "secret": serializers.CharField(help_text="Base32, for manual entry")})})
    def post(self, request):
        import base64

        device = services.totp_setup(user=request.user)
        return Response({"otpauth_url": device.config_url, "secret": base64.b32encode(device.bin_key).decode()},
                        status=status.HTTP_201_CREATED)

    @extend_schema(summary="Turn TOTP off", request=CodeSerializer, responses={204: None})
    def delete(self, request):
        payload = self.CodeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.totp_disable(user=request.user, code=payload.validated_data["code"], client=client_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeTotpConfirmApi(MeApiBase):
    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=16)

    @extend_schema(summary="Confirm TOTP set-up with a code from the app", request=InputSerializer, responses={204: None})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.totp_confirm(user=request.user, code=payload.validated_data["code"], client=client_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MePasskeysApi(MeApiBase):
    class InputSerializer(serializers.Serializer):
        credential = serializers.DictField(help_text="The PublicKeyCredential from navigator.credentials.create()")
        name = serializers.CharField(max_length=64, required=False, allow_blank=True)

    @extend_schema(summary="My passkeys", responses={200: _page_of(PasskeySerializer, "PasskeyPage")}, parameters=PAGE_PARAMETERS)
    def get(self, request):
        page = paginate_by_id(selectors.passkey_list(user=request.user), cursor=request.query_params.get("cursor"),
                              limit=parse_limit(request.query_params.get("limit")))
        return paginated_response(page, PasskeySerializer)

    @extend_schema(summary="Add a passkey", request=InputSerializer, responses={201: PasskeySerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        passkey = services.passkey_register(user=request.user, credential=payload.validated_data["credential"],
                                            name=payload.validated_data.get("name", ""), client=client_info(request))
        return Response(PasskeySerializer(passkey).data, status=status.HTTP_201_CREATED)


class MePasskeyOptionsApi(MeApiBase):
    @extend_schema(summary="Options for navigator.credentials.create()", request=None,
                   responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        return Response(services.passkey_registration_options(user=request.user))


class MePasskeyDeleteApi(MeApiBase):
    @extend_schema(summary="Remove a passkey", responses={204: None})
    def delete(self, request, passkey_id: str):
        services.passkey_delete(user=request.user, passkey_id=_snowflake(passkey_id), client=client_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportsApi(MeApiBase):
    @extend_schema(summary="My data exports", responses={200: _page_of(DataExportSerializer, "DataExportPage")}, parameters=PAGE_PARAMETERS)
    def get(self, request):
        page = paginate_by_id(selectors.data_export_list(user=request.user), cursor=request.query_params.get("cursor"),
                              limit=parse_limit(request.query_params.get("limit")))
        return paginated_response(page, DataExportSerializer)

    @extend_schema(summary="Request a data export (PDPL)", request=None, responses={202: DataExportSerializer})
    def post(self, request):
        export = services.data_export_request(user=request.user, client=client_info(request))
        return Response(DataExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class MeExportDownloadApi(AnonymousApi):
    """The signed link is the credential, so the zip opens in a browser without a Bearer token."""

    @extend_schema(summary="Download a data export (expiring signed link)",
                   parameters=[OpenApiParameter("token", OpenApiTypes.STR, required=True)],
                   responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request):
        export = services.data_export_from_token(token=str(request.query_params.get("token", ""))[:500])
        handle = default_storage.open(export.file, "rb")
        return FileResponse(handle, as_attachment=True, filename=f"daira-export-{export.pk}.zip",
                            content_type="application/zip")


# --- reference data -------------------------------------------------------------------------


class GovernorateSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="ISO 3166-2:EG")
    name_en = serializers.CharField()
    name_ar = serializers.CharField()


class GovernoratesApi(APIView):
    """Egypt's governorates, for the profile's (private) "where are you" picker."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Egypt's governorates", responses={200: GovernorateSerializer(many=True)})
    def get(self, request):
        return Response([{"code": code, "name_en": en, "name_ar": ar} for code, en, ar in GOVERNORATES])


# --- public profiles ------------------------------------------------------------------------


class UserDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(summary="A public profile", responses={200: PublicProfileSerializer})
    def get(self, request, handle: str):
        user = selectors.user_get_public(viewer=request.user, handle=handle)
        viewer = request.user if request.user.is_authenticated else None
        return Response(PublicProfileSerializer(user, context={"viewer": viewer}).data)
