"""Ledger guarantees that live in Postgres, so no code path (or raw SQL) can break them.

1. Zero-sum: a DEFERRABLE INITIALLY DEFERRED constraint trigger on wallet_entry checks, at
   commit, that the entries of each touched transfer sum to zero per currency (the
   currency is the account's). Deferred, because a transfer's lines are inserted one by
   one (or in one multi-row INSERT) and only the whole set must balance.
2. Immutable entries: UPDATE and DELETE on wallet_entry raise.
3. Transfers: only `status`/`resolved_at` may change, and only pending → posted | voided;
   transfers are never deleted.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION wallet_entry_zero_sum() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT a.currency, SUM(e.amount) AS total INTO bad
    FROM wallet_entry e JOIN wallet_account a ON a.id = e.account_id
    WHERE e.transfer_id = NEW.transfer_id
    GROUP BY a.currency HAVING SUM(e.amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'wallet: transfer % does not sum to zero (% %)', NEW.transfer_id, bad.total, bad.currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER wallet_entry_zero_sum
    AFTER INSERT ON wallet_entry DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallet_entry_zero_sum();

CREATE FUNCTION wallet_entry_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'wallet: ledger entries are immutable (% refused); post a reversing transfer', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER wallet_entry_immutable
    BEFORE UPDATE OR DELETE ON wallet_entry
    FOR EACH ROW EXECUTE FUNCTION wallet_entry_immutable();

CREATE FUNCTION wallet_transfer_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'wallet: transfers are never deleted' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.idempotency_key <> OLD.idempotency_key OR NEW.kind <> OLD.kind
       OR NEW.reverses_id IS DISTINCT FROM OLD.reverses_id OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'wallet: only a transfer''s status may change' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.status <> OLD.status AND NOT (OLD.status = 'pending' AND NEW.status IN ('posted', 'voided')) THEN
        RAISE EXCEPTION 'wallet: transfer status % -> % is not allowed', OLD.status, NEW.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER wallet_transfer_guard
    BEFORE UPDATE OR DELETE ON wallet_transfer
    FOR EACH ROW EXECUTE FUNCTION wallet_transfer_guard();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS wallet_transfer_guard ON wallet_transfer;
DROP FUNCTION IF EXISTS wallet_transfer_guard();
DROP TRIGGER IF EXISTS wallet_entry_immutable ON wallet_entry;
DROP FUNCTION IF EXISTS wallet_entry_immutable();
DROP TRIGGER IF EXISTS wallet_entry_zero_sum ON wallet_entry;
DROP FUNCTION IF EXISTS wallet_entry_zero_sum();
"""


class Migration(migrations.Migration):
    dependencies = [("wallet", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
