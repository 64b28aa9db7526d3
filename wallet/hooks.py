"""Callables wallet registers with lower apps (see WalletConfig.ready)."""

from __future__ import annotations

from functools import lru_cache

from wallet import selectors, services
from wallet.models import Gift, Payout, Subscription

SUBSCRIBER_AUDIENCES = {"subscribers": 1, "subscribers_t2": 2, "subscribers_t3": 3}


@lru_cache(maxsize=None)  # one callable per level: registering twice is then a no-op
def audience_predicate(level: int):
    def predicate(viewer, author) -> bool:
        return selectors.is_subscriber(subscriber_id=getattr(viewer, "pk", None), creator_id=author.pk, min_level=level)

    return predicate


@lru_cache(maxsize=None)
def audience_q(level: int):
    def q_builder(viewer_id: int, author_field: str):
        return selectors.subscribers_q(viewer_id, author_field, min_level=level)

    return q_builder


def profile_extra(viewer, user) -> dict:
    """The subscriber badge both ways: is the viewer subscribed to this profile, and does
    this profile subscribe to the viewer (a creator looking at a fan)."""
    viewer_id = getattr(viewer, "pk", None) if getattr(viewer, "is_authenticated", False) else None
    if viewer_id is None or viewer_id == user.pk:
        return {"subscription": None, "subscriber_badge": None}
    return {
        "subscription": selectors.subscriber_badge(subscriber_id=viewer_id, creator_id=user.pk),
        "subscriber_badge": selectors.subscriber_badge(subscriber_id=user.pk, creator_id=viewer_id),
    }


def export_section(user) -> dict:
    balances = selectors.balances_get(user=user)
    lines = [
        {"id": str(e.id), "account": e.account.kind, "currency": e.account.currency, "amount": e.amount,
         "kind": e.transfer.kind, "status": e.transfer.status, "at": e.created_at.isoformat()}
        for e in selectors.transactions_list(user=user, cursor=None, limit=100_000).items
    ]
    return {
        "balances": balances,
        "transactions": lines,
        "gifts_sent": list(Gift.objects.filter(sender=user).values("id", "kind", "creator_id", "coins", "created_at")),
        "gifts_received": list(Gift.objects.filter(creator=user).values("id", "kind", "sender_id", "coins", "creator_piastres", "created_at")),
        "subscriptions": list(Subscription.objects.filter(subscriber=user).values("id", "creator_id", "tier_level", "status", "current_period_end")),
        "payouts": list(Payout.objects.filter(user=user).values("id", "amount_piastres", "status", "destination_type", "created_at")),
    }


def deletion_hook(user) -> None:
    services.user_money_records_anonymise(user)
