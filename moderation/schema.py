"""GraphQL for users' side of moderation (same services and selectors as the REST API):
`reportCreate`, `myReports`, `myModerationDecisions`, `appealCreate`."""

from __future__ import annotations

import graphene

from daira.lib.errors import Invalid
from daira.lib.graphql import DairaMutation, require_user
from daira.lib.pagination import paginate_by_id, parse_limit
from moderation import selectors, services
from moderation.models import ReportReason

MAX_ID = (1 << 63) - 1

ReportReasonEnum = graphene.Enum("ReportReason", [(value.upper(), value) for value in ReportReason.values])


def _parse_id(raw, *, field: str) -> int:
    try:
        value = int(str(raw))
    except (TypeError, ValueError):
        raise Invalid("Not a valid id.", field=field) from None
    if not 0 < value <= MAX_ID:
        raise Invalid("Not a valid id.", field=field)
    return value


class ModerationReport(graphene.ObjectType):
    id = graphene.ID(required=True)
    target_type = graphene.String(required=True)
    target_id = graphene.ID(required=True)
    reason = graphene.String(required=True)
    note = graphene.String(required=True)
    status = graphene.String(required=True, description="open, actioned or dismissed")
    created_at = graphene.DateTime(required=True)
    resolved_at = graphene.DateTime()

    @staticmethod
    def resolve_target_id(report, info):
        return report.object_id


class ModerationReportPage(graphene.ObjectType):
    results = graphene.List(graphene.NonNull(ModerationReport), required=True)
    next_cursor = graphene.String()


class ModerationAppeal(graphene.ObjectType):
    id = graphene.ID(required=True)
    decision_id = graphene.ID(required=True)
    text = graphene.String(required=True)
    status = graphene.String(required=True, description="pending, upheld or reversed")
    created_at = graphene.DateTime(required=True)
    reviewed_at = graphene.DateTime()


class ModerationDecision(graphene.ObjectType):
    id = graphene.ID(required=True)
    decision = graphene.String(required=True)
    target_type = graphene.String(required=True)
    target_id = graphene.ID(required=True)
    until = graphene.DateTime()
    created_at = graphene.DateTime(required=True)
    reversed = graphene.Boolean(required=True)
    can_appeal = graphene.Boolean(required=True)
    appeal = graphene.Field(ModerationAppeal)

    @staticmethod
    def resolve_decision(decision, info):
        return decision.kind

    @staticmethod
    def resolve_target_type(decision, info):
        return decision.case.target_type

    @staticmethod
    def resolve_target_id(decision, info):
        return decision.case.object_id

    @staticmethod
    def resolve_reversed(decision, info):
        return decision.reversed_at is not None

    @staticmethod
    def resolve_can_appeal(decision, info):
        return selectors.decision_can_appeal(decision=decision)

    @staticmethod
    def resolve_appeal(decision, info):
        return decision.appeal if hasattr(decision, "appeal") else None


class ModerationDecisionPage(graphene.ObjectType):
    results = graphene.List(graphene.NonNull(ModerationDecision), required=True)
    next_cursor = graphene.String()


class Query(graphene.ObjectType):
    my_reports = graphene.Field(ModerationReportPage, required=True, cursor=graphene.String(), limit=graphene.Int())
    my_moderation_decisions = graphene.Field(
        ModerationDecisionPage, required=True, cursor=graphene.String(), limit=graphene.Int()
    )

    @staticmethod
    def resolve_my_reports(root, info, cursor=None, limit=None):
        user = require_user(info)
        page = paginate_by_id(selectors.report_list_for_reporter(reporter=user), cursor=cursor, limit=parse_limit(limit))
        return ModerationReportPage(results=page.items, next_cursor=page.next_cursor)

    @staticmethod
    def resolve_my_moderation_decisions(root, info, cursor=None, limit=None):
        user = require_user(info)
        page = paginate_by_id(selectors.decision_list_for_user(user=user), cursor=cursor, limit=parse_limit(limit))
        return ModerationDecisionPage(results=page.items, next_cursor=page.next_cursor)


class ReportCreate(DairaMutation):
    class Arguments:
        target_type = graphene.String(required=True, description="profile, post, comment, story or message")
        target_id = graphene.ID(required=True)
        reason = ReportReasonEnum(required=True)
        note = graphene.String()

    report = graphene.Field(ModerationReport)

    @classmethod
    def perform(cls, root, info, *, target_type, target_id, reason, note=None):
        report = services.report_create(
            reporter=info.context.user,
            target_type=target_type,
            target_id=_parse_id(target_id, field="target_id"),
            reason=getattr(reason, "value", reason),
            note=note or "",
        )
        return cls(report=report)


class AppealCreate(DairaMutation):
    class Arguments:
        decision_id = graphene.ID(required=True)
        text = graphene.String(required=True)

    appeal = graphene.Field(ModerationAppeal)

    @classmethod
    def perform(cls, root, info, *, decision_id, text):
        appeal = services.appeal_create(
            user=info.context.user, decision_id=_parse_id(decision_id, field="decision_id"), text=text
        )
        return cls(appeal=appeal)


class Mutation(graphene.ObjectType):
    report_create = ReportCreate.Field()
    appeal_create = AppealCreate.Field()
