"""Accounts GraphQL: `me`, `user(handle)`, sessions, and the same operations as the REST API
(register, login, OTP, refresh, profile, settings...), calling the same services."""

from __future__ import annotations

import graphene
from graphene.types.generic import GenericScalar

from accounts import selectors, services
from accounts.api import client_info
from accounts.models import OtpChallenge, User
from accounts.serializers import avatar_urls
from daira.lib.errors import Invalid, NotFound
from daira.lib.graphql import DairaMutation, require_user
from daira.lib.pagination import paginate_by_id


class CountsType(graphene.ObjectType):
    followers = graphene.Int(required=True)
    following = graphene.Int(required=True)
    friends = graphene.Int(required=True)
    posts = graphene.Int(required=True)


class AvatarType(graphene.ObjectType):
    small = graphene.String(description="200×200 JPEG URL")
    large = graphene.String(description="400×400 JPEG URL")


def _profile_fields(user: User) -> dict:
    profile = user.profile
    urls = avatar_urls(profile)
    return {
        "id": str(user.pk),
        "handle": user.handle,
        "display_name": profile.display_name,
        "bio": profile.bio,
        "links": list(profile.links or []),
        "language": profile.language,
        "avatar": AvatarType(small=urls.get("200"), large=urls.get("400")) if urls else None,
        "is_private": user.is_private,
        "counts": CountsType(followers=profile.followers_count, following=profile.following_count,
                             friends=profile.friends_count, posts=profile.posts_count),
        "date_joined": user.date_joined,
    }


class UserType(graphene.ObjectType):
    """A public profile."""

    id = graphene.ID(required=True)
    handle = graphene.String(required=True)
    display_name = graphene.String(required=True)
    bio = graphene.String(required=True)
    links = graphene.List(graphene.NonNull(graphene.String), required=True)
    language = graphene.String(required=True)
    avatar = graphene.Field(AvatarType)
    is_private = graphene.Boolean(required=True)
    counts = graphene.Field(CountsType, required=True)
    date_joined = graphene.DateTime(required=True)
    extra = GenericScalar(description="Fields other apps add (is_following, follows_you, ...)")

    @classmethod
    def build(cls, user: User, viewer) -> UserType:
        return cls(**_profile_fields(user), extra=selectors.profile_extras(viewer=viewer, user=user))


class SettingsType(graphene.ObjectType):
    is_private = graphene.Boolean(required=True)
    data_saver = graphene.Boolean(required=True)
    who_can_message = graphene.String(required=True)
    who_can_mention = graphene.String(required=True)
    show_activity_status = graphene.Boolean(required=True)
    read_receipts = graphene.Boolean(required=True)
    default_post_audience = graphene.String(required=True)

    @classmethod
    def build(cls, user: User) -> SettingsType:
        prefs = user.settings
        return cls(is_private=user.is_private, **{name: getattr(prefs, name) for name in services.SETTINGS_FIELDS})


class MeType(UserType):
    phone = graphene.String()
    email = graphene.String()
    phone_verified = graphene.Boolean(required=True)
    email_verified = graphene.Boolean(required=True)
    status = graphene.String(required=True)
    governorate = graphene.String(required=True, description="Private: ISO 3166-2:EG code, '' when not set")
    two_factor_enabled = graphene.Boolean(required=True)
    settings = graphene.Field(SettingsType, required=True)

    @classmethod
    def build(cls, user: User, viewer=None) -> MeType:
        user = User.objects.select_related("profile", "settings").get(pk=user.pk)
        return cls(
            **_profile_fields(user),
            extra=selectors.profile_extras(viewer=user, user=user),
            phone=user.phone,
            email=user.email,
            phone_verified=user.phone_verified_at is not None,
            email_verified=user.email_verified_at is not None,
            status=user.status,
            governorate=user.profile.governorate,
            two_factor_enabled=selectors.two_factor_enabled(user=user),
            settings=SettingsType.build(user),
        )


class SessionType(graphene.ObjectType):
    id = graphene.ID(required=True)
    device_name = graphene.String(required=True)
    user_agent = graphene.String(required=True)
    ip = graphene.String()
    created_at = graphene.DateTime(required=True)
    last_seen_at = graphene.DateTime(required=True)
    current = graphene.Boolean(required=True)


class TokenPairType(graphene.ObjectType):
    access = graphene.String(required=True)
    refresh = graphene.String(required=True)
    access_expires_at = graphene.DateTime(required=True)
    refresh_expires_at = graphene.DateTime(required=True)
    session_id = graphene.ID(required=True)

    @classmethod
    def build(cls, pair) -> TokenPairType:
        return cls(access=pair.access, refresh=pair.refresh, access_expires_at=pair.access_expires_at,
                   refresh_expires_at=pair.refresh_expires_at, session_id=str(pair.session_id))


class Query(graphene.ObjectType):
    me = graphene.Field(MeType, description="The caller's account; null when logged out.")
    user = graphene.Field(UserType, handle=graphene.String(required=True),
                          description="A public profile; null when missing or hidden from the caller.")
    my_sessions = graphene.List(graphene.NonNull(SessionType), required=True, first=graphene.Int(),
                                after=graphene.String())

    @staticmethod
    def resolve_me(root, info):
        user = info.context.user
        return MeType.build(user) if user.is_authenticated else None

    @staticmethod
    def resolve_user(root, info, handle):
        viewer = info.context.user if info.context.user.is_authenticated else None
        try:
            user = selectors.user_get_public(viewer=viewer, handle=handle)
        except NotFound:
            return None
        return UserType.build(user, viewer)

    @staticmethod
    def resolve_my_sessions(root, info, first=None, after=None):
        user = require_user(info)
        current = getattr(user, "current_session_id", None)
        page = paginate_by_id(selectors.session_list_active(user=user), cursor=after,
                              limit=max(1, min(first or 20, 100)))
        return [SessionType(id=str(s.pk), device_name=s.device_name, user_agent=s.user_agent, ip=s.ip,
                            created_at=s.created_at, last_seen_at=s.last_seen_at, current=s.pk == current)
                for s in page.items]


# --- mutations --------------------------------------------------------------------------------


class AuthPayloadMixin:
    two_factor_required = graphene.Boolean()
    challenge = graphene.String()
    restored = graphene.Boolean()
    tokens = graphene.Field(TokenPairType)
    user = graphene.Field(MeType)

    @classmethod
    def from_result(cls, result):
        if result.two_factor_challenge:
            return cls(two_factor_required=True, challenge=result.two_factor_challenge, restored=result.restored)
        return cls(two_factor_required=False, restored=result.restored, tokens=TokenPairType.build(result.tokens),
                   user=MeType.build(result.user))


class Register(AuthPayloadMixin, DairaMutation):
    login_required = False

    class Arguments:
        handle = graphene.String(required=True)
        password = graphene.String(required=True)
        phone = graphene.String()
        email = graphene.String()
        otp_code = graphene.String()
        language = graphene.String()
        device_name = graphene.String()

    @classmethod
    def perform(cls, root, info, device_name=None, **kwargs):
        return cls.from_result(services.user_register(client=client_info(info.context, device_name), **kwargs))


class Login(AuthPayloadMixin, DairaMutation):
    login_required = False

    class Arguments:
        identifier = graphene.String(required=True, description="Handle, phone number or e-mail")
        password = graphene.String(required=True)
        device_name = graphene.String()

    @classmethod
    def perform(cls, root, info, identifier, password, device_name=None):
        return cls.from_result(services.login_with_password(identifier=identifier, password=password,
                                                            client=client_info(info.context, device_name)))


class LoginTwoFactor(AuthPayloadMixin, DairaMutation):
    login_required = False

    class Arguments:
        challenge = graphene.String(required=True)
        code = graphene.String(required=True)
        device_name = graphene.String()

    @classmethod
    def perform(cls, root, info, challenge, code, device_name=None):
        return cls.from_result(services.login_two_factor_complete(
            challenge=challenge, code=code, client=client_info(info.context, device_name)))


class RequestOtp(DairaMutation):
    login_required = False

    class Arguments:
        phone = graphene.String(required=True)
        purpose = graphene.String(required=True, description="register or login")

    channel = graphene.String()
    expires_in = graphene.Int()

    @classmethod
    def perform(cls, root, info, phone, purpose):
        if purpose not in (OtpChallenge.Purpose.REGISTER, OtpChallenge.Purpose.LOGIN):
            raise Invalid("Choose register or login.", field="purpose")
        challenge = services.otp_request(phone=phone, purpose=purpose, client=client_info(info.context))
        return cls(channel=challenge.channel, expires_in=int(services.OTP_TTL.total_seconds()))


class OtpLogin(AuthPayloadMixin, DairaMutation):
    login_required = False

    class Arguments:
        phone = graphene.String(required=True)
        code = graphene.String(required=True)
        device_name = graphene.String()

    @classmethod
    def perform(cls, root, info, phone, code, device_name=None):
        return cls.from_result(services.login_with_otp(phone=phone, code=code,
                                                       client=client_info(info.context, device_name)))


class RefreshToken(DairaMutation):
    login_required = False

    class Arguments:
        refresh = graphene.String(required=True)

    tokens = graphene.Field(TokenPairType)

    @classmethod
    def perform(cls, root, info, refresh):
        pair = services.session_refresh(refresh_token=refresh, client=client_info(info.context))
        return cls(tokens=TokenPairType.build(pair))


class Logout(DairaMutation):
    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info):
        user = info.context.user
        session_id = getattr(user, "current_session_id", None)
        if session_id is not None:
            services.session_revoke(user=user, session_id=session_id, reason="logout",
                                    client=client_info(info.context))
        return cls(ok=True)


class UpdateProfile(DairaMutation):
    class Arguments:
        display_name = graphene.String()
        bio = graphene.String()
        links = graphene.List(graphene.NonNull(graphene.String))
        language = graphene.String()
        governorate = graphene.String()

    me = graphene.Field(MeType)

    @classmethod
    def perform(cls, root, info, **kwargs):
        services.profile_update(user=info.context.user, **kwargs)
        return cls(me=MeType.build(info.context.user))


class UpdateSettings(DairaMutation):
    class Arguments:
        is_private = graphene.Boolean()
        data_saver = graphene.Boolean()
        who_can_message = graphene.String()
        who_can_mention = graphene.String()
        show_activity_status = graphene.Boolean()
        read_receipts = graphene.Boolean()
        default_post_audience = graphene.String()

    settings = graphene.Field(SettingsType)

    @classmethod
    def perform(cls, root, info, **kwargs):
        user = info.context.user
        services.settings_update(user=user, **kwargs)
        return cls(settings=SettingsType.build(User.objects.select_related("settings").get(pk=user.pk)))


class RevokeSession(DairaMutation):
    class Arguments:
        session_id = graphene.ID(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, session_id):
        try:
            session_pk = int(session_id)
        except (TypeError, ValueError):
            raise NotFound("Session not found.") from None
        if not 0 < session_pk < 1 << 63:
            raise NotFound("Session not found.")
        services.session_revoke(user=info.context.user, session_id=session_pk, client=client_info(info.context))
        return cls(ok=True)


class RevokeOtherSessions(DairaMutation):
    revoked = graphene.Int()

    @classmethod
    def perform(cls, root, info):
        user = info.context.user
        count = services.session_revoke_others(user=user, current_session_id=getattr(user, "current_session_id", None),
                                               client=client_info(info.context))
        return cls(revoked=count)


class ChangePassword(DairaMutation):
    class Arguments:
        current_password = graphene.String(required=True)
        new_password = graphene.String(required=True)

    sessions_revoked = graphene.Int()

    @classmethod
    def perform(cls, root, info, current_password, new_password):
        user = info.context.user
        ended = services.password_change(user=user, current_password=current_password, new_password=new_password,
                                         current_session_id=getattr(user, "current_session_id", None),
                                         client=client_info(info.context))
        return cls(sessions_revoked=ended)


class DeleteAccount(DairaMutation):
    class Arguments:
        password = graphene.String()

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, password=None):
        services.user_deactivate(user=info.context.user, password=password, client=client_info(info.context))
        return cls(ok=True)


class RequestDataExport(DairaMutation):
    export_id = graphene.ID()
    status = graphene.String()

    @classmethod
    def perform(cls, root, info):
        export = services.data_export_request(user=info.context.user, client=client_info(info.context))
        return cls(export_id=str(export.pk), status=export.status)


class Mutation(graphene.ObjectType):
    register = Register.Field()
    login = Login.Field()
    login_two_factor = LoginTwoFactor.Field()
    request_otp = RequestOtp.Field()
    otp_login = OtpLogin.Field()
    refresh_token = RefreshToken.Field()
    logout = Logout.Field()
    update_profile = UpdateProfile.Field()
    update_settings = UpdateSettings.Field()
    revoke_session = RevokeSession.Field()
    revoke_other_sessions = RevokeOtherSessions.Field()
    change_password = ChangePassword.Field()
    delete_account = DeleteAccount.Field()
    request_data_export = RequestDataExport.Field()

