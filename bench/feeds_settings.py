"""Settings for bench/feeds.py's server: the project's settings plus one extra route
(a bare authenticated DRF endpoint, the baseline the feed is compared with)."""

from daira.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.feeds_urls"
