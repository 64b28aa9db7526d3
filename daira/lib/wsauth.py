"""WebSocket authentication: the same Bearer JWT as REST.

Browsers cannot set headers on a WebSocket, so the token may come as a
`Sec-WebSocket-Protocol` entry (`["bearer", "<token>"]` or `"bearer.<token>"`), or as
`?token=`. The consumer must then accept with subprotocol "bearer" when the client
offered it; `selected_subprotocol(scope)` says which.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from daira.lib import auth


def token_from_scope(scope) -> str | None:
    protocols = list(scope.get("subprotocols") or [])
    for index, protocol in enumerate(protocols):
        lowered = protocol.lower()
        if lowered.startswith("bearer.") and len(protocol) > 7:
            return protocol[7:]
        if lowered in ("bearer", "access_token") and index + 1 < len(protocols):
            return protocols[index + 1]
    query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
    tokens = query.get("token") or query.get("access_token")
    if tokens:
        return tokens[0]
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            parts = value.decode("latin-1").split()
            if len(parts) == 2 and parts[0].lower() == "bearer":
                return parts[1]
    return None


def selected_subprotocol(scope) -> str | None:
    for protocol in scope.get("subprotocols") or []:
        if protocol.lower() == "bearer":
            return protocol
        if protocol.lower().startswith("bearer."):
            return protocol
    return None


# thread_sensitive=False: the token lookup touches no thread-bound state, and the default
# (one shared thread per process) serialised every handshake (2,000 sockets took 66 s).
def _user_for_sync(token: str | None):
    if not token:
        return AnonymousUser()
    return auth.user_from_token(token)


_user_for = database_sync_to_async(_user_for_sync, thread_sensitive=False)


class JwtAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        scope["user"] = await _user_for(token_from_scope(scope))
        return await self.inner(scope, receive, send)
