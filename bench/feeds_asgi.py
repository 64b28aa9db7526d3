"""ASGI app for bench/feeds.py: the real one, with bench/feeds_settings.py."""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.feeds_settings"

from daira.asgi import application  # noqa: E402,F401
