"""Django's stock ASGIHandler for HTTP, for comparing with daira.asgi's pooled-thread handler
(bench/wallet.py --asgi stock). Not used by the platform."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "daira.settings")
application = get_asgi_application()
