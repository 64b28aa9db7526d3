"""Feeds and search REST views (thin: parse, call one selector, render).

Posts render with content's PostOutputSerializer (the same cards as everywhere), plus
`reposted_by` (a mini author, or null) on feed items.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import avatar_urls
from content.serializers import AuthorSerializer, HashtagSerializer, PostOutputSerializer, SoundSerializer
from daira.lib.pagination import parse_limit
from feeds import selectors, services, trending

CURSOR_PARAMS = [
    OpenApiParameter("cursor", str, description="Opaque cursor from the previous page's next_cursor."),
    OpenApiParameter("limit", int, description="Page size (default 20, at most 100)."),
]


class FeedPostSerializer(PostOutputSerializer):
    """Schema only: a post card plus who reposted it into this feed."""

    reposted_by = AuthorSerializer(allow_null=True)


FeedPageSerializer = inline_serializer(
    name="FeedPage",
    fields={"results": FeedPostSerializer(many=True), "next_cursor": serializers.CharField(allow_null=True),
            "next_max_id": serializers.CharField(allow_null=True)},
)


def _ctx(request) -> dict:
    return {"viewer": request.user, "request": request}


def render_feed_page(request, page: selectors.FeedPage, **extra) -> Response:
    data = PostOutputSerializer(page.posts, many=True, context=_ctx(request)).data
    results = []
    for item, card in zip(page.items, data):
        card = dict(card)
        card["reposted_by"] = AuthorSerializer(item.reposted_by).data if item.reposted_by else None
        results.append(card)
    next_max_id = None
    if page.next_cursor and page.source not in ("ranked", "trending", "explore") and page.items:
        next_max_id = str(page.items[-1].score)
    return Response({"results": results, "next_cursor": page.next_cursor, "next_max_id": next_max_id, **extra})


class HomeFeedApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        cursor = serializers.CharField(required=False, allow_blank=True)
        max_id = serializers.RegexField(r"^\d{1,19}$", required=False)
        ranking = serializers.ChoiceField(choices=selectors.RANKINGS, default="chronological")

    @extend_schema(
        parameters=[*CURSOR_PARAMS, OpenApiParameter("max_id", str, description="Only entries older than this id"),
                    OpenApiParameter("ranking", str, enum=list(selectors.RANKINGS))],
        responses=FeedPageSerializer, summary="Home feed (the Circle tab)",
    )
    def get(self, request):
        payload = self.InputSerializer(data=request.query_params)
        payload.is_valid(raise_exception=True)
        page = selectors.home_feed(
            viewer=request.user, cursor=payload.validated_data.get("cursor") or None,
            max_id=payload.validated_data.get("max_id"), ranking=payload.validated_data["ranking"],
            limit=parse_limit(request.query_params.get("limit")),
        )
        return render_feed_page(request, page)


class CircleFeedApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=CURSOR_PARAMS, responses=FeedPageSerializer,
                   summary="Posts by the members of one of my circles")
    def get(self, request, circle_id: int):
        page = selectors.circle_feed(viewer=request.user, circle_id=circle_id,
                                     cursor=request.query_params.get("cursor") or None,
                                     limit=parse_limit(request.query_params.get("limit")))
        return render_feed_page(request, page)


class TrendingApi(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=trending.KINDS, default="posts")
        window = serializers.ChoiceField(choices=list(trending.WINDOWS), default="24h")
        cursor = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(
        parameters=[OpenApiParameter("kind", str, enum=list(trending.KINDS)),
                    OpenApiParameter("window", str, enum=list(trending.WINDOWS)), *CURSOR_PARAMS],
        responses=inline_serializer(name="TrendingPage", fields={
            "kind": serializers.CharField(), "window": serializers.CharField(),
            "results": serializers.ListField(child=serializers.DictField()),
            "next_cursor": serializers.CharField(allow_null=True)}),
        summary="Trending posts, videos, hashtags or sounds (engagement with time decay)",
    )
    def get(self, request):
        payload = self.InputSerializer(data=request.query_params)
        payload.is_valid(raise_exception=True)
        kind, window = payload.validated_data["kind"], payload.validated_data["window"]
        limit = parse_limit(request.query_params.get("limit"))
        if kind in ("posts", "videos"):
            page = selectors.trending_posts(viewer=request.user, kind=kind, window=window,
                                            cursor=payload.validated_data.get("cursor") or None, limit=limit)
            return render_feed_page(request, page, kind=kind, window=window)
        entries = selectors.trending_tags(kind=kind, window=window, limit=limit)
        serializer = HashtagSerializer if kind == "hashtags" else SoundSerializer
        results = [{**serializer(e.object).data, "score": round(e.score, 6)} for e in entries]
        return Response({"kind": kind, "window": window, "results": results, "next_cursor": None, "next_max_id": None})


class ExploreApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=CURSOR_PARAMS, responses=FeedPageSerializer,
                   summary="Explore: trending and fresh posts from accounts you do not follow")
    def get(self, request):
        page = selectors.explore(viewer=request.user, cursor=request.query_params.get("cursor") or None,
                                 limit=parse_limit(request.query_params.get("limit")))
        return render_feed_page(request, page)


class UserHitSerializer(serializers.Serializer):
    id = serializers.SerializerMethodField()
    handle = serializers.CharField()
    display_name = serializers.CharField(source="profile.display_name")
    avatar = serializers.SerializerMethodField()
    is_private = serializers.BooleanField()
    followers_count = serializers.IntegerField(source="profile.followers_count")

    def get_id(self, user) -> str:
        return str(user.pk)

    def get_avatar(self, user) -> dict[str, str]:
        return avatar_urls(user.profile)


def render_search(request, results: selectors.SearchResults) -> dict:
    return {
        "users": UserHitSerializer(results.users, many=True).data,
        "hashtags": HashtagSerializer(results.hashtags, many=True).data,
        "posts": PostOutputSerializer(results.posts, many=True, context=_ctx(request)).data,
        "sounds": SoundSerializer(results.sounds, many=True).data,
        "next_cursor": results.next_cursor,
    }


class SearchApi(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        q = serializers.CharField(max_length=200, allow_blank=True, trim_whitespace=True)
        type = serializers.ChoiceField(choices=selectors.SEARCH_TYPES, default="all")
        cursor = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True),
                    OpenApiParameter("type", str, enum=list(selectors.SEARCH_TYPES)),
                    *CURSOR_PARAMS],
        responses=inline_serializer(name="SearchResults", fields={
            "users": UserHitSerializer(many=True), "hashtags": HashtagSerializer(many=True),
            "posts": PostOutputSerializer(many=True), "sounds": SoundSerializer(many=True),
            "next_cursor": serializers.CharField(allow_null=True)}),
        summary="Search people, hashtags, posts and sounds (Arabic, Arabizi, typos, prefixes)",
    )
    def get(self, request):
        payload = self.InputSerializer(data=request.query_params)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        results = selectors.search(viewer=request.user, query=data["q"], type=data["type"],
                                   cursor=data.get("cursor") or None,
                                   limit=parse_limit(request.query_params.get("limit")))
        if request.user.is_authenticated and not data.get("cursor"):
            services.search_history_record(user=request.user, query=data["q"], kind=data["type"])
        return Response(render_search(request, results))


class RecentSearchSerializer(serializers.Serializer):
    id = serializers.CharField()
    query = serializers.CharField()
    type = serializers.CharField(source="kind")
    searched_at = serializers.DateTimeField()


class SearchRecentApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=inline_serializer(name="RecentSearches", fields={
        "results": RecentSearchSerializer(many=True)}), summary="My recent searches")
    def get(self, request):
        limit = parse_limit(request.query_params.get("limit"), default=10)
        rows = selectors.search_recent(user=request.user, limit=limit)
        return Response({"results": RecentSearchSerializer(rows, many=True).data})

    @extend_schema(responses={204: None}, summary="Clear my search history", operation_id="search_recent_clear")
    def delete(self, request):
        services.search_history_clear(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SearchRecentEntryApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None}, summary="Forget one recent search", operation_id="search_recent_forget")
    def delete(self, request, entry_id: int):
        services.search_history_clear(user=request.user, entry_id=entry_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
