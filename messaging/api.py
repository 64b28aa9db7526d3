"""REST adapters for messaging (thin: parse, call one service/selector, render).

Bodies are the same JSON shapes as the live events (messaging/payloads.py), so a client
renders a message the same way whether it came from history, `/sync` or the socket.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from daira.lib.errors import Invalid
from daira.lib.pagination import parse_limit
from messaging import notifications, selectors, services
from messaging.models import Notification, NotificationPreference, PushDevice
from messaging.payloads import message_payload

MAX_ID = (1 << 63) - 1

ID = serializers.IntegerField(min_value=1, max_value=MAX_ID)
PAGE_PARAMS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, required=False),
    OpenApiParameter("limit", OpenApiTypes.INT, required=False),
]


def _id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def _parse(serializer_class, data):
    payload = serializer_class(data=data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


def _page(items, next_cursor) -> Response:
    return Response({"results": items, "next_cursor": next_cursor})


class _Api(APIView):
    permission_classes = [IsAuthenticated]


# --- conversations -------------------------------------------------------------------------
class ConversationListApi(_Api):
    class InputSerializer(serializers.Serializer):
        user_id = _id_field(required=False, help_text="Start (or open) a 1:1 with this user")
        name = serializers.CharField(required=False, allow_blank=True, max_length=100)
        member_ids = serializers.ListField(child=_id_field(), required=False, max_length=300)

        def validate(self, attrs):
            if ("user_id" in attrs) == ("member_ids" in attrs):
                raise serializers.ValidationError({"user_id": "Send user_id (1:1) or member_ids (group)."})
            return attrs

    @extend_schema(parameters=PAGE_PARAMS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        page = selectors.conversation_list(
            viewer=request.user, cursor=request.query_params.get("cursor"),
            limit=parse_limit(request.query_params.get("limit")),
        )
        return _page([row.as_dict() for row in page.items], page.next_cursor)

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = _parse(self.InputSerializer, request.data)
        if "user_id" in data:
            conversation = services.conversation_direct_start(actor=request.user, other_id=data["user_id"])
        else:
            conversation = services.conversation_group_create(
                actor=request.user, name=data.get("name", ""), member_ids=data["member_ids"]
            )
        row = selectors.conversation_get(viewer=request.user, conversation_id=conversation.pk)
        return Response(row.as_dict(), status=status.HTTP_201_CREATED)


class ConversationRequestListApi(_Api):
    @extend_schema(parameters=PAGE_PARAMS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        page = selectors.conversation_list(
            viewer=request.user, cursor=request.query_params.get("cursor"),
            limit=parse_limit(request.query_params.get("limit")), requests=True,
        )
        return _page([row.as_dict() for row in page.items], page.next_cursor)


class UnreadApi(_Api):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(selectors.unread_totals(viewer=request.user))


class ConversationDetailApi(_Api):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(required=False, allow_blank=True, max_length=100)
        avatar_id = _id_field(required=False)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, conversation_id: int):
        return Response(selectors.conversation_get(viewer=request.user, conversation_id=conversation_id).as_dict())

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, conversation_id: int):
        data = _parse(self.InputSerializer, request.data)
        services.group_update(actor=request.user, conversation_id=conversation_id, **data)
        return Response(selectors.conversation_get(viewer=request.user, conversation_id=conversation_id).as_dict())


class ConversationMessagesApi(_Api):
    class InputSerializer(serializers.Serializer):
        body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")
        client_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
        media_ids = serializers.ListField(child=_id_field(), required=False, default=list, max_length=10)
        shared_post_id = _id_field(required=False, allow_null=True)
        shared_story_id = _id_field(required=False, allow_null=True)
        reply_to_id = _id_field(required=False, allow_null=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("before", OpenApiTypes.STR, required=False, description="Older than this cursor"),
            OpenApiParameter("after", OpenApiTypes.STR, required=False, description="Newer than this cursor"),
            OpenApiParameter("limit", OpenApiTypes.INT, required=False),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, conversation_id: int):
        page = selectors.message_history(
            viewer=request.user, conversation_id=conversation_id,
            before=request.query_params.get("before"), after=request.query_params.get("after"),
            limit=parse_limit(request.query_params.get("limit"), default=30),
        )
        return _page(selectors.messages_render(page.items), page.next_cursor)

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, conversation_id: int):
        data = _parse(self.InputSerializer, request.data)
        message = services.message_send(actor=request.user, conversation_id=conversation_id, **data)
        return Response(message_payload(message), status=status.HTTP_201_CREATED)


class ConversationReadApi(_Api):
    class InputSerializer(serializers.Serializer):
        message_id = _id_field(required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, conversation_id: int):
        data = _parse(self.InputSerializer, request.data)
        participant = services.conversation_mark_read(
            actor=request.user, conversation_id=conversation_id, message_id=data.get("message_id")
        )
        return Response({"conversation_id": str(conversation_id),
                         "last_read_message_id": str(participant.last_read_message_id)})


class ConversationTypingApi(_Api):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, conversation_id: int):
        sent = services.typing_start(actor=request.user, conversation_id=conversation_id)
        return Response({"sent": sent})


class ConversationMembersApi(_Api):
    class InputSerializer(serializers.Serializer):
        user_ids = serializers.ListField(child=_id_field(), min_length=1, max_length=256)

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, conversation_id: int):
        data = _parse(self.InputSerializer, request.data)
        services.group_members_add(actor=request.user, conversation_id=conversation_id, user_ids=data["user_ids"])
        return Response(selectors.conversation_get(viewer=request.user, conversation_id=conversation_id).as_dict())


class ConversationMemberApi(_Api):
    @extend_schema(responses={204: None})
    def delete(self, request, conversation_id: int, user_id: int):
        services.group_member_remove(actor=request.user, conversation_id=conversation_id, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationAdminApi(_Api):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def put(self, request, conversation_id: int, user_id: int):
        services.group_admin_set(actor=request.user, conversation_id=conversation_id, user_id=user_id, is_admin=True)
        return Response(selectors.conversation_get(viewer=request.user, conversation_id=conversation_id).as_dict())

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def delete(self, request, conversation_id: int, user_id: int):
        services.group_admin_set(actor=request.user, conversation_id=conversation_id, user_id=user_id, is_admin=False)
        return Response(selectors.conversation_get(viewer=request.user, conversation_id=conversation_id).as_dict())


class ConversationLeaveApi(_Api):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, conversation_id: int):
        services.conversation_leave(actor=request.user, conversation_id=conversation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageRequestAcceptApi(_Api):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, conversation_id: int):
        services.message_request_accept(actor=request.user, conversation_id=conversation_id)
        return Response(selectors.conversation_get(viewer=request.user, conversation_id=conversation_id).as_dict())


class MessageRequestDeclineApi(_Api):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, conversation_id: int):
        services.message_request_delete(actor=request.user, conversation_id=conversation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageRequestBlockApi(_Api):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, conversation_id: int):
        services.message_request_block(actor=request.user, conversation_id=conversation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- messages ------------------------------------------------------------------------------
class MessageDetailApi(_Api):
    class EditSerializer(serializers.Serializer):
        body = serializers.CharField(allow_blank=True, trim_whitespace=False)

    @extend_schema(request=EditSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, message_id: int):
        data = _parse(self.EditSerializer, request.data)
        message = services.message_edit(actor=request.user, message_id=message_id, body=data["body"])
        return Response(message_payload(message))

    @extend_schema(
        parameters=[OpenApiParameter("for", OpenApiTypes.STR, enum=["me", "everyone"], required=False)],
        responses={204: None},
    )
    def delete(self, request, message_id: int):
        scope = request.query_params.get("for", "me")
        if scope == "me":
            services.message_delete_for_me(actor=request.user, message_id=message_id)
        elif scope == "everyone":
            services.message_unsend(actor=request.user, message_id=message_id)
        else:
            raise Invalid("for must be me or everyone.", field="for")
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageReactionApi(_Api):
    class InputSerializer(serializers.Serializer):
        emoji = serializers.CharField(max_length=32)

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def put(self, request, message_id: int):
        data = _parse(self.InputSerializer, request.data)
        reaction = services.message_react(actor=request.user, message_id=message_id, emoji=data["emoji"])
        return Response({"message_id": str(message_id), "emoji": reaction.emoji})

    @extend_schema(responses={204: None})
    def delete(self, request, message_id: int):
        services.message_unreact(actor=request.user, message_id=message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- sync and presence ---------------------------------------------------------------------
class SyncApi(_Api):
    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.STR, required=False, description="The cursor of the last sync"),
            OpenApiParameter("limit", OpenApiTypes.INT, required=False),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        return Response(selectors.sync_changes(
            viewer=request.user, since=request.query_params.get("since"),
            limit=parse_limit(request.query_params.get("limit"), default=500, maximum=1000),
        ))


class PresenceApi(_Api):
    @extend_schema(parameters=[OpenApiParameter("user_ids", OpenApiTypes.STR, description="Comma-separated")],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request):
        raw = [part for part in (request.query_params.get("user_ids") or "").split(",") if part.strip()]
        try:
            user_ids = [int(part) for part in raw]
        except ValueError:
            raise Invalid("user_ids must be comma-separated ids.", field="user_ids") from None
        if any(not 0 < uid <= MAX_ID for uid in user_ids):
            raise Invalid("user_ids must be comma-separated ids.", field="user_ids")
        return Response(selectors.presence_for(viewer=request.user, user_ids=user_ids))


# --- notifications -------------------------------------------------------------------------
class NotificationListApi(_Api):
    @extend_schema(parameters=[*PAGE_PARAMS, OpenApiParameter("unread", OpenApiTypes.BOOL, required=False)],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request):
        page = selectors.notification_list(
            viewer=request.user, cursor=request.query_params.get("cursor"),
            limit=parse_limit(request.query_params.get("limit")),
            unread_only=request.query_params.get("unread") in ("1", "true"),
        )
        return Response({
            "results": selectors.notifications_render(viewer=request.user, rows=page.items),
            "next_cursor": page.next_cursor,
            "unread_count": notifications.unread_count(user_id=request.user.pk),
        })


class NotificationReadApi(_Api):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, notification_id: int):
        notifications.notification_mark_read(actor=request.user, notification_id=notification_id)
        return Response({"unread_count": notifications.unread_count(user_id=request.user.pk)})


class NotificationReadAllApi(_Api):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        changed = notifications.notifications_mark_all_read(actor=request.user)
        return Response({"marked": changed, "unread_count": 0})


class NotificationPreferencesApi(_Api):
    class InputSerializer(serializers.Serializer):
        type = serializers.ChoiceField(choices=Notification.Type.choices)
        channel = serializers.ChoiceField(choices=NotificationPreference.Channel.choices)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(notifications.preferences_get(user=request.user))

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT)
    def put(self, request):
        data = _parse(self.InputSerializer, request.data)
        return Response(notifications.preference_set(actor=request.user, type=data["type"], channel=data["channel"]))


# --- push devices --------------------------------------------------------------------------
class DeviceRegisterApi(_Api):
    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=512)
        platform = serializers.ChoiceField(choices=PushDevice.Platform.choices)
        language = serializers.ChoiceField(choices=[("ar", "ar"), ("en", "en")], required=False, default="")

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = _parse(self.InputSerializer, request.data)
        device = notifications.device_register(actor=request.user, **data)
        return Response({"id": str(device.pk), "platform": device.platform}, status=status.HTTP_201_CREATED)


class DeviceUnregisterApi(_Api):
    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=512)

    @extend_schema(request=InputSerializer, responses={204: None})
    def post(self, request):
        data = _parse(self.InputSerializer, request.data)
        notifications.device_unregister(actor=request.user, token=data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)
