"""Recommendations REST API: interaction events, onboarding interests, For-You, similar posts,
suggested creators. Thin adapters over recommendations.services / selectors."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from content.serializers import AuthorSerializer, PostOutputSerializer
from daira.lib.pagination import parse_limit
from recommendations import selectors, services
from recommendations.models import EventSource, EventType

CURSOR_PARAMS = [
    OpenApiParameter("cursor", str, required=False, description="Opaque cursor from the previous page"),
    OpenApiParameter("limit", int, required=False, description="Page size (default 20, at most 100)"),
]


def render_rec_page(request, page: selectors.RecPage) -> Response:
    """Post cards (content's PostOutputSerializer) with each item's `reason`."""
    cards = PostOutputSerializer([i.post for i in page.items], many=True, context={"viewer": request.user}).data
    results = [{**card, "reason": item.reason} for item, card in zip(page.items, cards, strict=True)]
    return Response({"results": results, "next_cursor": page.next_cursor, "source": page.source})


class RecCardSerializer(PostOutputSerializer):
    reason = serializers.CharField(help_text="Why it is recommended, e.g. \"Because you're into football\"")


class RecPageSerializer(serializers.Serializer):
    results = RecCardSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)
    source = serializers.ChoiceField(choices=["for_you", "trending", "similar"])


class SuggestedUserSerializer(AuthorSerializer):
    reason = serializers.CharField()


class EventInputSerializer(serializers.Serializer):
    """Documentation of one event; each is validated by the service so one bad event does not
    reject the batch."""

    client_event_id = serializers.CharField(max_length=64)
    type = serializers.ChoiceField(choices=EventType.choices)
    target_type = serializers.ChoiceField(choices=["post", "user", "hashtag", "query"])
    target_id = serializers.CharField(required=False, allow_null=True)
    source = serializers.ChoiceField(choices=[c for c in EventSource.choices if c[0] != EventSource.SERVER])
    at = serializers.DateTimeField()
    watch_ms = serializers.IntegerField(required=False, min_value=0)
    duration_ms = serializers.IntegerField(required=False, min_value=1)
    metadata = serializers.DictField(required=False)


class EventsIngestApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        # Items are not validated here: each event is checked on its own by the service,
        # which rejects a malformed one without failing the batch (and JSONField's per-item
        # re-serialisation cost a tenth of the request).
        events = serializers.ListField(min_length=1, max_length=100)

    @extend_schema(
        request=inline_serializer("EventBatch", {"events": EventInputSerializer(many=True)}),
        responses={202: inline_serializer("EventBatchResult", {
            "accepted": serializers.ListField(child=serializers.CharField()),
            "duplicates": serializers.ListField(child=serializers.CharField()),
            "rejected": serializers.ListField(child=inline_serializer("RejectedEvent", {
                "index": serializers.IntegerField(), "client_event_id": serializers.CharField(allow_null=True),
                "code": serializers.CharField(), "reason": serializers.CharField()})),
        })},
        summary="Report a batch of interaction events (≤ 100); each is accepted or rejected on its own",
    )
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = services.events_ingest(actor=request.user, events=payload.validated_data["events"])
        return Response({"accepted": result.accepted, "duplicates": result.duplicates, "rejected": result.rejected},
                        status=status.HTTP_202_ACCEPTED)


class InterestSerializer(serializers.Serializer):
    slot = serializers.IntegerField()
    label = serializers.CharField()
    weight = serializers.FloatField()


class InterestsApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        topics = serializers.ListField(child=serializers.CharField(max_length=60), min_length=1, max_length=20)

    @extend_schema(responses=inline_serializer("Interests", {"results": InterestSerializer(many=True)}), summary="My interest vectors (labels and weights)")
    def get(self, request):
        rows = selectors.user_interests(user_id=request.user.pk)
        return Response({"results": InterestSerializer(rows, many=True).data})

    @extend_schema(request=InputSerializer, responses={201: inline_serializer("InterestsSeeded", {"results": InterestSerializer(many=True)})},
                   summary="Onboarding: pick topics/hashtags (Arabic or English) that seed For-You")
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        interests = services.interests_seed(actor=request.user, topics=payload.validated_data["topics"])
        return Response({"results": InterestSerializer(interests, many=True).data}, status=status.HTTP_201_CREATED)


class ForYouApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=CURSOR_PARAMS, responses=RecPageSerializer, summary="For-You (Discover): recommended posts, each with a reason")
    def get(self, request):
        page = selectors.for_you(viewer=request.user, cursor=request.query_params.get("cursor") or None,
                                 limit=parse_limit(request.query_params.get("limit")))
        return render_rec_page(request, page)


class SimilarPostsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=CURSOR_PARAMS, responses=RecPageSerializer, summary="Posts similar to this one")
    def get(self, request, post_id: int):
        page = selectors.similar_posts(viewer=request.user, post_id=post_id,
                                       cursor=request.query_params.get("cursor") or None,
                                       limit=parse_limit(request.query_params.get("limit")))
        return render_rec_page(request, page)


class SuggestedUsersApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[OpenApiParameter("limit", int, required=False)],
                   responses=inline_serializer("SuggestedUsers", {"results": SuggestedUserSerializer(many=True)}),
                   summary="Creators near your interests you do not follow yet")
    def get(self, request):
        rows = selectors.suggested_users(viewer=request.user,
                                         limit=parse_limit(request.query_params.get("limit"), maximum=50))
        results = [{**AuthorSerializer(row.user).data, "reason": row.reason} for row in rows]
        return Response({"results": results})
