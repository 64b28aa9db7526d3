"""The project's URLs plus `/api/v1/bench/ping`: authenticated like every API view
(JWT + device session), returning a fixed small JSON. Used only by bench/feeds.py."""

from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class BenchPingApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True, "user": str(request.user.pk)})


urlpatterns = [
    path("api/v1/bench/ping", BenchPingApi.as_view()),
    path("", include("daira.urls")),
]
