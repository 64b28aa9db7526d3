"""`wallet_apply_deltas_or_fail(ids, deltas)`: wallet_apply_deltas (0003), but a refused
delta aborts the statement with SQLSTATE 22W01 (a data exception: "insufficient funds",
DETAIL = the refusing account's id) instead of returning its id.

Why: a transfer is one statement (wallet/ledger.py). When it fails as a whole, nothing it
did survives even without a surrounding transaction, so a gift can run in autocommit and
hold its rows' locks only while that statement runs, not across further round trips."""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION wallet_apply_deltas_or_fail(ids bigint[], deltas bigint[]) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    refused bigint;
BEGIN
    refused := wallet_apply_deltas(ids, deltas);
    IF refused <> 0 THEN
        RAISE EXCEPTION 'insufficient funds on account %', refused USING ERRCODE = '22W01', DETAIL = refused::text;
    END IF;
    RETURN cardinality(ids);
END $$;
"""

BACKWARD = "DROP FUNCTION IF EXISTS wallet_apply_deltas_or_fail(bigint[], bigint[]);"


class Migration(migrations.Migration):
    dependencies = [("wallet", "0003_apply_deltas_function")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
