"""Django's ASGI handler, with each HTTP request served in one hop to a long-lived thread.

Every view and middleware in DAIRA is synchronous (WebSockets are Channels consumers, not
Django views). Django's stock ASGIHandler builds its middleware chain in async mode, so a
request hops between the event loop and a thread at every sync middleware and again for
the view, and each request gets a brand-new thread (`ThreadSensitiveContext`). Profiling
the gift endpoint under load (py-spy, issue 12) put about 40% of the server's CPU in those
hops; and a new thread per request means a new Postgres connection per request (Django's
connections are per thread) and a new Celery result backend per request (Celery keeps one
per thread).

`PooledThreadASGIHandler` builds the chain in sync mode and runs `get_response` for each
request in a fixed pool of threads, so a request costs one hop and every thread keeps its
database connection between requests (subject to CONN_MAX_AGE and the health check).

Contract:
- Reading the body, disconnect handling, streaming the response and `request_finished` stay
  Django's own code (we only replace `get_response_async` and `__call__`).
- Database connections of the pool thread are checked with `close_old_connections()` before
  and after each request, as Django's request signals would do in the thread that uses them.
- At most `threads` requests run views at once per process; more wait in the queue. The
  pool is sized by DAIRA_ASGI_THREADS; each thread may hold one Postgres connection.
- An async view would still work (BaseHandler adapts it with async_to_sync), but there are
  none; adding async views is the moment to revisit this handler.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections


class PooledThreadASGIHandler(ASGIHandler):
    def __init__(self, threads: int):
        super().__init__()
        # The stock __init__ built the async chain; rebuild it in sync mode (it only imports
        # and instantiates the middleware classes again, once per process).
        self.load_middleware(is_async=False)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="daira-http")
        self._serve_in_thread = sync_to_async(self._serve, thread_sensitive=False, executor=self._executor)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # No ThreadSensitiveContext: the view runs in our pool; what Django itself still runs
        # thread-sensitively (request_started receivers, response.close) is small and goes to
        # asgiref's one shared thread instead of a new thread per request.
        await self.handle(scope, receive, send)

    async def get_response_async(self, request):
        return await self._serve_in_thread(request)

    def _serve(self, request):
        close_old_connections()
        try:
            return self.get_response(request)
        finally:
            close_old_connections()
