"""Settings for `bench/realtime.py --layer pubsub`: the project's settings with channels-redis'
pub/sub layer instead of the list-based core layer, to compare delivery under fan-out.

The core layer delivers each message to a process through its own list, popped one Redis
round trip at a time by that process; the pub/sub layer streams group messages to each
subscribed process over one connection. Not used by the application itself.
"""

from daira.settings import *  # noqa: F403
from daira.settings import REDIS_URL

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}], "prefix": "daira-ws"},
    }
}
