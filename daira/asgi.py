"""ASGI entry point: HTTP through Django, WebSockets through Channels (JWT-authenticated)."""

import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")
# Static files (WhiteNoise) and local media are file iterators; under ASGI Django wraps them
# in a thread, which is fine for development-sized files, and warns on every request.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
django_asgi_app = get_asgi_application()  # set up Django before importing consumers

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from daira.lib.wsauth import JwtAuthMiddleware  # noqa: E402
from daira.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": JwtAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
