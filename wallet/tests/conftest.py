"""Fixtures for wallet tests: users with coins (through the real purchase flow or a ledger
grant), finance staff, and the invariant check every money test ends with."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.tests.factories import UserFactory
from wallet import gateways, ledger
from wallet.ledger import Line
from wallet.models import AccountKind, Transfer

_grants = itertools.count()


@pytest.fixture(autouse=True)
def _fresh_ledger_cache():
    # Platform account rows are cached per process; tables are emptied between tests.
    ledger.clear_cache()
    yield
    ledger.clear_cache()
    for name in list(gateways._overrides):
        gateways.install(name, None)


def grant_coins(user, coins: int) -> Transfer:
    """Give `user` coins as a paid sandbox purchase would (clearing → float, issuance → user)."""
    price = coins * 15
    return ledger.transfer_post(
        key=f"test-grant:{user.pk}:{next(_grants)}", kind=Transfer.Kind.COIN_PURCHASE,
        lines=[
            Line(ledger.platform_account(AccountKind.PROVIDER_CLEARING, provider="sandbox", shard=0), -price),
            Line(ledger.platform_account(AccountKind.COIN_FLOAT), price),
            Line(ledger.platform_account(AccountKind.COIN_ISSUANCE), -coins),
            Line(ledger.user_account(user.pk, AccountKind.COIN_BALANCE), coins),
        ],
    )


@pytest.fixture
def fan():
    return UserFactory()


@pytest.fixture
def creator():
    return UserFactory(phone="+201001234567", phone_verified_at=timezone.now())


def make_finance_staff(**kwargs):
    staff = UserFactory(is_staff=True, **kwargs)
    staff.user_permissions.add(Permission.objects.get(codename="approve_payout", content_type__app_label="wallet"))
    return type(staff).objects.get(pk=staff.pk)  # fresh: permission cache


@pytest.fixture
def finance():
    return make_finance_staff()


@pytest.fixture
def finance2():
    return make_finance_staff()


@pytest.fixture
def books_balance():
    """Call at the end of a test: asserts every ledger invariant holds."""

    def check():
        assert ledger.invariant_violations() == []

    return check


def bearer(user) -> str:
    from accounts.tests.factories import access_token_for

    return access_token_for(user)
