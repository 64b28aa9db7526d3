"""REST adapters for the social graph: parse, call one service or selector, render.

Ids are strings in JSON (64-bit snowflakes overflow JavaScript numbers). Lists are
`{"results": [...], "next_cursor": ...}` with `?cursor=&limit=`. Blocked, missing and
inactive users are all 404 "not_found".
"""

from __future__ import annotations

import functools
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from daira.lib.errors import NotFound
from daira.lib.pagination import Page, parse_limit
from social import policy, selectors, services

MAX_ID = (1 << 63) - 1


# --- output serializers ------------------------------------------------------------------
class UserSummarySerializer(serializers.Serializer):
    id = serializers.CharField()
    handle = serializers.CharField()
    display_name = serializers.SerializerMethodField()
    avatar = serializers.SerializerMethodField()
    is_private = serializers.BooleanField()

    def get_display_name(self, user) -> str:
        profile = getattr(user, "profile", None)
        return profile.display_name if profile else ""

    def get_avatar(self, user) -> dict:
        profile = getattr(user, "profile", None)
        return profile.avatar if profile else {}


class RelationshipSerializer(serializers.Serializer):
    is_following = serializers.BooleanField(source="following")
    follows_you = serializers.BooleanField(source="followed_by")
    requested = serializers.BooleanField()
    is_friend = serializers.BooleanField(source="friends")
    friend_requested = serializers.BooleanField()
    friend_request_received = serializers.BooleanField(source="friend_requested_by")
    is_blocking = serializers.BooleanField(source="blocking")
    is_muting_posts = serializers.BooleanField(source="muting_posts")
    is_muting_stories = serializers.BooleanField(source="muting_stories")
    is_close_friend = serializers.BooleanField(source="in_close_friends")


class PersonRowSerializer(serializers.Serializer):
    """One row of a people list: who, since when, and how the viewer relates to them."""

    id = serializers.CharField(help_text="The relation row id (the cursor key)")
    user = UserSummarySerializer()
    since = serializers.DateTimeField()
    is_following = serializers.BooleanField(help_text="The viewer follows this person")
    requested = serializers.BooleanField(help_text="The viewer asked to follow this person")


class MuteRowSerializer(PersonRowSerializer):
    posts = serializers.BooleanField()
    stories = serializers.BooleanField()


class CircleSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    member_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["following", "requested", "friends", "none"])


class SuggestionSerializer(serializers.Serializer):
    user = UserSummarySerializer()
    mutual_count = serializers.IntegerField()


def _page_params() -> list[OpenApiParameter]:
    return [
        OpenApiParameter("cursor", OpenApiTypes.STR, required=False, description="next_cursor of the previous page"),
        OpenApiParameter("limit", OpenApiTypes.INT, required=False, description="1-100, default 20"),
    ]


@functools.cache
def _page_component(serializer):
    # One component per row serializer: drf-spectacular warns about (and may mis-merge)
    # distinct inline serializers that share a name, e.g. nine "PersonRowPage"s.
    return inline_serializer(
        name=f"{serializer.__name__.replace('Serializer', '')}Page",
        fields={"results": serializer(many=True), "next_cursor": serializers.CharField(allow_null=True)},
    )


def _paged(serializer) -> dict:
    return {200: _page_component(serializer)}


def _render_people(request, page: Page, user_attr: str, row_serializer=PersonRowSerializer) -> Response:
    rows = selectors.person_rows(viewer=request.user, rows=page.items, user_attr=user_attr)
    return Response({"results": row_serializer(rows, many=True).data, "next_cursor": page.next_cursor})


def _cursor_args(request) -> dict:
    return {"cursor": request.query_params.get("cursor"), "limit": parse_limit(request.query_params.get("limit"))}


def _parse_id(raw) -> int:
    """A path id, or NotFound for anything that is not a positive 63-bit integer."""
    try:
        value = int(str(raw))
    except (TypeError, ValueError):
        raise NotFound("Not found.") from None
    if not 0 < value <= MAX_ID:
        raise NotFound("Not found.")
    return value


def _target(request, handle: str):
    return selectors.user_get_visible(viewer=request.user, handle=handle)


class _Auth(APIView):
    permission_classes = [IsAuthenticated]


# --- follows -----------------------------------------------------------------------------
class FollowApi(_Auth):
    @extend_schema(request=None, responses={200: StatusSerializer}, summary="Follow (or ask to follow) a user")
    def post(self, request, handle: str):
        outcome = services.follow_create(actor=request.user, target=_target(request, handle))
        return Response({"status": outcome})

    @extend_schema(request=None, responses={200: StatusSerializer}, summary="Unfollow (or cancel a follow request)")
    def delete(self, request, handle: str):
        services.follow_delete(actor=request.user, target=_target(request, handle))
        return Response({"status": services.NONE})


class FollowerRemoveApi(_Auth):
    @extend_schema(request=None, responses={204: None}, summary="Remove one of my followers")
    def delete(self, request, handle: str):
        services.follower_remove(actor=request.user, follower=_target(request, handle))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FollowerListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=_page_params(), responses=_paged(PersonRowSerializer), summary="A user's followers")
    def get(self, request, handle: str):
        user = _target(request, handle)
        page = selectors.follower_list(viewer=request.user, user=user, **_cursor_args(request))
        return _render_people(request, page, "follower")


class FollowingListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=_page_params(), responses=_paged(PersonRowSerializer), summary="Who a user follows")
    def get(self, request, handle: str):
        user = _target(request, handle)
        page = selectors.following_list(viewer=request.user, user=user, **_cursor_args(request))
        return _render_people(request, page, "followee")


class FriendListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=_page_params(), responses=_paged(PersonRowSerializer), summary="A user's friends")
    def get(self, request, handle: str):
        user = _target(request, handle)
        page = selectors.friend_list(viewer=request.user, user=user, **_cursor_args(request))
        return _render_people(request, page, "friend")


class RelationshipApi(_Auth):
    @extend_schema(responses={200: RelationshipSerializer}, summary="How I relate to a user")
    def get(self, request, handle: str):
        return Response(RelationshipSerializer(policy.relationship(request.user, _target(request, handle))).data)


class FollowRequestListApi(_Auth):
    @extend_schema(parameters=_page_params(), responses=_paged(PersonRowSerializer), summary="Requests to follow me")
    def get(self, request):
        page = selectors.follow_request_list_incoming(actor=request.user, **_cursor_args(request))
        return _render_people(request, page, "requester")


class FollowRequestSentListApi(_Auth):
    @extend_schema(parameters=_page_params(), responses=_paged(PersonRowSerializer), summary="My pending follow requests")
    def get(self, request):
        page = selectors.follow_request_list_outgoing(actor=request.user, **_cursor_args(request))
        return _render_people(request, page, "target")


class FollowRequestAcceptApi(_Auth):
    @extend_schema(request=None, responses={204: None}, summary="Accept a follow request")
    def post(self, request, handle: str):
        services.follow_request_accept(actor=request.user, requester=_target(request, handle))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FollowRequestRejectApi(_Auth):
    @extend_schema(request=None, responses={204: None}, summary="Reject a follow request")
    def post(self, request, handle: str):
        services.follow_request_reject(actor=request.user, requester=_target(request, handle))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FollowRequestCancelApi(_Auth):
    @extend_schema(request=None, responses={204: None}, summary="Cancel my follow request to a user")
    def delete(self, request, handle: str):
        services.follow_request_cancel(actor=request.user, target=_target(request, handle))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- friends -----------------------------------------------------------------------------
class FriendRequestListApi(_Auth):
    @extend_schema(parameters=_page_params(), responses=_paged(PersonRowSerializer), summary="Friend requests to me")
    def get(self, request):
        page = selectors.friend_request_list_incoming(actor=request.user, **_cursor_args(request))
        return _render_people(request, page, "from_user")


class FriendRequestSentListApi(_Auth):
    @extend_schema(parameters=_page_params(), responses=_paged(PersonRowSerializer), summary="My friend requests")
    def get(self, request):
        page = selectors.friend_request_list_outgoing(actor=request.user, **_cursor_args(request))
        return _render_people(request, page, "to_user")


class FriendRequestApi(_Auth):
    @extend_schema(request=None, responses={200: StatusSerializer}, summary="Send a friend request")
    def post(self, request, handle: str):
        return Response({"status": services.friend_request_create(actor=request.user, target=_target(request, handle))})

    @extend_schema(request=None, responses={204: None}, summary="Cancel my friend request")
    def delete(self, request, handle: str):
        services.friend_request_cancel(actor=request.user, target=_target(request, handle))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FriendRequestAcceptApi(_Auth):
    @extend_schema(request=None, responses={200: StatusSerializer}, summary="Accept a friend request")
    def post(self, request, handle: str):
        services.friend_request_accept(actor=request.user, from_user=_target(request, handle))
        return Response({"status": services.FRIENDS})


class FriendRequestRejectApi(_Auth):
    @extend_schema(request=None, responses={204: None}, summary="Decline a friend request")
    def post(self, request, handle: str):
        services.friend_request_reject(actor=request.user, from_user=_target(request, handle))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FriendDeleteApi(_Auth):
    @extend_schema(request=None, responses={204: None}, summary="Unfriend")
    def delete(self, request, handle: str):
        services.friendship_delete(actor=request.user, friend=_target(request, handle))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- close friends -----------------------------------------------------------------------
class CloseFriendListApi(_Auth):
    @extend_schema_serializer(component_name="CloseFriendListInput")
    class InputSerializer(serializers.Serializer):
        handle = serializers.CharField(max_length=64)

    @extend_schema(parameters=_page_params(), responses=_paged(PersonRowSerializer), summary="My close friends")
    def get(self, request):
        page = selectors.close_friend_list(actor=request.user, **_cursor_args(request))
        return _render_people(request, page, "member")

    @extend_schema(request=InputSerializer, responses={204: None}, summary="Add a close friend (they are not told)")
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.close_friend_add(actor=request.user, member=_target(request, payload.validated_data["handle"]))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CloseFriendDeleteApi(_Auth):
    @extend_schema(request=None, responses={204: None}, summary="Remove a close friend")
    def delete(self, request, handle: str):
        services.close_friend_remove(actor=request.user, member=_target(request, handle))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- circles -----------------------------------------------------------------------------
class CircleListApi(_Auth):
    @extend_schema_serializer(component_name="CircleListInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)

    @extend_schema(parameters=_page_params(), responses=_paged(CircleSerializer), summary="My circles")
    def get(self, request):
        page = selectors.circle_list(actor=request.user, **_cursor_args(request))
        return Response({"results": CircleSerializer(page.items, many=True).data, "next_cursor": page.next_cursor})

    @extend_schema(request=InputSerializer, responses={201: CircleSerializer}, summary="Create a circle")
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        circle = services.circle_create(actor=request.user, name=payload.validated_data["name"])
        return Response(CircleSerializer(circle).data, status=status.HTTP_201_CREATED)


class CircleDetailApi(_Auth):
    @extend_schema_serializer(component_name="CircleDetailInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)

    @extend_schema(responses={200: CircleSerializer}, summary="One of my circles")
    def get(self, request, circle_id: str):
        circle = selectors.circle_get_owned(actor=request.user, circle_id=_parse_id(circle_id))
        return Response(CircleSerializer(circle).data)

    @extend_schema(request=InputSerializer, responses={200: CircleSerializer}, summary="Rename a circle")
    def patch(self, request, circle_id: str):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        circle = services.circle_rename(
            actor=request.user, circle_id=_parse_id(circle_id), name=payload.validated_data["name"]
        )
        return Response(CircleSerializer(circle).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete a circle")
    def delete(self, request, circle_id: str):
        services.circle_delete(actor=request.user, circle_id=_parse_id(circle_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CircleMemberListApi(_Auth):
    @extend_schema_serializer(component_name="CircleMemberListInput")
    class InputSerializer(serializers.Serializer):
        user_ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1, max_length=1_500
        )

    @extend_schema(parameters=_page_params(), responses=_paged(PersonRowSerializer), summary="Members of my circle")
    def get(self, request, circle_id: str):
        page = selectors.circle_member_list(actor=request.user, circle_id=_parse_id(circle_id), **_cursor_args(request))
        return _render_people(request, page, "member")

    @extend_schema(request=InputSerializer, responses={200: CircleSerializer}, summary="Add followers/friends to a circle")
    def post(self, request, circle_id: str):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        circle = services.circle_members_add(
            actor=request.user, circle_id=_parse_id(circle_id), user_ids=payload.validated_data["user_ids"]
        )
        return Response(CircleSerializer(circle).data)


class CircleMemberDeleteApi(_Auth):
    @extend_schema(request=None, responses={200: CircleSerializer}, summary="Remove a member from a circle")
    def delete(self, request, circle_id: str, user_id: str):
        circle = services.circle_members_remove(
            actor=request.user, circle_id=_parse_id(circle_id), user_ids=[_parse_id(user_id)]
        )
        return Response(CircleSerializer(circle).data)


# --- blocks and mutes --------------------------------------------------------------------
class BlockApi(_Auth):
    @extend_schema(request=None, responses={204: None}, summary="Block a user")
    def post(self, request, handle: str):
        services.block_create(actor=request.user, target=_blockable(request, handle))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None}, summary="Unblock a user")
    def delete(self, request, handle: str):
        services.block_delete(actor=request.user, target=_blockable(request, handle))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _blockable(request, handle: str):
    return selectors.user_get_for_blocking(handle=handle)


class BlockListApi(_Auth):
    @extend_schema(parameters=_page_params(), responses=_paged(PersonRowSerializer), summary="People I block")
    def get(self, request):
        page = selectors.block_list(actor=request.user, **_cursor_args(request))
        return _render_people(request, page, "blocked")


class MuteApi(_Auth):
    @extend_schema_serializer(component_name="MuteInput")
    class InputSerializer(serializers.Serializer):
        posts = serializers.BooleanField(default=True)
        stories = serializers.BooleanField(default=True)

    @extend_schema(request=InputSerializer, responses={204: None}, summary="Mute posts and/or stories")
    def post(self, request, handle: str):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.mute_create(actor=request.user, target=_target(request, handle), **payload.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: None}, summary="Unmute")
    def delete(self, request, handle: str):
        # Like unblocking, unmuting must work even if they have blocked me since.
        services.mute_delete(actor=request.user, target=_blockable(request, handle))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MuteListApi(_Auth):
    @extend_schema(parameters=_page_params(), responses=_paged(MuteRowSerializer), summary="People I mute")
    def get(self, request):
        page = selectors.mute_list(actor=request.user, **_cursor_args(request))
        return _render_people(request, page, "muted", MuteRowSerializer)


class PeopleYouMayKnowApi(_Auth):
    @extend_schema(
        parameters=[OpenApiParameter("limit", OpenApiTypes.INT, required=False)],
        responses={200: inline_serializer("PeopleYouMayKnow", {"results": SuggestionSerializer(many=True)})},
        summary="People you may know",
    )
    def get(self, request):
        suggestions = selectors.people_you_may_know(
            viewer=request.user, limit=parse_limit(request.query_params.get("limit"))
        )
        return Response({"results": SuggestionSerializer(suggestions, many=True).data})
