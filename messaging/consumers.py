"""Channels consumers.

`EventsConsumer` (`/ws/events/`) is each user's live event stream: it joins the user's
group and forwards whatever services broadcast to it (`daira.lib.realtime`), from any
ASGI process, through channels-redis. It never decides anything itself.
"""

from __future__ import annotations

import json

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from daira.lib import realtime
from daira.lib.wsauth import selected_subprotocol

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class EventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope["user"]
        subprotocol = selected_subprotocol(self.scope)
        if not user.is_authenticated:
            # Closing before accept() becomes a bare HTTP 403 at the handshake; accept
            # first so the client sees close code 4401 and knows to refresh its token.
            await self.accept(subprotocol)
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.group = realtime.user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept(subprotocol)
        await self.send_json({"event": "connected", "payload": {"user_id": str(user.pk)}})

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # A malformed frame gets an error event; the socket stays open.
        if text_data is None:
            await self.send_json({"event": "error", "payload": {"code": "malformed", "message": "Send JSON text frames."}})
            return
        try:
            content = json.loads(text_data)
        except (TypeError, ValueError):
            await self.send_json({"event": "error", "payload": {"code": "malformed", "message": "Frames must be JSON."}})
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_json(
                {"event": "error", "payload": {"code": "malformed", "message": "Frames are objects with a 'type'."}}
            )
            return
        if content["type"] == "ping":
            await self.send_json({"event": "pong", "payload": {}})
            return
        await self.send_json(
            {"event": "error", "payload": {"code": "unknown_type", "message": f"Unknown frame type {content['type']!r}."}}
        )

    async def relay(self, event):
        await self.send_json({"event": event["event"], "payload": event["payload"]})


class UnknownRouteConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept(selected_subprotocol(self.scope))
        await self.close(code=CLOSE_NOT_FOUND)
