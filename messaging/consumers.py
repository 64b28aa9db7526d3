"""Channels consumers.

`EventsConsumer` (`/ws/events/`) is each user's live event stream: it joins the user's
group and forwards whatever services broadcast to it (`daira.lib.realtime`), from any
ASGI process, through channels-redis. It never decides anything itself: client frames
(`message.send`, `typing`, `conversation.read`, ...) call the same messaging services as
REST and GraphQL, whose broadcasts then reach every socket, this one included. The frame
shapes are documented in README.md, "WebSocket protocol".
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from daira.lib import realtime
from daira.lib.errors import ApplicationError, Invalid
from daira.lib.wsauth import selected_subprotocol

logger = logging.getLogger(__name__)

_db_executor: ThreadPoolExecutor | None = None


def _db(func):
    """Run a (database-touching) service off the event loop, in a shared pool of threads.

    Not thread-sensitive on purpose: Channels' default runs every consumer's database work
    in ONE thread per process, which serialises all sends; each service is a self-contained
    transaction, so a pool (one connection per thread) is safe and sends run in parallel.
    """
    global _db_executor
    if _db_executor is None:
        _db_executor = ThreadPoolExecutor(max_workers=settings.MESSAGING_WS_DB_THREADS, thread_name_prefix="ws-db")
    return database_sync_to_async(func, thread_sensitive=False, executor=_db_executor)

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
        # Set by accounts' session-aware authentication; lets "session.revoked" close
        # exactly the sockets opened with a token of that session.
        self.session_id = getattr(user, "current_session_id", None)
        self.group = realtime.user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        # Counted before "connected" goes out, so a push decided after the client saw it
        # already knows this socket is live.
        await self._track_socket()
        await self.accept(subprotocol)
        await self.send_json({"event": "connected", "payload": {"user_id": str(user.pk)}})
        await self._track_presence()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self._track_disconnect()

    # --- live socket count and presence (Redis; push decides from the count) ----------------
    async def _track_socket(self) -> None:
        from messaging import live

        try:
            await sync_to_async(live.socket_add, thread_sensitive=False)(self.user_id, self.channel_name)
        except Exception:  # Redis trouble must not cut the socket; push just errs on "offline"
            logger.exception("socket.track_failed", extra={"user_id": self.user_id})

    async def _track_presence(self) -> None:
        from messaging import services

        try:
            await _db(services.presence_heartbeat)(user=self.scope["user"])
        except Exception:
            logger.exception("presence.track_failed", extra={"user_id": self.user_id})

    async def _track_disconnect(self) -> None:
        from messaging import live, services

        try:
            remaining = await sync_to_async(live.socket_remove, thread_sensitive=False)(self.user_id, self.channel_name)
            for conversation_id in getattr(self, "open_conversations", set()):
                await sync_to_async(live.conversation_close, thread_sensitive=False)(self.user_id, conversation_id)
            if remaining == 0:
                await _db(services.presence_offline)(user=self.scope["user"])
        except Exception:
            logger.exception("socket.untrack_failed", extra={"user_id": self.user_id})

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # A malformed frame gets an error event; the socket stays open.
        if text_data is None:
            await self.send_json({"event": "error", "payload": {"code": "malformed", "message": "Send JSON text frames."}})
            return
        try:
            content = json.loads(text_data)
        except (TypeError, ValueError, RecursionError):  # RecursionError: absurdly nested JSON
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
        handler = FRAME_HANDLERS.get(content["type"])
        if handler is None:
            await self.send_json(
                {"event": "error", "payload": {"code": "unknown_type", "message": f"Unknown frame type {content['type'][:64]!r}."}}
            )
            return
        try:
            reply = await handler(self, content)
        except ApplicationError as error:
            payload = error.as_dict()
            payload["frame_type"] = content["type"]
            if isinstance(content.get("ref"), (str, int)):
                payload["ref"] = content["ref"]
            await self.send_json({"event": "error", "payload": payload})
            return
        except Exception:
            # A bug in one frame must not take the socket (and its other events) down.
            logger.exception("socket.frame_failed", extra={"user_id": self.user_id, "frame_type": content["type"]})
            await self.send_json(
                {"event": "error", "payload": {"code": "internal_error", "message": "Something went wrong.",
                                               "frame_type": content["type"]}}
            )
            return
        if reply is not None:
            await self.send_json(reply)

    # --- frame handlers: parse, call one service; the service broadcasts -------------------
    async def _frame_heartbeat(self, content: dict) -> None:
        from messaging import services

        await _db(services.presence_heartbeat)(user=self.scope["user"], channel_name=self.channel_name)

    async def _frame_typing(self, content: dict) -> None:
        from messaging import services

        await _db(services.typing_start)(
            actor=self.scope["user"], conversation_id=_frame_id(content, "conversation_id")
        )

    async def _frame_message_send(self, content: dict) -> None:
        from messaging import services

        await _db(services.message_send)(
            actor=self.scope["user"],
            conversation_id=_frame_id(content, "conversation_id"),
            body=_frame_str(content, "body"),
            client_id=_frame_str(content, "client_id"),
            media_ids=_frame_ids(content, "media_ids"),
            shared_post_id=_frame_id(content, "shared_post_id", required=False),
            shared_story_id=_frame_id(content, "shared_story_id", required=False),
            reply_to_id=_frame_id(content, "reply_to_id", required=False),
        )

    async def _frame_message_edit(self, content: dict) -> None:
        from messaging import services

        await _db(services.message_edit)(
            actor=self.scope["user"], message_id=_frame_id(content, "message_id"), body=_frame_str(content, "body")
        )

    async def _frame_message_unsend(self, content: dict) -> None:
        from messaging import services

        await _db(services.message_unsend)(
            actor=self.scope["user"], message_id=_frame_id(content, "message_id")
        )

    async def _frame_message_react(self, content: dict) -> None:
        from messaging import services

        await _db(services.message_react)(
            actor=self.scope["user"], message_id=_frame_id(content, "message_id"), emoji=_frame_str(content, "emoji")
        )

    async def _frame_read(self, content: dict) -> None:
        from messaging import services

        await _db(services.conversation_mark_read)(
            actor=self.scope["user"],
            conversation_id=_frame_id(content, "conversation_id"),
            message_id=_frame_id(content, "message_id", required=False),
        )

    async def _frame_open(self, content: dict) -> None:
        from messaging import live, services

        conversation_id = _frame_id(content, "conversation_id")
        await _db(services.participant_get)(user=self.scope["user"], conversation_id=conversation_id)
        await sync_to_async(live.conversation_open, thread_sensitive=False)(self.user_id, conversation_id)
        self.open_conversations = getattr(self, "open_conversations", set()) | {conversation_id}

    async def _frame_close(self, content: dict) -> None:
        from messaging import live

        conversation_id = _frame_id(content, "conversation_id")
        await sync_to_async(live.conversation_close, thread_sensitive=False)(self.user_id, conversation_id)
        self.open_conversations = getattr(self, "open_conversations", set()) - {conversation_id}

    async def relay(self, event):
        await self.send_json({"event": event["event"], "payload": event["payload"]})
        if event["event"] == "session.revoked" and str(self.session_id) in event["payload"].get("session_ids", ()):
            # The token this socket was opened with is no longer valid: close as for a bad token.
            await self.close(code=CLOSE_UNAUTHENTICATED)


def _frame_id(content: dict, name: str, *, required: bool = True) -> int | None:
    value = content.get(name)
    if value is None:
        if required:
            raise Invalid(f"{name} is required.", field=name)
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Invalid(f"{name} must be an id.", field=name)
    try:
        number = int(value)
    except ValueError:
        raise Invalid(f"{name} must be an id.", field=name) from None
    if not 0 < number < 1 << 63:
        raise Invalid(f"{name} must be an id.", field=name)
    return number


def _frame_ids(content: dict, name: str) -> list[int]:
    value = content.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 50:
        raise Invalid(f"{name} must be a list of ids.", field=name)
    return [_frame_id({name: item}, name) for item in value]


def _frame_str(content: dict, name: str) -> str:
    value: Any = content.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string.", field=name)
    return value


FRAME_HANDLERS = {
    "presence.heartbeat": EventsConsumer._frame_heartbeat,
    "typing": EventsConsumer._frame_typing,
    "message.send": EventsConsumer._frame_message_send,
    "message.edit": EventsConsumer._frame_message_edit,
    "message.unsend": EventsConsumer._frame_message_unsend,
    "message.react": EventsConsumer._frame_message_react,
    "conversation.read": EventsConsumer._frame_read,
    "conversation.open": EventsConsumer._frame_open,
    "conversation.close": EventsConsumer._frame_close,
}


class UnknownRouteConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept(selected_subprotocol(self.scope))
        await self.close(code=CLOSE_NOT_FOUND)
