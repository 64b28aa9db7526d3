"""Social REST routes (mounted under /api/v1/ by daira/urls.py)."""

from django.urls import path

from social import api

urlpatterns = [
    # follows
    path("users/<str:handle>/follow", api.FollowApi.as_view(), name="social-follow"),
    path("users/<str:handle>/followers", api.FollowerListApi.as_view(), name="social-followers"),
    path("users/<str:handle>/following", api.FollowingListApi.as_view(), name="social-following"),
    path("users/<str:handle>/friends", api.FriendListApi.as_view(), name="social-friends"),
    path("users/<str:handle>/relationship", api.RelationshipApi.as_view(), name="social-relationship"),
    path("users/<str:handle>/block", api.BlockApi.as_view(), name="social-block"),
    path("users/<str:handle>/mute", api.MuteApi.as_view(), name="social-mute"),
    path("me/followers/<str:handle>", api.FollowerRemoveApi.as_view(), name="social-follower-remove"),
    path("follow-requests", api.FollowRequestListApi.as_view(), name="social-follow-requests"),
    path("follow-requests/sent", api.FollowRequestSentListApi.as_view(), name="social-follow-requests-sent"),
    path("follow-requests/<str:handle>", api.FollowRequestCancelApi.as_view(), name="social-follow-request-cancel"),
    path("follow-requests/<str:handle>/accept", api.FollowRequestAcceptApi.as_view(), name="social-follow-request-accept"),
    path("follow-requests/<str:handle>/reject", api.FollowRequestRejectApi.as_view(), name="social-follow-request-reject"),
    # friends
    path("friends/requests", api.FriendRequestListApi.as_view(), name="social-friend-requests"),
    path("friends/requests/sent", api.FriendRequestSentListApi.as_view(), name="social-friend-requests-sent"),
    path("friends/requests/<str:handle>", api.FriendRequestApi.as_view(), name="social-friend-request"),
    path("friends/requests/<str:handle>/accept", api.FriendRequestAcceptApi.as_view(), name="social-friend-request-accept"),
    path("friends/requests/<str:handle>/reject", api.FriendRequestRejectApi.as_view(), name="social-friend-request-reject"),
    path("friends/<str:handle>", api.FriendDeleteApi.as_view(), name="social-unfriend"),
    # my lists
    path("me/close-friends", api.CloseFriendListApi.as_view(), name="social-close-friends"),
    path("me/close-friends/<str:handle>", api.CloseFriendDeleteApi.as_view(), name="social-close-friend-delete"),
    path("me/circles", api.CircleListApi.as_view(), name="social-circles"),
    path("me/circles/<str:circle_id>", api.CircleDetailApi.as_view(), name="social-circle"),
    path("me/circles/<str:circle_id>/members", api.CircleMemberListApi.as_view(), name="social-circle-members"),
    path(
        "me/circles/<str:circle_id>/members/<str:user_id>",
        api.CircleMemberDeleteApi.as_view(),
        name="social-circle-member-delete",
    ),
    path("me/blocked", api.BlockListApi.as_view(), name="social-blocked"),
    path("me/muted", api.MuteListApi.as_view(), name="social-muted"),
    path("me/people-you-may-know", api.PeopleYouMayKnowApi.as_view(), name="social-people-you-may-know"),
]
