"""Feeds and search routes under /api/v1/."""

from django.urls import path

from feeds import api

urlpatterns = [
    path("feeds/home", api.HomeFeedApi.as_view(), name="feeds-home"),
    path("feeds/circles/<int:circle_id>", api.CircleFeedApi.as_view(), name="feeds-circle"),
    path("feeds/trending", api.TrendingApi.as_view(), name="feeds-trending"),
    path("feeds/explore", api.ExploreApi.as_view(), name="feeds-explore"),
    path("search", api.SearchApi.as_view(), name="search"),
    path("search/recent", api.SearchRecentApi.as_view(), name="search-recent"),
    path("search/recent/<int:entry_id>", api.SearchRecentEntryApi.as_view(), name="search-recent-entry"),
]
