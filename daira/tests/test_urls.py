"""daira.urls.grouped_by_first_segment: nesting the API's routes by first segment must not
change what any path resolves to, nor any name's reverse."""

import pytest
from django.http import HttpResponse
from django.urls import Resolver404, URLPattern, URLResolver, path, re_path
from django.urls.resolvers import RoutePattern, get_resolver

from daira.urls import api_v1, grouped_by_first_segment


def view_a(request, **kwargs):
    return HttpResponse("a")


def view_b(request, **kwargs):
    return HttpResponse("b")


FLAT = [
    path("wallet/gifts", view_a, name="gifts"),
    path("me", view_a, name="me"),
    path("posts/<int:post_id>", view_a, name="post"),
    path("wallet/gifts/catalogue", view_b, name="catalogue"),
    path("<str:handle>/profile", view_b, name="profile"),  # a converter in the first segment
    re_path(r"^legacy/(?P<n>[0-9]+)$", view_b, name="legacy"),
    path("posts/<str:anything>", view_b, name="post-any"),  # after posts/<int>: loses to it for digits
    path("wallet/tips", view_b, {"fixed": "yes"}, name="tips"),
    path("me/settings", view_b, name="me-settings"),
]
PATHS = ["wallet/gifts", "wallet/gifts/catalogue", "wallet/tips", "me", "me/settings", "posts/12", "posts/abc",
         "sam/profile", "legacy/7", "wallet", "wallet/", "walletx/gifts", "nothing/here", "me/", "posts/"]


def _resolved(patterns, target: str):
    resolver = URLResolver(RoutePattern(""), patterns)
    try:
        match = resolver.resolve(target)
    except Resolver404:
        return "404"
    return match.func.__name__, match.url_name, match.kwargs, match.route


@pytest.mark.parametrize("target", PATHS)
def test_every_path_resolves_as_it_did_flat(target):
    assert _resolved(grouped_by_first_segment(FLAT), target) == _resolved(FLAT, target)


def test_routes_with_a_common_first_segment_are_nested_in_order():
    grouped = grouped_by_first_segment(FLAT)
    assert [str(p.pattern) for p in grouped] == ["wallet/", "me", "posts/", "<str:handle>/profile", "^legacy/(?P<n>[0-9]+)$",
                                                 "me/"]
    assert [p.name for p in grouped[0].url_patterns] == ["gifts", "catalogue", "tips"]
    assert grouped[0].url_patterns[2].default_args == {"fixed": "yes"}


def test_the_api_keeps_every_route_and_name():
    from importlib import import_module
    from importlib.util import find_spec

    from daira.urls import APP_URLCONFS

    flat = [p for app in APP_URLCONFS if find_spec(f"{app}.urls") for p in import_module(f"{app}.urls").urlpatterns]

    def routes(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLPattern):
                yield p.name, prefix + str(p.pattern), p.callback
            else:
                yield from routes(p.url_patterns, prefix + str(p.pattern))

    assert sorted(routes(api_v1), key=repr) == sorted(routes(flat), key=repr)
    # and: the project's resolver reaches a nested route under /api/v1/
    assert get_resolver().resolve("/api/v1/wallet/gifts").url_name == "wallet-gifts"
    # and: recommendations' fixed "users/suggested" still wins over accounts' "users/<handle>"
    assert get_resolver().resolve("/api/v1/users/suggested").url_name == "recs-suggested-users"
