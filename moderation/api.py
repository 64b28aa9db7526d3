"""REST adapters for users' side of moderation: report, my reports' status, decisions on me,
appeal. Everything else is the admin's.

Ids are strings in JSON (64-bit snowflakes overflow JavaScript numbers). Lists are
`{"results": [...], "next_cursor": ...}` with `?cursor=&limit=`.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from daira.lib.errors import NotFound
from daira.lib.pagination import paginate_by_id, paginated_response, parse_limit
from moderation import selectors, services, targets
from moderation.models import ReportReason

MAX_ID = (1 << 63) - 1


@extend_schema_serializer(component_name="ModerationReport")
class ReportOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField(source="object_id")
    reason = serializers.CharField()
    note = serializers.CharField()
    status = serializers.CharField(help_text="open, actioned (action was taken) or dismissed (no action)")
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="ModerationAppeal")
class AppealOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    decision_id = serializers.CharField()
    text = serializers.CharField()
    status = serializers.CharField(help_text="pending, upheld or reversed")
    created_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="ModerationDecision")
class DecisionOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    decision = serializers.CharField(source="kind")
    target_type = serializers.CharField(source="case.target_type")
    target_id = serializers.CharField(source="case.object_id")
    until = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    reversed = serializers.SerializerMethodField()
    can_appeal = serializers.SerializerMethodField()
    appeal = serializers.SerializerMethodField()

    def get_reversed(self, decision) -> bool:
        return decision.reversed_at is not None

    def get_can_appeal(self, decision) -> bool:
        return selectors.decision_can_appeal(decision=decision)

    def get_appeal(self, decision) -> dict | None:
        appeal = decision.appeal if hasattr(decision, "appeal") else None
        return AppealOutputSerializer(appeal).data if appeal is not None else None


def _page_of(serializer_class, name: str):
    return inline_serializer(name, fields={
        "results": serializer_class(many=True),
        "next_cursor": serializers.CharField(allow_null=True),
    })


class ReportListCreateApi(APIView):
    """POST: report something. GET: my reports and their status, newest first."""

    permission_classes = [IsAuthenticated]
    @extend_schema_serializer(component_name="ReportCreateInput")
    class InputSerializer(serializers.Serializer):
        target_type = serializers.ChoiceField(choices=targets.TARGET_TYPE_NAMES)
        target_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        reason = serializers.ChoiceField(choices=ReportReason.choices)
        note = serializers.CharField(allow_blank=True, required=False, default="", max_length=1000)

    @extend_schema(request=InputSerializer, responses={201: ReportOutputSerializer}, operation_id="reports_create")
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        report = services.report_create(reporter=request.user, **payload.validated_data)
        return Response(ReportOutputSerializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: _page_of(ReportOutputSerializer, "ModerationReportPage")}, operation_id="reports_list_mine")
    def get(self, request):
        page = paginate_by_id(
            selectors.report_list_for_reporter(reporter=request.user),
            cursor=request.query_params.get("cursor"),
            limit=parse_limit(request.query_params.get("limit")),
        )
        return paginated_response(page, ReportOutputSerializer)


class DecisionListApi(APIView):
    """Moderation decisions taken on my account or content (with my appeal, if any)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: _page_of(DecisionOutputSerializer, "ModerationDecisionPage")}, operation_id="moderation_decisions_mine")
    def get(self, request):
        page = paginate_by_id(
            selectors.decision_list_for_user(user=request.user),
            cursor=request.query_params.get("cursor"),
            limit=parse_limit(request.query_params.get("limit")),
        )
        return paginated_response(page, DecisionOutputSerializer)


class AppealCreateApi(APIView):
    """Appeal a decision on me, once."""

    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="AppealCreateInput")
    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(max_length=2000)

    @extend_schema(request=InputSerializer, responses={201: AppealOutputSerializer}, operation_id="appeals_create")
    def post(self, request, decision_id: int):
        if decision_id > MAX_ID:  # beyond bigint: no such row (and no database error)
            raise NotFound("Decision not found.")
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        appeal = services.appeal_create(user=request.user, decision_id=decision_id, **payload.validated_data)
        return Response(AppealOutputSerializer(appeal).data, status=status.HTTP_201_CREATED)

