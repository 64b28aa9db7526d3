"""URL wiring. Each app owns its routes in `<app>/urls.py` under /api/v1/."""

from importlib import import_module
from importlib.util import find_spec

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, include, path, re_path
from django.urls.resolvers import RoutePattern
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from daira import health
from daira.lib.graphql import DairaGraphQLView
from daira.views import public_media_serve

# recommendations first: its fixed "users/suggested" must win over accounts' "users/<handle>"
# ("suggested" is a reserved handle in accounts/validators.py).
APP_URLCONFS = ["recommendations", "accounts", "social", "moderation", "media", "content", "feeds", "messaging", "wallet"]

# Not one include per app: when a route misses inside an include, Django's resolver copies
# everything that include tried (URLResolver._extend_tried), so a wallet route, after eight
# includes, spent about 13% of a gift request's CPU just being found (py-spy, issue 12).
# One include per first segment instead (below): a path enters only its own segment's
# include, so only a 404 copies anything. Same order, same matching; no namespaces.


def grouped_by_first_segment(patterns: list) -> list:
    """The same routes, with those under a common first segment ("wallet/gifts",
    "wallet/tips", ...) nested in one `include` per segment ("wallet/" → "gifts", "tips").

    Why: Django resolves by trying patterns in order. Flat, a request for the last app's
    routes was matched against about 150 regexes first (154 µs of CPU to resolve
    /api/v1/wallet/gifts, 132 µs for /api/v1/feeds/home); nested, against one per
    segment, then its own group (101 and 44 µs).
    Resolution cannot change: a path can only match routes whose first segment is its
    own, their order is kept, and names (reverse) and the schema's paths are the same.
    Routes that are a single segment ("me") and anything not a plain `path()` route stay
    as they are."""
    groups: dict[str, list] = {}
    flat: list = []
    for pattern in patterns:
        route = pattern.pattern._route if isinstance(pattern, URLPattern) and isinstance(pattern.pattern, RoutePattern) else None
        segment, slash, rest = (route or "").partition("/")
        if not slash or not segment or "<" in segment:
            flat.append(pattern)
            continue
        if segment not in groups:
            groups[segment] = []
            flat.append(segment)  # the group's place: the position of its first route
        groups[segment].append(path(rest, pattern.callback, kwargs=pattern.default_args, name=pattern.name))
    return [path(f"{item}/", include(groups[item])) if isinstance(item, str) else item for item in flat]


api_v1 = grouped_by_first_segment([
    pattern
    for app in APP_URLCONFS
    if find_spec(f"{app}.urls") is not None
    for pattern in import_module(f"{app}.urls").urlpatterns
])

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
