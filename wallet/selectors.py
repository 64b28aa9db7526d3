"""Wallet reads. Every lookup is scoped to its owner (no IDOR): users see their own money only."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from daira.lib.errors import NotFound
from daira.lib.pagination import Page, paginate_by_id
from wallet import ledger
from wallet.models import (
    LIVE_SUBSCRIPTION_STATUSES,
    AccountKind,
    Entry,
    Gift,
    Payment,
    Payout,
    Subscription,
    SubscriptionTier,
)

USER_ACCOUNT_KINDS = (AccountKind.COIN_BALANCE, AccountKind.EARNINGS, AccountKind.PENDING_PAYOUT)


def balances_get(*, user) -> dict[str, int]:
    """{coins, earnings_piastres, pending_payout_piastres}: shards summed."""
    rows = dict(
        ledger.Account.objects.filter(owner=user, kind__in=USER_ACCOUNT_KINDS)
        .values("kind").annotate(total=Sum("balance")).values_list("kind", "total")
    )
    return {
        "coins": int(rows.get(AccountKind.COIN_BALANCE, 0) or 0),
        "earnings_piastres": int(rows.get(AccountKind.EARNINGS, 0) or 0),
        "pending_payout_piastres": int(rows.get(AccountKind.PENDING_PAYOUT, 0) or 0),
    }


def transactions_list(*, user, cursor: str | None, limit: int) -> Page:
    """The user's ledger lines (coins, earnings, pending payouts), newest first, by cursor.
    Lines of voided transfers are left out; pending ones show with their status."""
    entries = (
        Entry.objects.filter(account__owner=user, account__kind__in=USER_ACCOUNT_KINDS)
        .exclude(transfer__status="voided")
        .select_related("account", "transfer")
    )
    return paginate_by_id(entries, cursor=cursor, limit=limit)


def earnings_by_day(*, user, days: int = 30) -> list[dict]:
    """Gross earnings credited per day (Africa/Cairo dates), last `days` days, oldest first,
    with zero days included: [{"date", "piastres", "gifts"}]."""
    days = max(1, min(int(days), 366))
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(start, time.min))
    rows = (
        Entry.objects.filter(account__owner=user, account__kind=AccountKind.EARNINGS, amount__gt=0,
                             created_at__gte=since, transfer__kind__in=("gift", "tip", "subscription"))
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day").annotate(total=Sum("amount")).values_list("day", "total")
    )
    by_day: dict[date, int] = {day: int(total) for day, total in rows}
    gifts = dict(
        Gift.objects.filter(creator=user, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day").annotate(n=Count("id")).values_list("day", "n")
    )
    return [
        {"date": (start + timedelta(days=i)).isoformat(), "piastres": by_day.get(start + timedelta(days=i), 0),
         "gifts": gifts.get(start + timedelta(days=i), 0)}
        for i in range(days)
    ]


def payment_get(*, user, payment_id) -> Payment:
    try:
        return Payment.objects.get(pk=int(payment_id), user=user)
    except (Payment.DoesNotExist, TypeError, ValueError):
        raise NotFound("Payment not found.") from None


def payouts_list(*, user, cursor: str | None, limit: int) -> Page:
    return paginate_by_id(Payout.objects.filter(user=user), cursor=cursor, limit=limit)


def payout_get(*, user, payout_id) -> Payout:
    try:
        return Payout.objects.get(pk=int(payout_id), user=user)
    except (Payout.DoesNotExist, TypeError, ValueError):
        raise NotFound("Payout not found.") from None


def tiers_list(*, creator_id) -> QuerySet[SubscriptionTier]:
    return SubscriptionTier.objects.filter(creator_id=creator_id, is_active=True).order_by("level")


def subscriptions_list(*, user) -> QuerySet[Subscription]:
    return Subscription.objects.filter(subscriber=user).select_related("tier").order_by("-id")


# --- Subscriber audience and badges (registered with social.policy in apps.py) ---------------
def _live(min_level: int) -> QuerySet[Subscription]:
    return Subscription.objects.filter(status__in=LIVE_SUBSCRIPTION_STATUSES, tier_level__gte=min_level)


def is_subscriber(*, subscriber_id: int | None, creator_id: int, min_level: int = 1) -> bool:
    """Does `subscriber_id` hold a live (active or in-grace) subscription of at least `min_level`?"""
    if subscriber_id is None:
        return False
    return _live(min_level).filter(subscriber_id=subscriber_id, creator_id=creator_id).exists()


def subscribers_q(viewer_id: int, author_field: str, min_level: int = 1) -> Q:
    """The policy's SQL form of `is_subscriber`, over rows whose author is at `author_field`
    ("" when filtering User rows)."""
    ref = f"{author_field}_id" if author_field else "pk"
    return Q(Exists(_live(min_level).filter(subscriber_id=viewer_id, creator_id=OuterRef(ref))))


def subscriber_badge(*, subscriber_id: int | None, creator_id: int) -> dict | None:
    """{"tier_level", "tier_name", "since"} when `subscriber_id` subscribes to `creator_id`, else None."""
    if subscriber_id is None:
        return None
    sub = (
        Subscription.objects.filter(subscriber_id=subscriber_id, creator_id=creator_id, status__in=LIVE_SUBSCRIPTION_STATUSES)
        .select_related("tier").first()
    )
    if sub is None:
        return None
    return {"tier_level": sub.tier_level, "tier_name": sub.tier.name if sub.tier else "",
            "since": sub.created_at.isoformat()}


def subscriber_badges(*, creator_id: int, user_ids) -> dict[int, int]:
    """{user_id: tier_level} for those of `user_ids` who subscribe to `creator_id` (comment lists, chats)."""
    return dict(
        _live(1).filter(creator_id=creator_id, subscriber_id__in=list(user_ids)).values_list("subscriber_id", "tier_level")
    )
