"""WebSocket routes → consumers."""

from django.urls import path, re_path

from messaging.consumers import EventsConsumer, UnknownRouteConsumer

websocket_urlpatterns = [
    path("ws/events/", EventsConsumer.as_asgi()),
    re_path(r"^ws/", UnknownRouteConsumer.as_asgi()),
]
