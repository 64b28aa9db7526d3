"""The real URLs plus views that misbehave on purpose, for the error-shape tests."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from daira.lib.errors import Conflict, RateLimited
from daira.urls import urlpatterns as real_urlpatterns


class BoomApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise ZeroDivisionError("a bug")


class EchoApi(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        return Response({"received": request.data})


class ConflictApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise Conflict("That handle is taken.", field="handle", code="handle_taken")


class LimitedApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RateLimited(retry_after=42)


urlpatterns = [
    path("api/v1/test/boom", BoomApi.as_view()),
    path("api/v1/test/echo", EchoApi.as_view()),
    path("api/v1/test/conflict", ConflictApi.as_view()),
    path("api/v1/test/limited", LimitedApi.as_view()),
    *real_urlpatterns,
]
