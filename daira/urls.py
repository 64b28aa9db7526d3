"""URL wiring. Each app owns its routes in `<app>/urls.py` under /api/v1/."""

from importlib import import_module
from importlib.util import find_spec

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from daira import health
from daira.lib.graphql import DairaGraphQLView
from daira.views import public_media_serve

# recommendations first: its fixed "users/suggested" must win over accounts' "users/<handle>"
# ("suggested" is a reserved handle in accounts/validators.py).
APP_URLCONFS = ["recommendations", "accounts", "social", "moderation", "media", "content", "feeds", "messaging", "wallet"]

# One flat list, not one include per app: when a route misses inside an include, Django's
# resolver copies everything that include tried (URLResolver._extend_tried), so a wallet
# route, after eight includes, spent about 13% of a gift request's CPU just being found
# (py-spy, issue 12). Same order, same matching; the apps define no namespaces.
api_v1 = [
    pattern
    for app in APP_URLCONFS
    if find_spec(f"{app}.urls") is not None
    for pattern in import_module(f"{app}.urls").urlpatterns
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("graphql/", DairaGraphQLView.as_view(graphiql=True), name="graphql"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("", include("django_prometheus.urls")),  # /metrics
]

if not settings.S3_BUCKET:
    # Local storage: served by Django with byte ranges (video seeking) in every mode, since
    # the embedded default has no separate web server. Production uses S3 + a CDN.
    urlpatterns.append(re_path(r"^media/(?P<path>.+)$", public_media_serve, name="media"))

handler404 = "daira.views.not_found"
handler500 = "daira.views.server_error"
