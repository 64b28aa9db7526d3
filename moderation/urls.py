"""Moderation REST routes (mounted under /api/v1/ by daira/urls.py)."""

from django.urls import path

from moderation import api

urlpatterns = [
    path("reports", api.ReportListCreateApi.as_view(), name="moderation-reports"),
    path("moderation/decisions", api.DecisionListApi.as_view(), name="moderation-decisions"),
    path("moderation/decisions/<int:decision_id>/appeal", api.AppealCreateApi.as_view(), name="moderation-appeal"),
]
