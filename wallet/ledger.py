"""The ledger engine: accounts, and transfers of zero-sum lines, with two-phase transfers.

Why our own and not django-hordak: hordak's legs and its database-enforced zero-sum are
what we want, but it is built around django-money `Money` values with Decimal amounts
(we keep integers in minor units, and a COIN "currency" that is not ISO 4217), its
balances are computed by summing legs on read (a popular creator's account would be
summed over millions of legs, or locked by its running-balance trigger on every gift),
and it has no idempotency keys, no pending/posted/voided two-phase transfers and no
sharded hot accounts. What we need is small (about 200 lines here plus four triggers in
migrations/0002), so we keep it ours and take the ideas: hordak's DB-enforced zero-sum
legs and immutable legs; TigerBeetle's idempotent transfer ids, pending → posted | voided
two-phase transfers and debits that can never overdraw.

Guarantees (tested in wallet/tests/test_ledger.py):
- Lines of a transfer sum to zero per currency: checked here (early, clear error) and by
  a deferred constraint trigger at commit (raw SQL cannot break it).
- `Account.balance` changes in the same transaction as the lines, by a conditional
  `UPDATE ... WHERE is_platform OR balance + delta >= 0`: a user account never goes
  negative even under concurrency (the CHECK constraint is the backstop). Updates run in
  account-id order, so two transfers touching the same accounts cannot deadlock.
- Idempotency: `Transfer.idempotency_key` is UNIQUE; posting a key twice raises
  DuplicateTransfer carrying the first transfer.
- Hot accounts: a creator's earnings and every platform account are N rows (`shard`);
  a credit picks one shard, reads sum them (`balance_of`).

Balance semantics with two-phase transfers: balance = sum of lines of posted transfers +
the negative lines of pending transfers (debits are reserved at once; credits land when
the transfer is posted; voiding releases the debits).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.db import DataError, connection, transaction
from django.db.models import Field, Model, Q, Sum
from django.utils import timezone

from daira.lib import ids
from daira.lib.errors import Conflict, Invalid
from daira.lib.prepared import PreparedQuery, execute_prepared
from wallet.models import KIND_CURRENCY, Account, AccountKind, Transfer

SHARDED_USER_KINDS = (AccountKind.EARNINGS,)


class InsufficientFunds(Conflict):
    default_code = "insufficient_funds"


class DuplicateTransfer(Exception):
    """A transfer with this idempotency key exists already (`existing`)."""

    def __init__(self, existing: Transfer) -> None:
        super().__init__(existing.idempotency_key)
        self.existing = existing


@dataclass(frozen=True)
class Line:
    account: Account
    amount: int


# --- Accounts ----------------------------------------------------------------------------
_platform_cache: dict[tuple[str, str, int], Account] = {}


def clear_cache() -> None:
    """Forget cached platform accounts (tests that truncate tables call this)."""
    _platform_cache.clear()


def platform_account(kind: str, *, provider: str = "", shard: int | None = None) -> Account:
    """A platform account row; with `shard=None` a random one of its WALLET_PLATFORM_SHARDS rows."""
    if shard is None:
        shard = random.randrange(settings.WALLET_PLATFORM_SHARDS)
    key = (kind, provider, shard)
    account = _platform_cache.get(key)
    if account is None:
        account, created = Account.objects.get_or_create(
            is_platform=True, kind=kind, provider=provider, shard=shard, defaults={"currency": KIND_CURRENCY[kind]}
        )
        if created:
            # Other threads must not use the row before it is committed (or after a rollback).
            transaction.on_commit(lambda: _platform_cache.__setitem__(key, account))
        else:
            _platform_cache[key] = account
    return account


def _accounts_create(specs: Iterable[tuple[int, str, int]]) -> None:
    """Create the accounts (user_id, kind, shard) in one INSERT; rows that exist (or are
    being created concurrently) are skipped. For a sharded kind (earnings) every shard of
    the owner is created with the first: a creator's first gifts come from fans spread over
    all shards, and each would otherwise meet a missing row (a miss costs round trips)."""
    rows: dict[tuple[int, str, int], Account] = {}
    for user_id, kind, shard in specs:
        shards = {shard, *range(settings.WALLET_EARNINGS_SHARDS)} if kind in SHARDED_USER_KINDS else {shard}
        for each in shards:
            rows[(user_id, kind, each)] = Account(owner_id=user_id, kind=kind, shard=each, currency=KIND_CURRENCY[kind])
    Account.objects.bulk_create(list(rows.values()), ignore_conflicts=True)


def user_account(user_id: int, kind: str, *, shard: int = 0) -> Account:
    """The user's account of `kind` (created on first use)."""
    try:
        return Account.objects.get(owner_id=user_id, kind=kind, shard=shard)
    except Account.DoesNotExist:
        pass
    _accounts_create([(user_id, kind, shard)])
    return Account.objects.get(owner_id=user_id, kind=kind, shard=shard)


def _accounts_by_spec(kinds: tuple[str, ...], slots):
    condition = Q()
    for i, kind in enumerate(kinds):
        condition |= Q(owner_id=slots.value(f"owner{i}"), kind=kind, shard=slots.value(f"shard{i}", small=True))
    return Account.objects.filter(condition)


# Every gift and tip reads the payer's coins and a creator's earnings shard: compiled once
# per tuple of kinds, run as a prepared statement (daira/lib/prepared.py).
_ACCOUNTS_BY_SPEC = PreparedQuery(_accounts_by_spec)


def _accounts_found(specs: Sequence[tuple[int, str, int]]) -> dict[tuple[int, str, int], Account]:
    values = {}
    for i, (user_id, _kind, shard) in enumerate(specs):
        values[f"owner{i}"], values[f"shard{i}"] = user_id, shard
    rows = _ACCOUNTS_BY_SPEC.run(tuple(kind for _, kind, _ in specs), **values)
    return {(a.owner_id, a.kind, a.shard): a for a in rows}


def user_accounts(specs: Sequence[tuple[int, str, int]]) -> list[Account]:
    """Several users' accounts, each (user_id, kind, shard), in one query (the missing ones
    created, then read, in one more query each)."""
    found = _accounts_found(specs)
    missing = [spec for spec in specs if spec not in found]
    if missing:
        _accounts_create(missing)
        found.update(_accounts_found(missing))
    return [found[spec] for spec in specs]


def earnings_shard(*, spread_by: int | None = None) -> int:
    shards = settings.WALLET_EARNINGS_SHARDS
    return (spread_by % shards) if spread_by is not None else random.randrange(shards)


def earnings_account(user_id: int, *, spread_by: int | None = None) -> Account:
    """One shard of a creator's earnings: by `spread_by` (e.g. the sender's id) or at random."""
    return user_account(user_id, AccountKind.EARNINGS, shard=earnings_shard(spread_by=spread_by))


def balance_of(user_id: int, kind: str) -> int:
    """A user's balance of `kind`, summed over its shards."""
    total = Account.objects.filter(owner_id=user_id, kind=kind).aggregate(total=Sum("balance"))["total"]
    return int(total or 0)


def platform_balance(kind: str, *, provider: str | None = None) -> int:
    accounts = Account.objects.filter(is_platform=True, kind=kind)
    if provider is not None:
        accounts = accounts.filter(provider=provider)
    return int(accounts.aggregate(total=Sum("balance"))["total"] or 0)


# --- Transfers ---------------------------------------------------------------------------
def _check_lines(lines: Sequence[Line]) -> None:
    if not lines:
        raise Invalid("A transfer needs lines.")
    sums: dict[str, int] = defaultdict(int)
    for line in lines:
        if not isinstance(line.amount, int) or isinstance(line.amount, bool) or line.amount == 0:
            raise Invalid("Ledger amounts are non-zero integers.")
        sums[line.account.currency] += line.amount
    unbalanced = {currency: total for currency, total in sums.items() if total != 0}
    if unbalanced:
        raise Invalid(f"Transfer lines do not sum to zero: {unbalanced}")


# wallet_apply_deltas_or_fail (migrations/0004) refuses an overdraft with this SQLSTATE.
_INSUFFICIENT_FUNDS_SQLSTATE = "22W01"


def _apply(deltas: dict[int, int]) -> None:
    """Add each delta to its account's balance in one round trip (wallet_apply_deltas_or_fail,
    see migrations/0003-0004): in account-id order (no deadlocks), refusing any delta that
    would take a user account below zero (InsufficientFunds; the caller's transaction is
    rolled back). Used by the two-phase steps; transfer_post applies its deltas in its own
    statement."""
    pairs = [(account_id, delta) for account_id, delta in sorted(deltas.items()) if delta != 0]
    if not pairs:
        return
    with _insufficient_funds_raised():
        execute_prepared("SELECT wallet_apply_deltas_or_fail(%s::bigint[], %s::bigint[])",
                         [[p[0] for p in pairs], [p[1] for p in pairs]])


@contextmanager
def _insufficient_funds_raised():
    """Turn wallet_apply_deltas_or_fail's refusal (SQLSTATE 22W01) into InsufficientFunds."""
    try:
        yield
    except DataError as error:
        if getattr(error.__cause__, "sqlstate", None) == _INSUFFICIENT_FUNDS_SQLSTATE:
            raise InsufficientFunds("Not enough funds for this.",
                                    extra={"account_id": error.__cause__.diag.message_detail}) from None
        raise


def _deltas(lines: Iterable[tuple[int, int]], *, sign: str = "all") -> dict[int, int]:
    deltas: dict[int, int] = defaultdict(int)
    for account_id, amount in lines:
        if sign == "debits" and amount >= 0:
            continue
        if sign == "credits" and amount <= 0:
            continue
        deltas[account_id] += amount
    return deltas


# A transfer is ONE statement (prepared: its text never changes per record model):
# - insert the transfer unless its idempotency key exists (ON CONFLICT DO NOTHING: no
#   savepoint; a concurrent insert of the same key waits for that transaction, then yields
#   no row, and then nothing below writes anything);
# - insert its lines, and the caller's `record` (e.g. the Gift) pointing at it;
# - apply the balance deltas (wallet_apply_deltas_or_fail, migrations/0003-0004: account-id
#   order, so no deadlocks; a user account never below zero, else the whole statement fails
#   with SQLSTATE 22W01).
# Being one statement, it is atomic on its own: outside a transaction it commits by itself,
# so the accounts' row locks are held only while it runs (a hot creator's earnings rows are
# the contended ones), not across further round trips and the Python between them.
_TRANSFER_CTE = """
WITH transfer AS (
    INSERT INTO wallet_transfer (id, idempotency_key, kind, status, memo, reverses_id, created_at, resolved_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, created_at
), lines AS (
    INSERT INTO wallet_entry (id, transfer_id, account_id, amount, created_at)
    SELECT line.id, transfer.id, line.account_id, line.amount, transfer.created_at
    FROM transfer, unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS line(id, account_id, amount)
){record_cte}
SELECT transfer.id, CASE WHEN cardinality(%s::bigint[]) = 0 THEN 0
                         ELSE wallet_apply_deltas_or_fail(%s::bigint[], %s::bigint[]) END
FROM transfer
"""
_statements: dict[type[Model] | None, tuple[str, list[Field]]] = {}


def _statement_for(record_model: type[Model] | None) -> tuple[str, list[Field]]:
    """The transfer statement, with an insert of `record_model` (its `transfer` FK set to the
    new transfer) when given; and the record's fields in parameter order."""
    found = _statements.get(record_model)
    if found is None:
        fields: list[Field] = []
        record_cte = ""
        if record_model is not None:
            link = record_model._meta.get_field("transfer")
            fields = [f for f in record_model._meta.concrete_fields if f is not link]
            columns = ", ".join(connection.ops.quote_name(f.column) for f in [*fields, link])
            values = ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields)
            record_cte = (f", record AS (\n    INSERT INTO {connection.ops.quote_name(record_model._meta.db_table)}"
                          f" ({columns})\n    SELECT {values}, transfer.id FROM transfer\n)")
        found = _statements[record_model] = (_TRANSFER_CTE.format(record_cte=record_cte), fields)
    return found


def transfer_post(
    *,
    key: str,
    kind: str,
    lines: Sequence[Line],
    memo: str = "",
    pending: bool = False,
    reverses: Transfer | None = None,
    record: Model | None = None,
) -> Transfer:
    """Record a transfer of `lines` (zero-sum per currency) under idempotency `key`.

    Posted at once, or `pending=True` (debits reserved now, credits on `transfer_post_pending`).
    `record`: an unsaved instance of a model with a `transfer` foreign key (a Gift), saved in
    the same statement pointing at the new transfer (no model signals, like bulk_create).
    Raises Invalid for unbalanced or non-integer lines, InsufficientFunds when a user
    account would go negative, and DuplicateTransfer when `key` was used before (nothing
    is written, `record` included; `.existing` is the first transfer).

    Inside the caller's transaction it adds no savepoint (each one is a round trip on the
    hot path), so a caller that wants to carry on after InsufficientFunds wraps the call in
    its own atomic block. Outside one, the transfer commits by itself (one statement)."""
    _check_lines(lines)
    now = timezone.now()
    status = Transfer.Status.PENDING if pending else Transfer.Status.POSTED
    deltas = [(a, d) for a, d in sorted(_deltas([(line.account.pk, line.amount) for line in lines],
                                                sign="debits" if pending else "all").items()) if d]
    sql, record_fields = _statement_for(type(record) if record is not None else None)
    record_params = []
    if record is not None:
        if record.pk is None:
            raise ValueError("transfer_post(record=...) needs the record's primary key set")
        record_params = [f.get_db_prep_save(f.pre_save(record, True), connection) for f in record_fields]
    params = [
        ids.next_id(), key, kind, status, memo[:200], reverses.pk if reverses else None, now, None if pending else now,
        [ids.next_id() for _ in lines], [line.account.pk for line in lines], [line.amount for line in lines],
        *record_params,
        [a for a, _ in deltas], [a for a, _ in deltas], [d for _, d in deltas],
    ]
    # Inside a transaction: an atomic block without a savepoint (free), so that a failure
    # marks the caller's transaction for rollback the way Django expects.
    with transaction.atomic(savepoint=False) if connection.in_atomic_block else nullcontext():
        with _insufficient_funds_raised():
            rows = execute_prepared(sql, params)
    if not rows:
        raise DuplicateTransfer(Transfer.objects.get(idempotency_key=key))
    transfer = Transfer(
        id=rows[0][0], idempotency_key=key, kind=kind, memo=memo[:200], reverses=reverses, created_at=now,
        status=status, resolved_at=None if pending else now,
    )
    if record is not None:
        record.transfer = transfer
        record._state.adding = False
        record._state.db = connection.alias
    return transfer


def _lock_pending(transfer: Transfer) -> Transfer:
    locked = Transfer.objects.select_for_update().get(pk=transfer.pk)
    if locked.status != Transfer.Status.PENDING:
        raise Conflict(f"The transfer is {locked.status}, not pending.", code="transfer_not_pending")
    return locked


@transaction.atomic
def transfer_post_pending(*, transfer: Transfer) -> Transfer:
    """Post a pending transfer: its credits land. Raises Conflict unless it is pending."""
    locked = _lock_pending(transfer)
    _apply(_deltas(locked.entries.values_list("account_id", "amount"), sign="credits"))
    locked.status = Transfer.Status.POSTED
    locked.resolved_at = timezone.now()
    locked.save(update_fields=["status", "resolved_at"])
    return locked


@transaction.atomic
def transfer_void(*, transfer: Transfer) -> Transfer:
    """Void a pending transfer: its reserved debits are released. Raises Conflict unless pending."""
    locked = _lock_pending(transfer)
    released = {account_id: -amount for account_id, amount in _deltas(locked.entries.values_list("account_id", "amount"), sign="debits").items()}
    _apply(released)
    locked.status = Transfer.Status.VOIDED
    locked.resolved_at = timezone.now()
    locked.save(update_fields=["status", "resolved_at"])
    return locked


@transaction.atomic
def transfer_reverse(*, transfer: Transfer, key: str, memo: str = "") -> Transfer:
    """Undo a posted transfer with a new transfer of the negated lines (entries never change).

    Raises Conflict if it is not posted or already reversed, InsufficientFunds if a user
    account no longer holds what it received."""
    transfer = Transfer.objects.select_for_update().get(pk=transfer.pk)  # one reversal at a time
    if transfer.status != Transfer.Status.POSTED:
        raise Conflict("Only posted transfers can be reversed.")
    if Transfer.objects.filter(reverses=transfer).exists():
        raise Conflict("This transfer was already reversed.")
    lines = [Line(account=entry.account, amount=-entry.amount) for entry in transfer.entries.select_related("account")]
    return transfer_post(
        key=key, kind=Transfer.Kind.REVERSAL, lines=lines, memo=memo or f"reversal of {transfer.pk}", reverses=transfer
    )


# --- Invariants (used by tests, the bench and the admin) -----------------------------------
def invariant_violations() -> list[str]:
    """Every broken ledger invariant, as sentences (empty when the books are right):
    each transfer sums to zero per currency; each balance equals its posted lines plus the
    reserved debits of pending transfers; no user balance is negative."""
    problems: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.transfer_id, a.currency, SUM(e.amount) FROM wallet_entry e
            JOIN wallet_account a ON a.id = e.account_id
            GROUP BY e.transfer_id, a.currency HAVING SUM(e.amount) <> 0
            """
        )
        problems += [f"transfer {t} sums to {s} {c}" for t, c, s in cursor.fetchall()]
        cursor.execute(
            """
            SELECT a.id, a.balance, COALESCE(SUM(e.amount) FILTER (
                WHERE t.status = 'posted' OR (t.status = 'pending' AND e.amount < 0)), 0)
            FROM wallet_account a
            LEFT JOIN wallet_entry e ON e.account_id = a.id
            LEFT JOIN wallet_transfer t ON t.id = e.transfer_id
            GROUP BY a.id, a.balance
            HAVING a.balance <> COALESCE(SUM(e.amount) FILTER (
                WHERE t.status = 'posted' OR (t.status = 'pending' AND e.amount < 0)), 0)
            """
        )
        problems += [f"account {a} balance {b} != lines {s}" for a, b, s in cursor.fetchall()]
        cursor.execute("SELECT id, balance FROM wallet_account WHERE NOT is_platform AND balance < 0")
        problems += [f"user account {a} is negative ({b})" for a, b in cursor.fetchall()]
        # Balances of all accounts sum to zero per currency once no transfer is pending.
        cursor.execute("SELECT COUNT(*) FROM wallet_transfer WHERE status = 'pending'")
        if cursor.fetchone()[0] == 0:
            cursor.execute("SELECT currency, SUM(balance) FROM wallet_account GROUP BY currency HAVING SUM(balance) <> 0")
            problems += [f"balances of {c} sum to {s}" for c, s in cursor.fetchall()]
    return problems
