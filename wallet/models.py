"""Wallet tables: a small double-entry ledger, and the money flows built on it.

The ledger (Account, Transfer, Entry) keeps its guarantees in Postgres, not only in Python
(see migrations/0002_ledger_guards.py for the triggers):

- every Transfer's entries sum to zero per currency (a DEFERRABLE INITIALLY DEFERRED
  constraint trigger checks it at commit, so a raw INSERT that breaks it fails);
- entries are immutable (a trigger forbids UPDATE and DELETE): mistakes are corrected by
  reversing transfers;
- user accounts never go below zero (CHECK balance >= 0 unless the account is the platform's);
- a transfer's idempotency key is UNIQUE, so a retried request never moves money twice;
- a transfer's status only moves pending → posted | voided (trigger).

Amounts are integers in minor units: EGP in piastres, coins whole. Never floats.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from daira.lib.models import SnowflakeIdField


class Currency(models.TextChoices):
    EGP = "EGP", "Egyptian pound (piastres)"
    COIN = "COIN", "Coins"


class AccountKind(models.TextChoices):
    # Per user
    COIN_BALANCE = "coin_balance", "Coin balance"
    EARNINGS = "earnings", "Creator earnings"
    PENDING_PAYOUT = "pending_payout", "Pending payouts"
    # Platform
    COIN_ISSUANCE = "coin_issuance", "Coins issued (source of every coin)"
    COIN_FLOAT = "coin_float", "EGP backing coins sold"
    PLATFORM_REVENUE = "platform_revenue", "Platform revenue"
    PROVIDER_CLEARING = "provider_clearing", "Provider clearing"
    PAYOUT_CLEARING = "payout_clearing", "Payouts sent to banks and wallets"
    FEES = "fees", "Provider fees"
    REFUNDS = "refunds", "Refunds and chargebacks absorbed by the platform"


USER_KINDS = (AccountKind.COIN_BALANCE, AccountKind.EARNINGS, AccountKind.PENDING_PAYOUT)
KIND_CURRENCY = {
    AccountKind.COIN_BALANCE: Currency.COIN,
    AccountKind.EARNINGS: Currency.EGP,
    AccountKind.PENDING_PAYOUT: Currency.EGP,
    AccountKind.COIN_ISSUANCE: Currency.COIN,
    AccountKind.COIN_FLOAT: Currency.EGP,
    AccountKind.PLATFORM_REVENUE: Currency.EGP,
    AccountKind.PROVIDER_CLEARING: Currency.EGP,
    AccountKind.PAYOUT_CLEARING: Currency.EGP,
    AccountKind.FEES: Currency.EGP,
    AccountKind.REFUNDS: Currency.EGP,
}


class Account(models.Model):
    """One ledger account. `balance` is a cache of the sum of its lines, kept in the same
    transaction as the lines (see wallet.ledger); a hot account is several rows (`shard`).

    Platform accounts (`is_platform`) may go negative (a refund of spent coins is the
    platform's loss); user accounts cannot (CHECK). `owner` becomes NULL when the user is
    purged: the money records stay, anonymised (PDPL)."""

    id = SnowflakeIdField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="wallet_accounts"
    )
    is_platform = models.BooleanField(default=False)
    kind = models.CharField(max_length=24, choices=AccountKind.choices)
    currency = models.CharField(max_length=4, choices=Currency.choices)
    provider = models.CharField(max_length=24, blank=True, default="", help_text="For provider clearing accounts")
    shard = models.PositiveSmallIntegerField(default=0)
    balance = models.BigIntegerField(default=0)
    anonymised_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(is_platform=True) | Q(balance__gte=0), name="wallet_user_balance_nonneg"),
            models.UniqueConstraint(
                fields=["owner", "kind", "shard"], condition=Q(owner__isnull=False), name="wallet_account_user_unique"
            ),
            models.UniqueConstraint(
                fields=["kind", "provider", "shard"], condition=Q(is_platform=True), name="wallet_account_platform_unique"
            ),
            models.CheckConstraint(
                condition=Q(is_platform=True, owner__isnull=True) | Q(is_platform=False), name="wallet_platform_unowned"
            ),
        ]
        indexes = [models.Index(fields=["owner", "kind"], name="wallet_account_owner_kind")]

    def __str__(self) -> str:
        who = "platform" if self.is_platform else f"user {self.owner_id}"
        suffix = f":{self.provider}" if self.provider else ""
        return f"{who} {self.kind}{suffix}#{self.shard} ({self.currency})"


class Transfer(models.Model):
    """One money movement: a set of entries summing to zero per currency.

    Two-phase (TigerBeetle's pending/post/void): a pending transfer reserves its debits at
    once (balances drop) and applies its credits only when posted; voiding releases the
    debits. A posted transfer is final; it is undone by a reversing transfer (`reverses`)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        POSTED = "posted", "Posted"
        VOIDED = "voided", "Voided"

    class Kind(models.TextChoices):
        COIN_PURCHASE = "coin_purchase", "Coin purchase"
        GIFT = "gift", "Gift"
        TIP = "tip", "Tip"
        SUBSCRIPTION = "subscription", "Subscription"
        PAYOUT_REQUEST = "payout_request", "Payout requested"
        PAYOUT_SEND = "payout_send", "Payout sent"
        REFUND = "refund", "Refund / chargeback"
        REVERSAL = "reversal", "Reversal"
        ADJUSTMENT = "adjustment", "Adjustment"

    id = SnowflakeIdField()
    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.POSTED)
    memo = models.CharField(max_length=200, blank=True, default="")
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.status})"


class Entry(models.Model):
    """One line of a transfer: `amount` (signed) on one account. Immutable (DB trigger)."""

    id = SnowflakeIdField()
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="entries")
    # No index of its own: wallet_entry_account_id (account, -id) serves every lookup by
    # account, and each gift writes five entries (an index fewer to maintain per line).
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries", db_index=False)
    amount = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "entries"
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="wallet_entry_nonzero")]
        indexes = [models.Index(fields=["account", "-id"], name="wallet_entry_account_id")]

    def __str__(self) -> str:
        return f"{self.amount:+d} on {self.account_id}"


# --- Payments (money in through a provider) -------------------------------------------------
class Payment(models.Model):
    """A charge through a provider. Lifecycle: created → pending → paid | failed | expired,
    and paid → refunded. Transitions only move forward (see services.PAYMENT_TRANSITIONS),
    so a late or replayed callback changes nothing."""

    class Status(models.TextChoices):
        CREATED = "created", "Created"
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"
        REFUNDED = "refunded", "Refunded"

    class Purpose(models.TextChoices):
        COINS = "coins", "Coin package"
        SUBSCRIPTION = "subscription", "Creator subscription"

    class Method(models.TextChoices):
        FAWRY = "fawry", "Fawry reference code"
        WALLET = "wallet", "Mobile wallet (Vodafone Cash, Orange Cash, Etisalat Cash, WE Pay)"
        CARD = "card", "Card"
        INSTAPAY = "instapay", "InstaPay"
        SANDBOX = "sandbox", "Sandbox"

    id = SnowflakeIdField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="payments")
    provider = models.CharField(max_length=24)
    method = models.CharField(max_length=12, choices=Method.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    package_code = models.CharField(max_length=32, blank=True, default="")
    coins = models.PositiveIntegerField(default=0)
    subscription = models.ForeignKey(
        "Subscription", null=True, blank=True, on_delete=models.SET_NULL, related_name="payments"
    )
    amount_piastres = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED)
    provider_reference = models.CharField(max_length=100, blank=True, default="", db_index=True)
    checkout = models.JSONField(default=dict, blank=True, help_text="What the client needs to pay")
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    refunded_coins_recovered = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["status", "updated_at"], name="wallet_payment_status")]

    def __str__(self) -> str:
        return f"payment {self.pk} {self.provider} {self.status}"


class PaymentEvent(models.Model):
    """Every callback and status answer from a provider, valid or not (the webhook log)."""

    id = SnowflakeIdField()
    provider = models.CharField(max_length=24)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    source = models.CharField(max_length=12, default="webhook")  # webhook | poll | sandbox
    signature_valid = models.BooleanField()
    reported_status = models.CharField(max_length=16, blank=True, default="")
    outcome = models.CharField(max_length=24, blank=True, default="")  # applied | ignored | duplicate | rejected
    body = models.TextField(blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.provider} {self.reported_status} {self.outcome}"


# --- Gifts and tips --------------------------------------------------------------------------
class Gift(models.Model):
    """Coins sent to a creator: a catalogue gift on a post (or stream), or a tip (DM/profile).

    `post_id` is a plain id, not a foreign key: content's Post may be deleted, the money
    record stays."""

    class Kind(models.TextChoices):
        GIFT = "gift", "Gift"
        TIP = "tip", "Tip"

    class Context(models.TextChoices):
        POST = "post", "Post"
        STREAM = "stream", "Live stream"
        PROFILE = "profile", "Profile"
        DM = "dm", "Direct message"

    id = SnowflakeIdField()
    kind = models.CharField(max_length=4, choices=Kind.choices)
    context = models.CharField(max_length=8, choices=Context.choices)
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="gifts_sent")
    creator = models.ForeignKey(  # indexed by wallet_gift_creator (creator, -id), not on its own
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="gifts_received", db_index=False
    )
    gift_code = models.CharField(max_length=24, blank=True, default="")
    post_id = models.BigIntegerField(null=True, blank=True)
    coins = models.PositiveIntegerField()
    creator_piastres = models.PositiveBigIntegerField()
    platform_piastres = models.PositiveBigIntegerField()
    message = models.CharField(max_length=200, blank=True, default="")
    transfer = models.OneToOneField(Transfer, on_delete=models.PROTECT, related_name="gift")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["creator", "-id"], name="wallet_gift_creator")]


# --- Creator subscriptions -------------------------------------------------------------------
class SubscriptionTier(models.Model):
    """One of a creator's (at most 3) tiers. `level` 1..3 orders them for "minimum tier"."""

    id = SnowflakeIdField()
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription_tiers")
    level = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=40)
    price_piastres = models.PositiveBigIntegerField()
    benefits = models.CharField(max_length=500, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["creator", "level"], name="wallet_tier_creator_level"),
            models.CheckConstraint(condition=Q(level__gte=1, level__lte=3), name="wallet_tier_level_range"),
            models.CheckConstraint(condition=Q(price_piastres__gt=0), name="wallet_tier_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (level {self.level})"


LIVE_SUBSCRIPTION_STATUSES = ("active", "past_due")


class Subscription(models.Model):
    """A fan's subscription to a creator. Access while active or past_due (the grace period).

    Lifecycle: active → (renewal fails) past_due → (renewal succeeds) active, or (grace over)
    expired; cancel sets cancel_at_period_end and the renewal task ends it as canceled."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due (grace period)"
        CANCELED = "canceled", "Canceled"
        EXPIRED = "expired", "Expired"
        INCOMPLETE = "incomplete", "Waiting for the first payment"

    class PayWith(models.TextChoices):
        COINS = "coins", "Coins"
        PROVIDER = "provider", "Payment provider"

    id = SnowflakeIdField()
    subscriber = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="subscriptions"
    )
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="subscribers")
    tier = models.ForeignKey(SubscriptionTier, null=True, on_delete=models.SET_NULL, related_name="subscriptions")
    tier_level = models.PositiveSmallIntegerField()
    price_piastres = models.PositiveBigIntegerField()
    pay_with = models.CharField(max_length=8, choices=PayWith.choices)
    provider = models.CharField(max_length=24, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    renewal_attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    grace_until = models.DateTimeField(null=True, blank=True)
    periods_paid = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "creator"],
                condition=Q(status__in=("active", "past_due", "incomplete")),
                name="wallet_one_live_subscription",
            ),
        ]
        indexes = [models.Index(fields=["status", "current_period_end"], name="wallet_sub_due")]


# --- Payouts ---------------------------------------------------------------------------------
class PayoutProfile(models.Model):
    """A creator's identity and payout destination, validated on save by services."""

    class DestinationType(models.TextChoices):
        INSTAPAY = "instapay", "InstaPay address"
        WALLET = "wallet", "Mobile wallet number"
        IBAN = "iban", "Bank account (IBAN)"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="payout_profile")
    full_name = models.CharField(max_length=120)
    national_id = models.CharField(max_length=14)
    destination_type = models.CharField(max_length=10, choices=DestinationType.choices)
    destination = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)


class PayoutBatch(models.Model):
    id = SnowflakeIdField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    csv = models.TextField(blank=True, default="")

    class Meta:
        verbose_name_plural = "payout batches"


class Payout(models.Model):
    """A creator's request to be paid. Lifecycle: requested → approved (one or two finance
    approvals) → exported (in a batch for the bank) → paid | failed; requested/approved →
    rejected. Failed and rejected payouts return the funds by a reversing transfer."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        EXPORTED = "exported", "Exported to the bank"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed (funds returned)"
        REJECTED = "rejected", "Rejected (funds returned)"

    id = SnowflakeIdField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="payouts")
    amount_piastres = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    full_name = models.CharField(max_length=120)
    destination_type = models.CharField(max_length=10, choices=PayoutProfile.DestinationType.choices)
    destination = models.CharField(max_length=64)
    approvals_required = models.PositiveSmallIntegerField(default=1)
    request_transfer = models.OneToOneField(Transfer, on_delete=models.PROTECT, related_name="payout_requested")
    send_transfer = models.OneToOneField(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="payout_sent"
    )
    batch = models.ForeignKey(PayoutBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="payouts")
    idempotency_key = models.CharField(max_length=200, unique=True)
    failure_reason = models.CharField(max_length=200, blank=True, default="")
    bank_reference = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("approve_payout", "Can approve, reject, export and settle payouts (finance)")]
        indexes = [models.Index(fields=["status", "id"], name="wallet_payout_status")]

    def __str__(self) -> str:
        return f"payout {self.pk} EGP {self.amount_piastres / 100:.2f} {self.status}"


class PayoutApproval(models.Model):
    payout = models.ForeignKey(Payout, on_delete=models.CASCADE, related_name="approvals")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["payout", "staff"], name="wallet_one_approval_per_staff")]


class AuditLog(models.Model):
    """Every finance action (who, what, on which object, with what data). Append-only."""

    id = SnowflakeIdField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=24)
    object_id = models.BigIntegerField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["object_type", "object_id"], name="wallet_audit_object")]


# --- Reconciliation --------------------------------------------------------------------------
class ReconciliationRun(models.Model):
    id = SnowflakeIdField()
    provider = models.CharField(max_length=24)
    filename = models.CharField(max_length=200, blank=True, default="")
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    lines = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.provider} settlement {self.filename or self.pk}"


class ReconciliationMismatch(models.Model):
    class Kind(models.TextChoices):
        UNKNOWN_PAYMENT = "unknown_payment", "In the settlement, not in our records"
        AMOUNT = "amount", "Amounts differ"
        STATUS = "status", "Settled but not paid in our records"
        MISSING_FROM_SETTLEMENT = "missing", "Paid in our records, not in the settlement"
        BAD_LINE = "bad_line", "Unreadable line"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="mismatches")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reference = models.CharField(max_length=100, blank=True, default="")
    ledger_amount = models.BigIntegerField(null=True, blank=True)
    settlement_amount = models.BigIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True, default="")
