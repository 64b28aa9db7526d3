"""One round trip for a transfer's balance updates: `wallet_apply_deltas(ids, deltas)` adds
each delta in account-id order (so concurrent transfers never deadlock) with the same
conditional UPDATE as before (a user account never goes below zero), and returns the id
of the first account that refused, or 0 when all were applied."""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION wallet_apply_deltas(ids bigint[], deltas bigint[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer;
BEGIN
    FOR r IN SELECT u.id, u.delta FROM unnest(ids, deltas) AS u(id, delta) ORDER BY u.id LOOP
        UPDATE wallet_account SET balance = balance + r.delta
        WHERE id = r.id AND (is_platform OR balance + r.delta >= 0);
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n <> 1 THEN
            RETURN r.id;
        END IF;
    END LOOP;
    RETURN 0;
END $$;
"""

BACKWARD = "DROP FUNCTION IF EXISTS wallet_apply_deltas(bigint[], bigint[]);"


class Migration(migrations.Migration):
    dependencies = [("wallet", "0002_ledger_guards")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
