"""ASGI entry point: HTTP through Django, WebSockets through Channels (JWT-authenticated)."""

import os
import warnings

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")
# Static files (WhiteNoise) and local media are file iterators; under ASGI Django wraps them
# in a thread, which is fine for development-sized files, and warns on every request.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
django.setup(set_prefix=False)  # before importing consumers and the handler's middleware

from django.conf import settings  # noqa: E402

from daira.lib.asgi import PooledThreadASGIHandler  # noqa: E402

# One hop per request into a fixed pool of threads (see daira/lib/asgi.py for why).
django_asgi_app = PooledThreadASGIHandler(threads=settings.DAIRA_ASGI_THREADS)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from daira.lib.wsauth import JwtAuthMiddleware  # noqa: E402
from daira.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": JwtAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
