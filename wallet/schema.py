"""Wallet GraphQL: the same services and selectors as the REST API.

Money fields are BigInt (piastres can exceed GraphQL's 32-bit Int); ids are IDs.
Money-moving mutations take `idempotencyKey` (the REST Idempotency-Key header).
"""

from __future__ import annotations

import graphene

from daira.lib.graphql import DairaMutation, require_user
from daira.lib.pagination import parse_limit
from wallet import selectors, services


class WalletBalances(graphene.ObjectType):
    coins = graphene.BigInt(required=True)
    earnings_piastres = graphene.BigInt(required=True)
    pending_payout_piastres = graphene.BigInt(required=True)


class CoinPackage(graphene.ObjectType):
    code = graphene.String(required=True)
    coins = graphene.BigInt(required=True)
    price_piastres = graphene.BigInt(required=True)


class WalletPayment(graphene.ObjectType):
    id = graphene.ID(required=True)
    status = graphene.String(required=True)
    provider = graphene.String(required=True)
    method = graphene.String(required=True)
    purpose = graphene.String(required=True)
    package = graphene.String(required=True)
    coins = graphene.BigInt(required=True)
    amount_piastres = graphene.BigInt(required=True)
    checkout = graphene.JSONString(required=True)

    @staticmethod
    def resolve_package(payment, info):
        return payment.package_code


class WalletGift(graphene.ObjectType):
    id = graphene.ID(required=True)
    kind = graphene.String(required=True)
    context = graphene.String(required=True)
    gift = graphene.String(required=True)
    creator_id = graphene.ID()
    post_id = graphene.ID()
    coins = graphene.BigInt(required=True)
    creator_piastres = graphene.BigInt(required=True)
    platform_piastres = graphene.BigInt(required=True)
    created_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_gift(gift, info):
        return gift.gift_code


class WalletEntry(graphene.ObjectType):
    id = graphene.ID(required=True)
    account = graphene.String(required=True)
    currency = graphene.String(required=True)
    amount = graphene.BigInt(required=True)
    kind = graphene.String(required=True)
    status = graphene.String(required=True)
    created_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_account(entry, info):
        return entry.account.kind

    @staticmethod
    def resolve_currency(entry, info):
        return entry.account.currency

    @staticmethod
    def resolve_kind(entry, info):
        return entry.transfer.kind

    @staticmethod
    def resolve_status(entry, info):
        return entry.transfer.status


class WalletEntryPage(graphene.ObjectType):
    results = graphene.List(graphene.NonNull(WalletEntry), required=True)
    next_cursor = graphene.String()


class EarningsDay(graphene.ObjectType):
    date = graphene.Date(required=True)
    piastres = graphene.BigInt(required=True)
    gifts = graphene.Int(required=True)


class SubscriptionTierType(graphene.ObjectType):
    class Meta:
        name = "SubscriptionTier"

    id = graphene.ID(required=True)
    level = graphene.Int(required=True)
    name = graphene.String(required=True)
    price_piastres = graphene.BigInt(required=True)
    price_coins = graphene.BigInt(required=True)
    benefits = graphene.String(required=True)

    @staticmethod
    def resolve_price_coins(tier, info):
        return services.coins_for_price(tier.price_piastres)


class CreatorSubscription(graphene.ObjectType):
    id = graphene.ID(required=True)
    creator_id = graphene.ID()
    tier_level = graphene.Int(required=True)
    price_piastres = graphene.BigInt(required=True)
    pay_with = graphene.String(required=True)
    status = graphene.String(required=True)
    current_period_end = graphene.DateTime()
    cancel_at_period_end = graphene.Boolean(required=True)


class WalletPayout(graphene.ObjectType):
    id = graphene.ID(required=True)
    amount_piastres = graphene.BigInt(required=True)
    status = graphene.String(required=True)
    destination_type = graphene.String(required=True)
    failure_reason = graphene.String(required=True)
    created_at = graphene.DateTime(required=True)


class WalletPayoutPage(graphene.ObjectType):
    results = graphene.List(graphene.NonNull(WalletPayout), required=True)
    next_cursor = graphene.String()


class Query(graphene.ObjectType):
    wallet_balances = graphene.Field(WalletBalances, required=True)
    coin_packages = graphene.List(graphene.NonNull(CoinPackage), required=True)
    wallet_transactions = graphene.Field(WalletEntryPage, required=True, cursor=graphene.String(), limit=graphene.Int())
    earnings_by_day = graphene.List(graphene.NonNull(EarningsDay), required=True, days=graphene.Int())
    subscription_tiers = graphene.List(graphene.NonNull(SubscriptionTierType), required=True, creator_id=graphene.ID(required=True))
    my_subscriptions = graphene.List(graphene.NonNull(CreatorSubscription), required=True)
    payouts = graphene.Field(WalletPayoutPage, required=True, cursor=graphene.String(), limit=graphene.Int())
    payout = graphene.Field(WalletPayout, id=graphene.ID(required=True))
    payment = graphene.Field(WalletPayment, id=graphene.ID(required=True))

    @staticmethod
    def resolve_wallet_balances(root, info):
        return selectors.balances_get(user=require_user(info))

    @staticmethod
    def resolve_coin_packages(root, info):
        return services.coin_packages()

    @staticmethod
    def resolve_wallet_transactions(root, info, cursor=None, limit=None):
        page = selectors.transactions_list(user=require_user(info), cursor=cursor, limit=parse_limit(limit))
        return WalletEntryPage(results=page.items, next_cursor=page.next_cursor)

    @staticmethod
    def resolve_earnings_by_day(root, info, days=30):
        return selectors.earnings_by_day(user=require_user(info), days=max(1, min(int(days), 366)))

    @staticmethod
    def resolve_subscription_tiers(root, info, creator_id):
        return selectors.tiers_list(creator_id=int(creator_id)) if str(creator_id).isdigit() else []

    @staticmethod
    def resolve_my_subscriptions(root, info):
        return selectors.subscriptions_list(user=require_user(info))

    @staticmethod
    def resolve_payouts(root, info, cursor=None, limit=None):
        page = selectors.payouts_list(user=require_user(info), cursor=cursor, limit=parse_limit(limit))
        return WalletPayoutPage(results=page.items, next_cursor=page.next_cursor)

    @staticmethod
    def resolve_payout(root, info, id):
        return selectors.payout_get(user=require_user(info), payout_id=id)

    @staticmethod
    def resolve_payment(root, info, id):
        return selectors.payment_get(user=require_user(info), payment_id=id)


def _int_id(value, field: str) -> int:
    from daira.lib.errors import Invalid

    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Invalid("Not a valid id.", field=field) from None
    if not 0 < number < 1 << 63:
        raise Invalid("Not a valid id.", field=field)
    return number


class CoinPurchase(DairaMutation):
    class Arguments:
        package = graphene.String(required=True)
        method = graphene.String(required=True)
        idempotency_key = graphene.String(required=True)
        phone = graphene.String()

    payment = graphene.Field(WalletPayment)

    @classmethod
    def perform(cls, root, info, *, package, method, idempotency_key, phone=""):
        return cls(payment=services.coin_purchase_start(user=info.context.user, package_code=package, method=method,
                                                        idempotency_key=idempotency_key, phone=phone or ""))


class GiftSend(DairaMutation):
    class Arguments:
        gift = graphene.String(required=True)
        idempotency_key = graphene.String(required=True)
        post_id = graphene.ID()
        creator_id = graphene.ID()
        message = graphene.String()

    gift = graphene.Field(WalletGift)

    @classmethod
    def perform(cls, root, info, *, gift, idempotency_key, post_id=None, creator_id=None, message=""):
        sent = services.gift_send(
            sender=info.context.user, gift_code=gift, idempotency_key=idempotency_key, message=message or "",
            post_id=_int_id(post_id, "post_id") if post_id is not None else None,
            creator_id=_int_id(creator_id, "creator_id") if creator_id is not None else None,
        )
        return cls(gift=sent)


class TipSend(DairaMutation):
    class Arguments:
        creator_id = graphene.ID(required=True)
        coins = graphene.Int(required=True)
        idempotency_key = graphene.String(required=True)
        context = graphene.String()
        message = graphene.String()

    tip = graphene.Field(WalletGift)

    @classmethod
    def perform(cls, root, info, *, creator_id, coins, idempotency_key, context="profile", message=""):
        return cls(tip=services.tip_send(sender=info.context.user, creator_id=_int_id(creator_id, "creator_id"), coins=coins,
                                         idempotency_key=idempotency_key, context=context or "profile", message=message or ""))


class SubscriptionStart(DairaMutation):
    class Arguments:
        tier_id = graphene.ID(required=True)
        pay_with = graphene.String(required=True)
        idempotency_key = graphene.String(required=True)
        method = graphene.String()

    subscription = graphene.Field(CreatorSubscription)

    @classmethod
    def perform(cls, root, info, *, tier_id, pay_with, idempotency_key, method="wallet"):
        return cls(subscription=services.subscription_start(
            subscriber=info.context.user, tier_id=_int_id(tier_id, "tier_id"), pay_with=pay_with,
            idempotency_key=idempotency_key, method=method or "wallet"))


class SubscriptionCancel(DairaMutation):
    class Arguments:
        subscription_id = graphene.ID(required=True)

    subscription = graphene.Field(CreatorSubscription)

    @classmethod
    def perform(cls, root, info, *, subscription_id):
        return cls(subscription=services.subscription_cancel(
            subscriber=info.context.user, subscription_id=_int_id(subscription_id, "subscription_id")))


class PayoutRequest(DairaMutation):
    class Arguments:
        amount_piastres = graphene.BigInt(required=True)
        idempotency_key = graphene.String(required=True)

    payout = graphene.Field(WalletPayout)

    @classmethod
    def perform(cls, root, info, *, amount_piastres, idempotency_key):
        return cls(payout=services.payout_request(user=info.context.user, amount_piastres=int(amount_piastres),
                                                  idempotency_key=idempotency_key))


class TierUpsert(DairaMutation):
    class Arguments:
        level = graphene.Int(required=True)
        name = graphene.String(required=True)
        price_piastres = graphene.BigInt(required=True)
        benefits = graphene.String()

    tier = graphene.Field(SubscriptionTierType)

    @classmethod
    def perform(cls, root, info, *, level, name, price_piastres, benefits=""):
        return cls(tier=services.tier_upsert(creator=info.context.user, level=level, name=name,
                                             price_piastres=int(price_piastres), benefits=benefits or ""))


class PayoutProfileSet(DairaMutation):
    class Arguments:
        full_name = graphene.String(required=True)
        national_id = graphene.String(required=True)
        destination_type = graphene.String(required=True)
        destination = graphene.String(required=True)

    ok = graphene.Boolean()

    @classmethod
    def perform(cls, root, info, **kwargs):
        services.payout_profile_set(user=info.context.user, **kwargs)
        return cls(ok=True)


class Mutation(graphene.ObjectType):
    tier_upsert = TierUpsert.Field()
    payout_profile_set = PayoutProfileSet.Field()
    coin_purchase = CoinPurchase.Field()
    gift_send = GiftSend.Field()
    tip_send = TipSend.Field()
    subscription_start = SubscriptionStart.Field()
    subscription_cancel = SubscriptionCancel.Field()
    payout_request = PayoutRequest.Field()
