"""Moderation reads: may this account post, velocity caps, reports and decisions of a user."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from daira.lib import ratelimit
from daira.lib.errors import RateLimited
from moderation.models import AccountRestriction, Decision, DecisionKind, Report


def is_new_account(*, user: User) -> bool:
    """Younger than MODERATION_NEW_ACCOUNT_DAYS (stricter velocity caps apply)."""
    return user.date_joined > timezone.now() - timedelta(days=settings.MODERATION_NEW_ACCOUNT_DAYS)


def velocity_caps_for(*, user: User, action: str) -> tuple[int, int]:
    """(per minute, per hour) caps of `action` for `user`'s account age."""
    caps = settings.MODERATION_VELOCITY_CAPS[action]
    return tuple(caps["new" if is_new_account(user=user) else "established"])


def account_post_block_reason(*, user: User | None) -> str | None:
    """Why `user` may not post right now, or None when they may.

    "not_authenticated"; "suspended" (status suspended and the suspension not yet over) or
    "deactivated"; "limited" (an active read-only AccountRestriction); "new_account_throttled"
    (an account younger than MODERATION_NEW_ACCOUNT_DAYS already at its posts velocity cap).
    Shadowbans are deliberately not reported: the user must not learn of them.
    """
    if user is None or not user.is_authenticated:
        return "not_authenticated"
    if user.status == User.Status.SUSPENDED:
        if user.suspended_until is None or user.suspended_until > timezone.now():
            return "suspended"
    elif user.status != User.Status.ACTIVE:
        return "deactivated"
    now = timezone.now()
    if AccountRestriction.objects.filter(
        Q(until__isnull=True) | Q(until__gt=now), user_id=user.pk, lifted_at__isnull=True
    ).exists():
        return "limited"
    if is_new_account(user=user):
        per_minute, per_hour = velocity_caps_for(user=user, action="posts")
        try:
            ratelimit.check("velocity:posts:minute", str(user.pk), limit=per_minute, window_s=60)
            ratelimit.check("velocity:posts:hour", str(user.pk), limit=per_hour, window_s=3600)
        except RateLimited:
            return "new_account_throttled"
    return None


def account_can_post(*, user: User | None) -> bool:
    """True when `user` may publish now (see `account_post_block_reason` for the reasons)."""
    return account_post_block_reason(user=user) is None


def reporter_reliability(*, user_id: int) -> float:
    """How often this user's past reports led to action, smoothed towards 0.5 for newcomers:
    (actioned + 1) / (closed + 2)."""
    counts = dict(
        Report.objects.filter(reporter_id=user_id)
        .exclude(status=Report.Status.OPEN)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    actioned = counts.get(Report.Status.ACTIONED, 0)
    dismissed = counts.get(Report.Status.DISMISSED, 0)
    return (actioned + 1) / (actioned + dismissed + 2)


def report_list_for_reporter(*, reporter: User) -> QuerySet[Report]:
    """`reporter`'s own reports, newest first (their status, never the other reporters)."""
    return Report.objects.filter(reporter=reporter).order_by("-id")


def decision_list_for_user(*, user: User) -> QuerySet[Decision]:
    """Decisions taken against `user` (dismissals excluded), newest first, with their appeal."""
    return (
        Decision.objects.filter(target_user=user)
        .exclude(kind=DecisionKind.DISMISS)
        .select_related("case", "appeal")
        .order_by("-id")
    )


def decision_can_appeal(*, decision: Decision) -> bool:
    if decision.kind == DecisionKind.DISMISS or decision.reversed_at is not None:
        return False
    if hasattr(decision, "appeal"):
        return False
    return decision.created_at + timedelta(days=settings.MODERATION_APPEAL_WINDOW_DAYS) >= timezone.now()


def report_reason_counts(*, case_id: int) -> dict[str, int]:
    """Reasons given in a case's reports and how often (for the reviewer)."""
    return dict(
        Report.objects.filter(case_id=case_id).values_list("reason").annotate(n=Count("id")).order_by()
    )
