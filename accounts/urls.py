"""Accounts REST routes (mounted under /api/v1/ by daira/urls.py)."""

from django.urls import path

from accounts import api

urlpatterns = [
    # auth (anonymous)
    path("auth/register", api.RegisterApi.as_view(), name="auth-register"),
    path("auth/login", api.LoginApi.as_view(), name="auth-login"),
    path("auth/login/2fa", api.LoginTwoFactorApi.as_view(), name="auth-login-2fa"),
    path("auth/otp/request", api.OtpRequestApi.as_view(), name="auth-otp-request"),
    path("auth/otp/login", api.OtpLoginApi.as_view(), name="auth-otp-login"),
    path("auth/token/refresh", api.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("auth/logout", api.LogoutApi.as_view(), name="auth-logout"),
    path("auth/passkey/options", api.PasskeyLoginOptionsApi.as_view(), name="auth-passkey-options"),
    path("auth/passkey/login", api.PasskeyLoginApi.as_view(), name="auth-passkey-login"),
    path("auth/email/verify", api.EmailVerifyApi.as_view(), name="auth-email-verify"),
    # me
    path("me", api.MeApi.as_view(), name="me"),
    path("me/settings", api.MeSettingsApi.as_view(), name="me-settings"),
    path("me/avatar", api.MeAvatarApi.as_view(), name="me-avatar"),
    path("me/sessions", api.MeSessionsApi.as_view(), name="me-sessions"),
    path("me/sessions/revoke-others", api.MeSessionsRevokeOthersApi.as_view(), name="me-sessions-revoke-others"),
    path("me/sessions/<str:session_id>", api.MeSessionRevokeApi.as_view(), name="me-session"),
    path("me/security-events", api.MeSecurityEventsApi.as_view(), name="me-security-events"),
    path("me/phone", api.MePhoneApi.as_view(), name="me-phone"),
    path("me/phone/confirm", api.MePhoneConfirmApi.as_view(), name="me-phone-confirm"),
    path("me/password", api.MePasswordApi.as_view(), name="me-password"),
    path("me/email", api.MeEmailApi.as_view(), name="me-email"),
    path("me/email/resend", api.MeEmailResendApi.as_view(), name="me-email-resend"),
    path("me/2fa/totp", api.MeTotpApi.as_view(), name="me-totp"),
    path("me/2fa/totp/confirm", api.MeTotpConfirmApi.as_view(), name="me-totp-confirm"),
    path("me/passkeys", api.MePasskeysApi.as_view(), name="me-passkeys"),
    path("me/passkeys/options", api.MePasskeyOptionsApi.as_view(), name="me-passkey-options"),
    path("me/passkeys/<str:passkey_id>", api.MePasskeyDeleteApi.as_view(), name="me-passkey"),
    path("me/exports", api.MeExportsApi.as_view(), name="me-exports"),
    path("me/exports/download", api.MeExportDownloadApi.as_view(), name="me-export-download"),
    # reference data
    path("governorates", api.GovernoratesApi.as_view(), name="governorates"),
    # public profiles
    path("users/<str:handle>", api.UserDetailApi.as_view(), name="user-detail"),
]
