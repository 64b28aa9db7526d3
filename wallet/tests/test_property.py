"""Property test: random sequences of money operations keep every invariant.

Invariants checked after each sequence: every transfer sums to zero per currency; every
balance equals the sum of its lines (plus reserved debits); no user balance is negative;
balances sum to zero per currency; and each user's coins, earnings and pending payouts
equal what a plain Python model of the same operations predicts (nothing lost, nothing
duplicated, nothing invented)."""

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from accounts.tests.factories import UserFactory
from daira.lib.errors import ApplicationError
from wallet import ledger, services
from wallet.models import AccountKind, Payment, Payout

pytestmark = pytest.mark.django_db

N_USERS = 3
ops = st.one_of(
    st.tuples(st.just("buy"), st.integers(0, N_USERS - 1), st.sampled_from(["coins_100", "coins_500"]),
              st.sampled_from(["paid", "failed", "paid-twice"])),
    st.tuples(st.just("tip"), st.integers(0, N_USERS - 1), st.integers(0, N_USERS - 1), st.integers(1, 300)),
    st.tuples(st.just("retry_tip"), st.integers(0, N_USERS - 1), st.integers(0, N_USERS - 1), st.integers(1, 50)),
    st.tuples(st.just("refund"), st.integers(0, 10)),
    st.tuples(st.just("payout"), st.integers(0, N_USERS - 1), st.integers(100, 5_000)),
    st.tuples(st.just("settle_payout"), st.integers(0, 10), st.sampled_from(["paid", "failed", "rejected"])),
)


class Model:
    def __init__(self, users):
        self.users = users
        self.coins = {u.pk: 0 for u in users}
        self.earnings = {u.pk: 0 for u in users}
        self.pending = {u.pk: 0 for u in users}


def _apply(op, model: Model, counter: list[int], finance, finance2) -> None:
    users = model.users
    counter[0] += 1
    key = f"op{counter[0]}"
    kind = op[0]
    if kind == "buy":
        _, who, package, outcome = op
        payment = services.coin_purchase_start(user=users[who], package_code=package, method="wallet", idempotency_key=key)
        services.sandbox_settle(payment=payment, outcome="failed" if outcome == "failed" else "paid")
        if outcome == "paid-twice":
            services.sandbox_settle(payment=payment, outcome="paid")
        if outcome != "failed":
            model.coins[users[who].pk] += payment.coins
    elif kind in ("tip", "retry_tip"):
        _, sender, creator, coins = op
        sender, creator = users[sender], users[creator]
        try:
            gift = services.tip_send(sender=sender, creator_id=creator.pk, coins=coins, idempotency_key=key)
            if kind == "retry_tip":
                services.tip_send(sender=sender, creator_id=creator.pk, coins=coins, idempotency_key=key)
        except ApplicationError:
            assert sender == creator or model.coins[sender.pk] < coins
            return
        model.coins[sender.pk] -= coins
        model.earnings[creator.pk] += gift.creator_piastres
    elif kind == "refund":
        paid = list(Payment.objects.filter(status="paid").order_by("id"))
        if not paid:
            return
        payment = paid[op[1] % len(paid)]
        services.sandbox_settle(payment=payment, outcome="refunded")
        payment.refresh_from_db()
        model.coins[payment.user_id] -= payment.refunded_coins_recovered
    elif kind == "payout":
        _, who, amount = op
        user = users[who]
        try:
            services.payout_request(user=user, amount_piastres=amount, idempotency_key=key)
        except ApplicationError:
            assert model.earnings[user.pk] < amount
            return
        model.earnings[user.pk] -= amount
        model.pending[user.pk] += amount
    elif kind == "settle_payout":
        payouts = list(Payout.objects.filter(status="requested").order_by("id"))
        if not payouts:
            return
        payout = payouts[op[1] % len(payouts)]
        if op[2] == "rejected":
            services.payout_reject(payout_id=payout.pk, staff=finance, reason="test")
            model.earnings[payout.user_id] += payout.amount_piastres
        else:
            services.payout_approve(payout_id=payout.pk, staff=finance)
            if payout.approvals_required == 2:
                services.payout_approve(payout_id=payout.pk, staff=finance2)
            services.payouts_export_batch(staff=finance)
            if op[2] == "paid":
                services.payout_mark_paid(payout_id=payout.pk, staff=finance)
            else:
                services.payout_mark_failed(payout_id=payout.pk, staff=finance, reason="test")
                model.earnings[payout.user_id] += payout.amount_piastres
        model.pending[payout.user_id] -= payout.amount_piastres


@pytest.mark.slow
@hsettings(max_examples=12, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=st.lists(ops, min_size=1, max_size=14))
def test_random_operation_sequences_keep_every_invariant(sequence, finance, finance2, settings):
    settings.WALLET_PAYOUT_MIN_PIASTRES = 100
    settings.WALLET_PAYOUT_DUAL_APPROVAL_ABOVE_PIASTRES = 2_000
    with transaction.atomic():
        ledger.clear_cache()
        users = [UserFactory(phone_verified_at=timezone.now()) for _ in range(N_USERS)]
        for user in users:
            services.payout_profile_set(user=user, full_name="Test Creator", national_id="29001010100015",
                                        destination_type="wallet", destination="01001234567")
        model = Model(users)
        counter = [0]
        for op in sequence:
            _apply(op, model, counter, finance, finance2)

        assert ledger.invariant_violations() == []
        for user in users:
            assert ledger.balance_of(user.pk, AccountKind.COIN_BALANCE) == model.coins[user.pk]
            assert ledger.balance_of(user.pk, AccountKind.EARNINGS) == model.earnings[user.pk]
            assert ledger.balance_of(user.pk, AccountKind.PENDING_PAYOUT) == model.pending[user.pk]
        transaction.set_rollback(True)
    ledger.clear_cache()
