"""Wallet services: every write of money goes through here (and through wallet.ledger).

Conventions: keyword-only, actor explicit, `@transaction.atomic` where one transaction is
the unit (provider HTTP calls are made outside transactions), idempotency by a client key
turned into a UNIQUE ledger/payment key, side effects after commit (events, live events).

Money flows (EGP in piastres; C = coins; V = C × WALLET_COIN_VALUE_PIASTRES, split into
the creator's part ⌊V × (100 − share) / 100⌋ and the platform's remainder):

    coin purchase paid   EGP: provider_clearing[p] −price, coin_float +price
                         COIN: coin_issuance −C, buyer coin_balance +C
    gift / tip           COIN: sender coin_balance −C, coin_issuance +C
                         EGP: coin_float −V, creator earnings[shard] +creator, platform_revenue +platform
    subscription (coins) as a tip of ⌈price / coin value⌉ coins
    subscription (paid)  EGP: provider_clearing[p] −price, earnings +creator, revenue +platform
    payout requested     EGP: earnings (across shards) −amount, pending_payout +amount
    payout exported      pending two-phase transfer: pending_payout −amount, payout_clearing +amount
    payout paid / failed post it / void it and reverse the request (funds back to earnings)
    refund/chargeback    EGP: provider_clearing[p] +price, coin_float −recovered share,
                         refunds −(the rest: coins already spent are the platform's loss)
                         COIN: buyer −(coins still held, at most C), coin_issuance +same
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Mapping
from contextlib import nullcontext
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from daira.lib import events, realtime
from daira.lib.errors import ApplicationError, Conflict, Invalid, NotFound, PermissionDenied
from social import policy
from wallet import gateways, ledger, validators
from wallet.ledger import DuplicateTransfer, InsufficientFunds, Line
from wallet.models import (
    LIVE_SUBSCRIPTION_STATUSES,
    Account,
    AccountKind,
    AuditLog,
    Gift,
    Payment,
    PaymentEvent,
    Payout,
    PayoutApproval,
    PayoutBatch,
    PayoutProfile,
    ReconciliationMismatch,
    ReconciliationRun,
    Subscription,
    SubscriptionTier,
    Transfer,
)

logger = logging.getLogger(__name__)

PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    Payment.Status.CREATED: {"pending", "paid", "failed", "expired"},
    Payment.Status.PENDING: {"paid", "failed", "expired"},
    Payment.Status.PAID: {"refunded"},
    Payment.Status.FAILED: set(),
    Payment.Status.EXPIRED: set(),
    Payment.Status.REFUNDED: set(),
}
MAX_KEY_LENGTH = 100


# --- helpers ---------------------------------------------------------------------------------
def split_value(value_piastres: int) -> tuple[int, int]:
    """(creator's part, platform's part) of `value_piastres`; the platform gets the rounding."""
    creator = value_piastres * (100 - settings.WALLET_PLATFORM_SHARE_PERCENT) // 100
    return creator, value_piastres - creator


def _client_key(idempotency_key: str | None) -> str:
    key = (idempotency_key or "").strip()
    if not key:
        raise Invalid("An Idempotency-Key is required for this request.", field="idempotency_key")
    if len(key) > MAX_KEY_LENGTH:
        raise Invalid(f"The Idempotency-Key is limited to {MAX_KEY_LENGTH} characters.", field="idempotency_key")
    return key


def _audit(*, actor: User | None, action: str, obj, **data) -> None:
    AuditLog.objects.create(
        actor=actor, action=action, object_type=obj._meta.model_name, object_id=obj.pk,
        data={k: (str(v) if not isinstance(v, (int, bool, type(None))) else v) for k, v in data.items()},
    )


def _active_creator(user_id, *, sender_id: int) -> tuple[User, bool]:
    """The active user `user_id` and whether they and the sender block each other (one
    query); NotFound for anything else (unknown, inactive, not an id)."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        raise NotFound("User not found.") from None
    user, blocked = policy.user_with_block_state(sender_id, user_id) if 0 < user_id < 1 << 63 else (None, False)
    if user is None or not user.is_active:
        raise NotFound("User not found.")
    return user, blocked


def _coin(user_id: int) -> Account:
    return ledger.user_account(user_id, AccountKind.COIN_BALANCE)


def _spend_lines(*, payer_id: int, creator_id: int, coins: int) -> tuple[list[Line], int, int]:
    value = coins * settings.WALLET_COIN_VALUE_PIASTRES
    creator_part, platform_part = split_value(value)
    # The payer's coins and one shard of the creator's earnings (picked by payer id, so one
    # fan's gifts stay on one shard and different fans spread), in one query.
    coin_account, earnings = ledger.user_accounts([
        (payer_id, AccountKind.COIN_BALANCE, 0),
        (creator_id, AccountKind.EARNINGS, ledger.earnings_shard(spread_by=payer_id)),
    ])
    lines = [
        Line(coin_account, -coins),
        Line(ledger.platform_account(AccountKind.COIN_ISSUANCE), coins),
        Line(ledger.platform_account(AccountKind.COIN_FLOAT), -value),
    ]
    if creator_part:
        lines.append(Line(earnings, creator_part))
    if platform_part:
        lines.append(Line(ledger.platform_account(AccountKind.PLATFORM_REVENUE), platform_part))
    return lines, creator_part, platform_part


# --- Coin purchases and payments ------------------------------------------------------------
def coin_packages() -> list[dict]:
    return [{"code": code, **spec} for code, spec in settings.WALLET_COIN_PACKAGES.items()]


def _payment_checkout(*, payment: Payment, phone: str) -> Payment:
    """Ask the provider for a checkout (outside any transaction), then mark the payment pending."""
    gateway = gateways.get_gateway(payment.provider)
    try:
        checkout = gateway.create_payment(payment, phone=phone)
    except ApplicationError:
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.CREATED).update(status=Payment.Status.FAILED)
        raise
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        locked.provider_reference = checkout.provider_reference
        locked.checkout = checkout.data
        if locked.status == Payment.Status.CREATED:
            locked.status = Payment.Status.PENDING
        locked.save(update_fields=["provider_reference", "checkout", "status", "updated_at"])
    return locked


def coin_purchase_start(*, user: User, package_code: str, method: str, idempotency_key: str, phone: str = "") -> Payment:
    """Start buying coin package `package_code` with `method` (fawry | wallet | card | instapay).

    Coins are credited only when the provider confirms (payment_update_apply). The same
    idempotency key returns the same payment (Conflict if it was for another package).
    Raises Invalid for unknown packages/methods, ProviderError when the provider fails."""
    spec = settings.WALLET_COIN_PACKAGES.get(package_code)
    if spec is None:
        raise Invalid("Unknown coin package.", field="package")
    if method not in gateways.METHOD_PROVIDERS:
        raise Invalid("Choose fawry, wallet, card or instapay.", field="method")
    key = f"purchase:{user.pk}:{_client_key(idempotency_key)}"
    existing = Payment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.package_code != package_code:
            raise Conflict("This Idempotency-Key was used for another purchase.", code="idempotency_conflict")
        return existing
    provider = gateways.provider_for(method)
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                user=user, provider=provider, method=Payment.Method.SANDBOX if provider == "sandbox" else method,
                purpose=Payment.Purpose.COINS, package_code=package_code, coins=spec["coins"],
                amount_piastres=spec["price_piastres"], idempotency_key=key,
            )
    except IntegrityError:  # the same key, concurrently
        return Payment.objects.get(idempotency_key=key)
    return _payment_checkout(payment=payment, phone=phone or (user.phone or ""))


def _payment_paid(payment: Payment) -> None:
    clearing = ledger.platform_account(AccountKind.PROVIDER_CLEARING, provider=payment.provider, shard=0)
    if payment.purpose == Payment.Purpose.COINS:
        ledger.transfer_post(
            key=f"payment:{payment.pk}:paid", kind=Transfer.Kind.COIN_PURCHASE, memo=f"{payment.package_code}",
            lines=[
                Line(clearing, -payment.amount_piastres),
                Line(ledger.platform_account(AccountKind.COIN_FLOAT), payment.amount_piastres),
                Line(ledger.platform_account(AccountKind.COIN_ISSUANCE), -payment.coins),
                Line(_coin(payment.user_id), payment.coins),
            ],
        )
        realtime.broadcast_on_commit(realtime.user_group(payment.user_id), "wallet.coins_credited",
                                     {"payment_id": str(payment.pk), "coins": payment.coins})
    else:
        subscription = Subscription.objects.select_for_update().get(pk=payment.subscription_id)
        _subscription_paid_by_provider(subscription=subscription, payment=payment, clearing=clearing)


def _payment_refunded(payment: Payment) -> None:
    clearing = ledger.platform_account(AccountKind.PROVIDER_CLEARING, provider=payment.provider, shard=0)
    price = payment.amount_piastres
    lines = [Line(clearing, price)]
    recovered = 0
    if payment.purpose == Payment.Purpose.COINS and payment.user_id is not None:
        coin_account = Account.objects.select_for_update().get(pk=_coin(payment.user_id).pk)
        recovered = min(payment.coins, coin_account.balance)
        if recovered:
            lines += [Line(coin_account, -recovered), Line(ledger.platform_account(AccountKind.COIN_ISSUANCE), recovered)]
    recovered_value = price * recovered // payment.coins if payment.coins else 0
    if recovered_value:
        lines.append(Line(ledger.platform_account(AccountKind.COIN_FLOAT), -recovered_value))
    if price - recovered_value:
        # Coins already spent (or a subscription already earned by the creator): the
        # platform absorbs the loss; a user's balance never goes negative.
        lines.append(Line(ledger.platform_account(AccountKind.REFUNDS, shard=0), -(price - recovered_value)))
    ledger.transfer_post(key=f"payment:{payment.pk}:refund", kind=Transfer.Kind.REFUND, lines=lines,
                         memo=f"refund of payment {payment.pk}")
    payment.refunded_coins_recovered = recovered
    payment.save(update_fields=["refunded_coins_recovered", "updated_at"])


@transaction.atomic
def payment_update_apply(
    *, payment_id: int, status: str, provider_reference: str = "", amount_piastres: int | None = None
) -> str:
    """Move a payment to `status` if the state machine allows it, and post its ledger effect.

    Returns the outcome: "applied", "duplicate" (already in that status), "ignored" (a
    late or out-of-order status, e.g. pending after paid) or "amount_mismatch" (refused:
    the provider reports another amount; reconciliation lists it). Safe to call twice."""
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if status == payment.status:
        return "duplicate"
    if status not in PAYMENT_TRANSITIONS.get(payment.status, set()):
        return "ignored"
    if status == Payment.Status.PAID and amount_piastres is not None and amount_piastres != payment.amount_piastres:
        logger.error("wallet.payment_amount_mismatch", extra={"payment_id": payment.pk, "reported": amount_piastres})
        return "amount_mismatch"
    payment.status = status
    if provider_reference and not payment.provider_reference:
        payment.provider_reference = provider_reference
    if status == Payment.Status.PAID:
        payment.paid_at = timezone.now()
        _payment_paid(payment)
    elif status == Payment.Status.REFUNDED:
        _payment_refunded(payment)
    elif payment.purpose == Payment.Purpose.SUBSCRIPTION and status in ("failed", "expired"):
        _subscription_payment_failed(payment)
    payment.save(update_fields=["status", "provider_reference", "paid_at", "updated_at"])
    return "applied"


def payment_webhook_handle(*, provider: str, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> PaymentEvent:
    """Verify and apply a provider callback. Every callback is logged (PaymentEvent).

    Raises Invalid (code bad_signature → HTTP 400) when the signature does not verify;
    nothing changes then. Replays and out-of-order callbacks are logged as duplicate /
    ignored and change nothing. NotFound for an unknown provider."""
    gateway = gateways.get_gateway(provider)
    text = body.decode("utf-8", errors="replace")[:20_000]
    try:
        update = gateway.parse_webhook(body=body, headers=headers, query=query)
    except gateways.SignatureInvalid as exc:
        PaymentEvent.objects.create(provider=provider, signature_valid=False, outcome="rejected", body=text)
        logger.warning("wallet.webhook_bad_signature", extra={"provider": provider, "reason": str(exc)})
        raise Invalid("The callback signature is not valid.", code="bad_signature") from None
    payment = None
    if update.merchant_reference.isdigit():
        payment = Payment.objects.filter(pk=int(update.merchant_reference), provider=provider).first()
    if payment is None:
        return PaymentEvent.objects.create(provider=provider, signature_valid=True, reported_status=update.status,
                                           outcome="unknown_payment", body=text)
    outcome = payment_update_apply(payment_id=payment.pk, status=update.status,
                                   provider_reference=update.provider_reference, amount_piastres=update.amount_piastres)
    return PaymentEvent.objects.create(provider=provider, payment=payment, signature_valid=True,
                                       reported_status=update.status, outcome=outcome, body=text)


def sandbox_settle(*, payment: Payment, outcome: str) -> PaymentEvent:
    """Play the sandbox provider: deliver its signed callback for `payment` reaching
    `outcome` (paid | failed | expired | refunded) through the real webhook path."""
    if payment.provider != "sandbox":
        raise Invalid("Only sandbox payments can be settled by hand.")
    if outcome not in ("paid", "failed", "expired", "refunded", "pending"):
        raise Invalid("Unknown outcome.", field="outcome")
    gateway = gateways.get_gateway("sandbox")
    body, headers = gateway.callback(payment=payment, status=outcome)
    return payment_webhook_handle(provider="sandbox", body=body, headers=headers, query={})


def payments_reconcile_stale(*, now: datetime | None = None) -> dict[str, int]:
    """Ask providers about payments stuck in pending longer than WALLET_PAYMENT_STALE_MINUTES
    and apply the answer; expire those older than WALLET_PAYMENT_EXPIRY_MINUTES. Idempotent."""
    now = now or timezone.now()
    stale_before = now - timedelta(minutes=settings.WALLET_PAYMENT_STALE_MINUTES)
    expire_before = now - timedelta(minutes=settings.WALLET_PAYMENT_EXPIRY_MINUTES)
    counts = {"asked": 0, "applied": 0, "expired": 0}
    stuck = Payment.objects.filter(status__in=("created", "pending"), created_at__lt=stale_before).order_by("id")[:500]
    for payment in stuck:
        try:
            update = gateways.get_gateway(payment.provider).fetch_status(payment)
        except ApplicationError:
            logger.warning("wallet.reconcile_status_failed", extra={"payment_id": payment.pk})
            update = None
        counts["asked"] += 1
        if update is not None and update.status != "pending":
            outcome = payment_update_apply(payment_id=payment.pk, status=update.status,
                                           provider_reference=update.provider_reference,
                                           amount_piastres=update.amount_piastres)
            PaymentEvent.objects.create(provider=payment.provider, payment=payment, source="poll",
                                        signature_valid=True, reported_status=update.status, outcome=outcome)
            counts["applied"] += outcome == "applied"
        elif payment.created_at < expire_before:
            if payment_update_apply(payment_id=payment.pk, status="expired") == "applied":
                counts["expired"] += 1
    return counts


@transaction.atomic
def payment_refund(*, payment_id: int, actor: User) -> Payment:
    """Staff refund of a paid payment: ask the provider, then record it (as a callback would)."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != Payment.Status.PAID:
        raise Conflict("Only paid payments can be refunded.")
    gateways.get_gateway(payment.provider).refund(payment)
    payment_update_apply(payment_id=payment.pk, status="refunded")
    _audit(actor=actor, action="payment.refunded", obj=payment, amount=payment.amount_piastres)
    return Payment.objects.get(pk=payment_id)


# --- Gifts and tips -----------------------------------------------------------------------
def _coins_send(
    *, sender: User, creator: User, blocked: bool, coins: int, kind: str, context: str, idempotency_key: str,
    gift_code: str = "", post_id: int | None = None, message: str = "",
) -> Gift:
    key = f"{kind}:{sender.pk}:{_client_key(idempotency_key)}"
    if creator.pk == sender.pk:
        raise Invalid("You cannot send coins to yourself.")
    if blocked:
        raise PermissionDenied("You cannot send coins to this account.", code="blocked")
    lines, creator_part, platform_part = _spend_lines(payer_id=sender.pk, creator_id=creator.pk, coins=coins)
    gift = Gift(
        kind=kind, context=context, sender=sender, creator=creator, gift_code=gift_code, post_id=post_id,
        coins=coins, creator_piastres=creator_part, platform_piastres=platform_part, message=message[:200],
    )
    try:
        # No pre-check for the key: the ledger's unique idempotency key decides (one round
        # trip less on the hot path); a retry finds the first gift below. The gift row is
        # written by the transfer's own statement. Inside a caller's transaction, a savepoint
        # keeps that transaction usable after a refusal (InsufficientFunds), as before.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            ledger.transfer_post(key=key, kind=kind, lines=lines, memo=gift_code or context, record=gift)
    except DuplicateTransfer as duplicate:
        existing = Gift.objects.get(transfer=duplicate.existing)
        if (existing.creator_id, existing.coins, existing.post_id) != (creator.pk, coins, post_id):
            raise Conflict("This Idempotency-Key was used for another request.", code="idempotency_conflict") from None
        return existing
    payload = {"gift_id": gift.pk, "sender_id": sender.pk, "creator_id": creator.pk, "post_id": post_id}
    if kind == Gift.Kind.GIFT:
        events.emit_on_commit("gift.received", **payload)
    else:
        events.emit_on_commit("tip.received", tip_id=gift.pk, sender_id=sender.pk, creator_id=creator.pk,
                              context=context)
    realtime.broadcast_on_commit(
        realtime.user_group(creator.pk), f"{kind}.received",
        {"id": str(gift.pk), "sender_id": str(sender.pk), "coins": coins, "gift": gift_code,
         "post_id": str(post_id) if post_id else None, "message": gift.message},
    )
    return gift


def gift_send(*, sender: User, gift_code: str, idempotency_key: str, post_id=None, creator_id=None, message: str = "") -> Gift:
    """Send catalogue gift `gift_code` on a post the sender can see (or to a creator's
    profile/stream when `creator_id` is given without a post).

    Idempotent by `idempotency_key` (the same key returns the first gift; Conflict if it
    was for another gift). Raises NotFound for a post the sender cannot see,
    PermissionDenied(code=blocked) between blocked users, InsufficientFunds (409) without
    enough coins. After commit: event "gift.received" and a live "gift.received" to the creator.

    Not wrapped in a transaction of its own: the checks only read, and the money moves in
    one statement (ledger.transfer_post), which commits by itself when the caller has no
    transaction, holding the accounts' row locks only while it runs. A caller's
    transaction, when there is one, contains it as before."""
    if gift_code not in settings.WALLET_GIFTS:
        raise Invalid("Unknown gift.", field="gift")
    if post_id is not None:
        from content import selectors as content_selectors

        post = content_selectors.post_get_visible(viewer=sender, post_id=post_id)
        creator, context, post_id = post.author, Gift.Context.POST, post.pk
        blocked = policy.is_blocked_either_way(sender.pk, creator.pk)
    elif creator_id is not None:
        (creator, blocked), context = _active_creator(creator_id, sender_id=sender.pk), Gift.Context.PROFILE
    else:
        raise Invalid("Give a post_id (or a creator_id).", field="post_id")
    return _coins_send(sender=sender, creator=creator, blocked=blocked, coins=settings.WALLET_GIFTS[gift_code],
                       kind=Gift.Kind.GIFT, context=context, idempotency_key=idempotency_key, gift_code=gift_code,
                       post_id=post_id, message=message)


def tip_send(*, sender: User, creator_id, coins: int, idempotency_key: str, context: str = "profile", message: str = "") -> Gift:
    """Tip `coins` to a creator from their profile or a DM. Same guarantees as gift_send;
    emits "tip.received" {tip_id, sender_id, creator_id, context}."""
    if context not in (Gift.Context.PROFILE, Gift.Context.DM):
        raise Invalid("A tip is sent from a profile or a DM.", field="context")
    if not isinstance(coins, int) or coins < 1 or coins > settings.WALLET_TIP_MAX_COINS:
        raise Invalid(f"Tips are 1 to {settings.WALLET_TIP_MAX_COINS} coins.", field="coins")
    creator, blocked = _active_creator(creator_id, sender_id=sender.pk)
    return _coins_send(sender=sender, creator=creator, blocked=blocked, coins=coins, kind=Gift.Kind.TIP,
                       context=context, idempotency_key=idempotency_key, message=message)


# --- Creator subscriptions -------------------------------------------------------------------
@transaction.atomic
def tier_upsert(*, creator: User, level: int, name: str, price_piastres: int, benefits: str = "") -> SubscriptionTier:
    """Create or update the creator's tier `level` (1..3: at most three tiers).
    Existing subscribers keep their price until they resubscribe."""
    if level not in (1, 2, 3):
        raise Invalid(f"A creator has at most {settings.WALLET_SUBSCRIPTION_MAX_TIERS} tiers (level 1-3).", field="level")
    if not name.strip():
        raise Invalid("A tier needs a name.", field="name")
    if not isinstance(price_piastres, int) or price_piastres < 100:
        raise Invalid("A tier costs at least EGP 1.00 (100 piastres) a month.", field="price_piastres")
    tier, _ = SubscriptionTier.objects.update_or_create(
        creator=creator, level=level,
        defaults={"name": name.strip()[:40], "price_piastres": price_piastres, "benefits": benefits[:500], "is_active": True},
    )
    return tier


@transaction.atomic
def tier_deactivate(*, creator: User, level: int) -> SubscriptionTier:
    tier = SubscriptionTier.objects.filter(creator=creator, level=level).first()
    if tier is None:
        raise NotFound("Tier not found.")
    tier.is_active = False
    tier.save(update_fields=["is_active"])
    return tier


def coins_for_price(price_piastres: int) -> int:
    return math.ceil(price_piastres / settings.WALLET_COIN_VALUE_PIASTRES)


def _charge_coins_for_period(*, subscription: Subscription, period: int) -> None:
    coins = coins_for_price(subscription.price_piastres)
    lines, _, _ = _spend_lines(payer_id=subscription.subscriber_id, creator_id=subscription.creator_id, coins=coins)
    ledger.transfer_post(key=f"subscription:{subscription.pk}:period:{period}", kind=Transfer.Kind.SUBSCRIPTION,
                         lines=lines, memo=f"subscription period {period}")


def _period_advance(subscription: Subscription, *, start: datetime) -> None:
    subscription.periods_paid += 1
    subscription.current_period_start = start
    subscription.current_period_end = start + timedelta(days=settings.WALLET_SUBSCRIPTION_PERIOD_DAYS)
    subscription.status = Subscription.Status.ACTIVE
    subscription.renewal_attempts = 0
    subscription.next_attempt_at = None
    subscription.grace_until = None


def subscription_start(
    *, subscriber: User, tier_id, pay_with: str, idempotency_key: str, method: str = "wallet", phone: str = ""
) -> Subscription:
    """Subscribe to a creator's tier, paying from coins (active at once) or through a
    provider (incomplete until the payment is confirmed).

    Raises NotFound for unknown/inactive tiers, Invalid for subscribing to yourself,
    PermissionDenied(blocked), Conflict when already subscribed, InsufficientFunds.
    Emits "subscription.started" {subscription_id, subscriber_id, creator_id, tier_level}
    once it is active."""
    key = f"subscribe:{subscriber.pk}:{_client_key(idempotency_key)}"
    existing = Subscription.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if str(existing.tier_id) != str(tier_id):
            raise Conflict("This Idempotency-Key was used for another subscription.", code="idempotency_conflict")
        return existing
    try:
        tier = SubscriptionTier.objects.select_related("creator").get(pk=int(tier_id), is_active=True)
    except (SubscriptionTier.DoesNotExist, TypeError, ValueError):
        raise NotFound("Tier not found.") from None
    if tier.creator_id == subscriber.pk:
        raise Invalid("You cannot subscribe to yourself.")
    if not tier.creator.is_active or policy.is_blocked_either_way(subscriber.pk, tier.creator_id):
        raise NotFound("Tier not found.")
    if pay_with not in Subscription.PayWith.values:
        raise Invalid("Pay with coins or provider.", field="pay_with")
    if pay_with == Subscription.PayWith.PROVIDER and method not in gateways.METHOD_PROVIDERS:
        raise Invalid("Choose fawry, wallet, card or instapay.", field="method")
    provider = gateways.provider_for(method) if pay_with == Subscription.PayWith.PROVIDER else ""
    try:
        with transaction.atomic():
            subscription = Subscription.objects.create(
                subscriber=subscriber, creator=tier.creator, tier=tier, tier_level=tier.level,
                price_piastres=tier.price_piastres, pay_with=pay_with, provider=provider, idempotency_key=key,
                status=Subscription.Status.ACTIVE if pay_with == "coins" else Subscription.Status.INCOMPLETE,
            )
            if pay_with == Subscription.PayWith.COINS:
                _charge_coins_for_period(subscription=subscription, period=1)
                _period_advance(subscription, start=timezone.now())
                subscription.save()
                _subscription_started(subscription)
                return subscription
            payment = Payment.objects.create(
                user=subscriber, provider=provider, method=Payment.Method.SANDBOX if provider == "sandbox" else method,
                purpose=Payment.Purpose.SUBSCRIPTION, subscription=subscription,
                amount_piastres=tier.price_piastres, idempotency_key=key,
            )
    except IntegrityError:
        raise Conflict("You are already subscribed to this creator.", code="already_subscribed") from None
    try:
        _payment_checkout(payment=payment, phone=phone or (subscriber.phone or ""))
    except ApplicationError:
        # No checkout, no subscription: free the one-live-subscription slot for a retry.
        Subscription.objects.filter(pk=subscription.pk, status=Subscription.Status.INCOMPLETE).update(
            status=Subscription.Status.EXPIRED, ended_at=timezone.now())
        raise
    subscription.refresh_from_db()
    return subscription


def _subscription_started(subscription: Subscription) -> None:
    events.emit_on_commit("subscription.started", subscription_id=subscription.pk, subscriber_id=subscription.subscriber_id,
                          creator_id=subscription.creator_id, tier_level=subscription.tier_level)
    realtime.broadcast_on_commit(realtime.user_group(subscription.creator_id), "subscription.started",
                                 {"subscription_id": str(subscription.pk), "subscriber_id": str(subscription.subscriber_id),
                                  "tier_level": subscription.tier_level})


def _subscription_paid_by_provider(*, subscription: Subscription, payment: Payment, clearing: Account) -> None:
    creator_part, platform_part = split_value(payment.amount_piastres)
    period = subscription.periods_paid + 1
    lines = [Line(clearing, -payment.amount_piastres)]
    if creator_part:
        lines.append(Line(ledger.earnings_account(subscription.creator_id, spread_by=subscription.subscriber_id), creator_part))
    if platform_part:
        lines.append(Line(ledger.platform_account(AccountKind.PLATFORM_REVENUE), platform_part))
    ledger.transfer_post(key=f"subscription:{subscription.pk}:period:{period}", kind=Transfer.Kind.SUBSCRIPTION,
                         lines=lines, memo=f"payment {payment.pk}")
    first = subscription.periods_paid == 0
    if subscription.status in (Subscription.Status.CANCELED, Subscription.Status.EXPIRED):
        # Paid after it ended (a late confirmation): the money is recorded; a new period starts now.
        start = timezone.now()
    else:
        start = subscription.current_period_end or timezone.now()
    _period_advance(subscription, start=max(start, timezone.now()) if first else start)
    subscription.save()
    if first:
        _subscription_started(subscription)


def _subscription_payment_failed(payment: Payment) -> None:
    subscription = Subscription.objects.select_for_update().get(pk=payment.subscription_id)
    if subscription.status == Subscription.Status.INCOMPLETE:
        subscription.status = Subscription.Status.EXPIRED
        subscription.ended_at = timezone.now()
        subscription.save(update_fields=["status", "ended_at"])


@transaction.atomic
def subscription_cancel(*, subscriber: User, subscription_id) -> Subscription:
    """Cancel at the end of the paid period (access continues until then). An incomplete
    subscription (never paid) ends at once. NotFound unless it is the subscriber's own."""
    subscription = Subscription.objects.select_for_update().filter(pk=subscription_id, subscriber=subscriber).first()
    if subscription is None:
        raise NotFound("Subscription not found.")
    if subscription.status == Subscription.Status.INCOMPLETE:
        subscription.status = Subscription.Status.CANCELED
        subscription.ended_at = timezone.now()
    elif subscription.status in LIVE_SUBSCRIPTION_STATUSES:
        subscription.cancel_at_period_end = True
    else:
        raise Conflict("This subscription has already ended.")
    subscription.save()
    return subscription


def subscription_renew(*, subscription_id: int, now: datetime | None = None) -> str:
    """Renew one due subscription (the beat task calls this per subscription).

    Returns what happened: "canceled" (cancel_at_period_end), "renewed", "retry" (charge
    failed: past_due until the grace period ends, retried every WALLET_SUBSCRIPTION_RETRY_HOURS),
    "expired" (grace over), "awaiting_payment" (provider renewal started) or "skipped"."""
    now = now or timezone.now()
    with transaction.atomic():
        sub = Subscription.objects.select_for_update(skip_locked=True).filter(pk=subscription_id).first()
        if sub is None or sub.status not in LIVE_SUBSCRIPTION_STATUSES or sub.current_period_end is None:
            return "skipped"
        if sub.current_period_end > now or (sub.next_attempt_at and sub.next_attempt_at > now):
            return "skipped"
        if sub.cancel_at_period_end:
            sub.status, sub.ended_at = Subscription.Status.CANCELED, now
            sub.save()
            return "canceled"
        if sub.grace_until is None:
            sub.grace_until = sub.current_period_end + timedelta(days=settings.WALLET_SUBSCRIPTION_GRACE_DAYS)
        if sub.pay_with == Subscription.PayWith.COINS:
            try:
                with transaction.atomic():
                    _charge_coins_for_period(subscription=sub, period=sub.periods_paid + 1)
            except InsufficientFunds:
                pass
            else:
                _period_advance(sub, start=sub.current_period_end)
                sub.save()
                return "renewed"
        elif not sub.payments.filter(status__in=("created", "pending")).exists():
            payment = Payment.objects.create(
                user_id=sub.subscriber_id, provider=sub.provider,
                method=Payment.Method.SANDBOX if sub.provider == "sandbox" else Payment.Method.WALLET,
                purpose=Payment.Purpose.SUBSCRIPTION, subscription=sub, amount_piastres=sub.price_piastres,
                idempotency_key=f"renewal:{sub.pk}:period:{sub.periods_paid + 1}:{sub.renewal_attempts}",
            )
            transaction.on_commit(lambda: _renewal_checkout(payment.pk))
        if now >= sub.grace_until:
            sub.status, sub.ended_at = Subscription.Status.EXPIRED, now
            sub.save()
            return "expired"
        sub.status = Subscription.Status.PAST_DUE
        sub.renewal_attempts += 1
        sub.next_attempt_at = min(now + timedelta(hours=settings.WALLET_SUBSCRIPTION_RETRY_HOURS), sub.grace_until)
        sub.save()
        return "retry" if sub.pay_with == Subscription.PayWith.COINS else "awaiting_payment"


def _renewal_checkout(payment_id: int) -> None:
    payment = Payment.objects.select_related("user").get(pk=payment_id)
    try:
        _payment_checkout(payment=payment, phone=(payment.user.phone or "") if payment.user else "")
    except ApplicationError:
        logger.warning("wallet.renewal_checkout_failed", extra={"payment_id": payment_id})


def subscriptions_renew_due(*, now: datetime | None = None) -> dict[str, int]:
    """Renew every subscription whose period (or retry time) has come. Idempotent."""
    now = now or timezone.now()
    from django.db.models import Q

    due = Subscription.objects.filter(status__in=LIVE_SUBSCRIPTION_STATUSES).filter(
        Q(current_period_end__lte=now, next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ).values_list("id", flat=True)
    counts: dict[str, int] = {}
    for subscription_id in list(due[:5_000]):
        outcome = subscription_renew(subscription_id=subscription_id, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# --- Payouts -----------------------------------------------------------------------------------
@transaction.atomic
def payout_profile_set(*, user: User, full_name: str, national_id: str, destination_type: str, destination: str) -> PayoutProfile:
    """Save the creator's identity and payout destination, validated (see wallet.validators)."""
    name = " ".join((full_name or "").split())
    if len(name.split(" ")) < 2 or len(name) > 120:
        raise Invalid("Give your full name as on your national ID (at least two names).", field="full_name")
    nid = validators.validate_national_id(national_id)
    dest = validators.validate_destination(destination_type, destination)
    profile, _ = PayoutProfile.objects.update_or_create(
        user=user, defaults={"full_name": name, "national_id": nid, "destination_type": destination_type, "destination": dest}
    )
    return profile


def _payout_event(payout: Payout) -> None:
    events.emit_on_commit("payout.updated", payout_id=payout.pk, user_id=payout.user_id, status=payout.status)
    realtime.broadcast_on_commit(realtime.user_group(payout.user_id), "payout.updated",
                                 {"payout_id": str(payout.pk), "status": payout.status})


@transaction.atomic
def payout_request(*, user: User, amount_piastres: int, idempotency_key: str) -> Payout:
    """Ask to be paid `amount_piastres` of earnings. The funds move to pending_payout at once.

    Requires a verified phone and a payout profile (PermissionDenied otherwise), at least
    WALLET_PAYOUT_MIN_PIASTRES (Invalid) and enough earnings (InsufficientFunds). The same
    idempotency key returns the first payout. Emits "payout.updated"."""
    key = f"payout:{user.pk}:{_client_key(idempotency_key)}"
    existing = Payout.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.amount_piastres != amount_piastres:
            raise Conflict("This Idempotency-Key was used for another payout.", code="idempotency_conflict")
        return existing
    if user.phone_verified_at is None:
        raise PermissionDenied("Verify your phone number before asking for a payout.", code="phone_not_verified")
    profile = PayoutProfile.objects.filter(user=user).first()
    if profile is None:
        raise PermissionDenied("Add your identity and payout details first.", code="payout_profile_missing")
    if not isinstance(amount_piastres, int) or amount_piastres < settings.WALLET_PAYOUT_MIN_PIASTRES:
        raise Invalid(f"The minimum payout is EGP {settings.WALLET_PAYOUT_MIN_PIASTRES / 100:.2f}.", field="amount_piastres")
    # Lock the earnings shards and the pending-payout account up front, in id order (the order
    # every writer uses), so a concurrent reversal or gift can never wait on us in a cycle.
    pending_account = ledger.user_account(user.pk, AccountKind.PENDING_PAYOUT)
    locked = list(Account.objects.select_for_update().filter(
        owner=user, kind__in=(AccountKind.EARNINGS, AccountKind.PENDING_PAYOUT)).order_by("id"))
    shards = [a for a in locked if a.kind == AccountKind.EARNINGS]
    if sum(a.balance for a in shards) < amount_piastres:
        raise ledger.InsufficientFunds("Your earnings are lower than this amount.")
    lines, left = [], amount_piastres
    for account in sorted(shards, key=lambda a: -a.balance):
        take = min(left, account.balance)
        if take:
            lines.append(Line(account, -take))
            left -= take
    lines.append(Line(pending_account, amount_piastres))
    try:
        with transaction.atomic():
            transfer = ledger.transfer_post(key=key, kind=Transfer.Kind.PAYOUT_REQUEST, lines=lines, memo="payout requested")
            payout = Payout.objects.create(
                user=user, amount_piastres=amount_piastres, full_name=profile.full_name,
                destination_type=profile.destination_type, destination=profile.destination, request_transfer=transfer,
                idempotency_key=key,
                approvals_required=2 if amount_piastres > settings.WALLET_PAYOUT_DUAL_APPROVAL_ABOVE_PIASTRES else 1,
            )
    except DuplicateTransfer:
        return Payout.objects.get(idempotency_key=key)
    _audit(actor=user, action="payout.requested", obj=payout, amount=amount_piastres)
    _payout_event(payout)
    return payout


def _finance(staff: User) -> None:
    if not (staff.is_active and staff.is_staff and staff.has_perm("wallet.approve_payout")):
        raise PermissionDenied("Finance staff only.")


def _locked_payout(payout_id) -> Payout:
    payout = Payout.objects.select_for_update().filter(pk=payout_id).first()
    if payout is None:
        raise NotFound("Payout not found.")
    return payout


@transaction.atomic
def payout_approve(*, payout_id, staff: User) -> Payout:
    """One finance approval (maker-checker): staff cannot approve their own payout or
    approve twice; above WALLET_PAYOUT_DUAL_APPROVAL_ABOVE_PIASTRES two different staff
    members must approve before it becomes approved. Audited."""
    _finance(staff)
    payout = _locked_payout(payout_id)
    if payout.status != Payout.Status.REQUESTED:
        raise Conflict(f"The payout is {payout.status}.")
    if payout.user_id == staff.pk:
        raise PermissionDenied("You cannot approve your own payout.", code="maker_checker")
    if payout.approvals.filter(staff=staff).exists():
        raise PermissionDenied("A second, different staff member must approve this payout.", code="maker_checker")
    PayoutApproval.objects.create(payout=payout, staff=staff)
    count = payout.approvals.count()
    if count >= payout.approvals_required:
        payout.status = Payout.Status.APPROVED
        payout.save(update_fields=["status", "updated_at"])
        _payout_event(payout)
    _audit(actor=staff, action="payout.approved", obj=payout, approvals=count, required=payout.approvals_required)
    return payout


def _return_funds(payout: Payout, *, reason: str) -> None:
    ledger.transfer_reverse(transfer=payout.request_transfer, key=f"payout:{payout.pk}:return", memo=reason[:200])


@transaction.atomic
def payout_reject(*, payout_id, staff: User, reason: str) -> Payout:
    """Reject a requested/approved payout: the funds return to earnings (reversing transfer). Audited."""
    _finance(staff)
    payout = _locked_payout(payout_id)
    if payout.status not in (Payout.Status.REQUESTED, Payout.Status.APPROVED):
        raise Conflict(f"The payout is {payout.status}.")
    _return_funds(payout, reason=f"payout rejected: {reason}")
    payout.status, payout.failure_reason = Payout.Status.REJECTED, reason[:200]
    payout.save(update_fields=["status", "failure_reason", "updated_at"])
    _audit(actor=staff, action="payout.rejected", obj=payout, reason=reason)
    _payout_event(payout)
    return payout


CSV_HEADER = ["payout_id", "amount_egp", "full_name", "destination_type", "destination", "requested_at"]


@transaction.atomic
def payouts_export_batch(*, staff: User) -> PayoutBatch:
    """Export every approved payout as one CSV batch for the bank; each becomes exported and
    its money moves by a pending two-phase transfer (pending_payout → payout_clearing),
    posted when marked paid or voided when it fails. Audited."""
    _finance(staff)
    payouts = list(Payout.objects.select_for_update().filter(status=Payout.Status.APPROVED).order_by("id"))
    if not payouts:
        raise Conflict("No approved payouts to export.")
    batch = PayoutBatch.objects.create(created_by=staff)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for payout in payouts:
        pending = ledger.user_account(payout.user_id, AccountKind.PENDING_PAYOUT) if payout.user_id else \
            payout.request_transfer.entries.filter(amount__gt=0).get().account
        payout.send_transfer = ledger.transfer_post(
            key=f"payout:{payout.pk}:send", kind=Transfer.Kind.PAYOUT_SEND, pending=True, memo=f"batch {batch.pk}",
            lines=[Line(pending, -payout.amount_piastres),
                   Line(ledger.platform_account(AccountKind.PAYOUT_CLEARING, shard=0), payout.amount_piastres)],
        )
        payout.status, payout.batch = Payout.Status.EXPORTED, batch
        payout.save(update_fields=["send_transfer", "status", "batch", "updated_at"])
        writer.writerow([payout.pk, f"{Decimal(payout.amount_piastres) / 100:.2f}", payout.full_name,
                         payout.destination_type, payout.destination, payout.created_at.isoformat()])
        _payout_event(payout)
    batch.csv = out.getvalue()
    batch.save(update_fields=["csv"])
    _audit(actor=staff, action="payouts.exported", obj=batch, count=len(payouts))
    return batch


@transaction.atomic
def payout_mark_paid(*, payout_id, staff: User, bank_reference: str = "") -> Payout:
    """The bank paid it: post the pending send transfer. Audited."""
    _finance(staff)
    payout = _locked_payout(payout_id)
    if payout.status != Payout.Status.EXPORTED:
        raise Conflict(f"The payout is {payout.status}.")
    ledger.transfer_post_pending(transfer=payout.send_transfer)
    payout.status, payout.bank_reference = Payout.Status.PAID, bank_reference[:100]
    payout.save(update_fields=["status", "bank_reference", "updated_at"])
    _audit(actor=staff, action="payout.paid", obj=payout, bank_reference=bank_reference)
    _payout_event(payout)
    return payout


@transaction.atomic
def payout_mark_failed(*, payout_id, staff: User, reason: str) -> Payout:
    """The bank could not pay it: void the send transfer and return the funds to earnings
    by a reversing transfer of the request. Audited."""
    _finance(staff)
    payout = _locked_payout(payout_id)
    if payout.status != Payout.Status.EXPORTED:
        raise Conflict(f"The payout is {payout.status}.")
    ledger.transfer_void(transfer=payout.send_transfer)
    _return_funds(payout, reason=f"payout failed: {reason}")
    payout.status, payout.failure_reason = Payout.Status.FAILED, reason[:200]
    payout.save(update_fields=["status", "failure_reason", "updated_at"])
    _audit(actor=staff, action="payout.failed", obj=payout, reason=reason)
    _payout_event(payout)
    return payout


# --- Reconciliation ------------------------------------------------------------------------
SETTLEMENT_COLUMNS = ("merchant_reference", "provider_reference", "amount", "status", "settled_at")


@transaction.atomic
def reconciliation_import(*, provider: str, csv_text: str, staff: User, filename: str = "") -> ReconciliationRun:
    """Compare a provider settlement CSV (columns: merchant_reference, provider_reference,
    amount in EGP like 15.00, status, settled_at ISO 8601) with our payments and record
    every mismatch: unknown payments, amounts that differ, settled-but-not-paid, and
    payments paid in the file's period that the settlement lacks. Audited."""
    _finance(staff)
    reader = csv.DictReader(io.StringIO(csv_text))
    missing = [c for c in SETTLEMENT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise Invalid(f"The settlement file lacks columns: {', '.join(missing)}.", field="file")
    run = ReconciliationRun.objects.create(provider=provider, filename=filename[:200], imported_by=staff)
    mismatches, seen, times = [], set(), []
    for number, row in enumerate(reader, start=2):
        run.lines += 1
        ref = (row.get("merchant_reference") or "").strip()
        try:
            amount = gateways.egp_to_piastres(Decimal((row.get("amount") or "").strip()))
            settled_at = datetime.fromisoformat((row.get("settled_at") or "").strip())
            if timezone.is_naive(settled_at):
                settled_at = timezone.make_aware(settled_at)
        except (InvalidOperation, ValueError):
            mismatches.append(ReconciliationMismatch(run=run, kind="bad_line", reference=ref, detail=f"line {number}"))
            continue
        times.append(settled_at)
        payment = Payment.objects.filter(pk=int(ref), provider=provider).first() if ref.isdigit() else None
        if payment is None:
            mismatches.append(ReconciliationMismatch(run=run, kind="unknown_payment", reference=ref, settlement_amount=amount,
                                                     detail=f"provider reference {row.get('provider_reference', '')}"))
            continue
        seen.add(payment.pk)
        settled_status = (row.get("status") or "").strip().lower()
        if payment.amount_piastres != amount:
            mismatches.append(ReconciliationMismatch(run=run, kind="amount", payment=payment, reference=ref,
                                                     ledger_amount=payment.amount_piastres, settlement_amount=amount))
        elif settled_status in ("paid", "settled", "success") and payment.status not in ("paid", "refunded"):
            mismatches.append(ReconciliationMismatch(run=run, kind="status", payment=payment, reference=ref,
                                                     ledger_amount=payment.amount_piastres, settlement_amount=amount,
                                                     detail=f"ours: {payment.status}"))
        else:
            run.matched += 1
    if times:
        run.period_start, run.period_end = min(times), max(times)
        for payment in Payment.objects.filter(provider=provider, status="paid", paid_at__gte=run.period_start,
                                              paid_at__lte=run.period_end).exclude(pk__in=seen):
            mismatches.append(ReconciliationMismatch(run=run, kind="missing", payment=payment, reference=str(payment.pk),
                                                     ledger_amount=payment.amount_piastres))
    ReconciliationMismatch.objects.bulk_create(mismatches)
    run.save()
    _audit(actor=staff, action="reconciliation.imported", obj=run, lines=run.lines, mismatches=len(mismatches))
    return run


# --- Accounts plug-ins (deletion, export) -----------------------------------------------------
def user_money_records_anonymise(user) -> None:
    """Deletion hook (runs in the purge transaction): money records stay for the books, with
    personal data removed. Ledger accounts lose their owner (FK SET NULL) and are marked;
    payout identity and destinations are masked; live subscriptions end."""
    now = timezone.now()
    Account.objects.filter(owner=user).update(anonymised_at=now)
    for payout in Payout.objects.filter(user=user):
        payout.full_name = "(deleted user)"
        payout.destination = validators.mask(payout.destination)
        payout.save(update_fields=["full_name", "destination"])
    PayoutProfile.objects.filter(user=user).delete()
    Payment.objects.filter(user=user).update(checkout={})
    Gift.objects.filter(sender=user).update(message="")
    Subscription.objects.filter(subscriber=user, status__in=(*LIVE_SUBSCRIPTION_STATUSES, "incomplete")).update(
        status=Subscription.Status.CANCELED, ended_at=now)
    Subscription.objects.filter(creator=user, status__in=(*LIVE_SUBSCRIPTION_STATUSES, "incomplete")).update(
        status=Subscription.Status.CANCELED, ended_at=now)
