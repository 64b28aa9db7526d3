"""Recommendations routes under /api/v1/."""

from django.urls import path

from recommendations import api

urlpatterns = [
    path("events", api.EventsIngestApi.as_view(), name="recs-events"),
    path("me/interests", api.InterestsApi.as_view(), name="recs-interests"),
    path("feeds/for-you", api.ForYouApi.as_view(), name="recs-for-you"),
    path("posts/<int:post_id>/similar", api.SimilarPostsApi.as_view(), name="recs-similar"),
    path("users/suggested", api.SuggestedUsersApi.as_view(), name="recs-suggested-users"),
]
