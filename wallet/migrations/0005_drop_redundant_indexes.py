"""Indexes a gift maintained for no reader (each gift writes a transfer, five entries and a gift row):

- wallet_entry.account_id and wallet_gift.creator_id alone: the composite indexes
  (account, -id) and (creator, -id) serve every lookup by them, foreign-key checks included;
- the `_like` (varchar_pattern_ops) index Django adds next to a unique CharField's: nothing
  searches idempotency keys by prefix; the unique index stays.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('wallet', '0004_apply_deltas_or_fail'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The model state says db_index=False; the indexes are dropped by name (Django 5.2 plans
    # this AlterField on a foreign key as a no-op in the database).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="entry",
                    name="account",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name="entries", to="wallet.account"),
                ),
                migrations.AlterField(
                    model_name="gift",
                    name="creator",
                    field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                            related_name="gifts_received", to=settings.AUTH_USER_MODEL),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS wallet_entry_account_id_0bb0fd0f;"
                    " DROP INDEX IF EXISTS wallet_gift_creator_id_f0c3e2ad;"
                    " DROP INDEX IF EXISTS wallet_transfer_idempotency_key_aa8eb135_like",
                    "CREATE INDEX IF NOT EXISTS wallet_entry_account_id_0bb0fd0f ON wallet_entry (account_id);"
                    " CREATE INDEX IF NOT EXISTS wallet_gift_creator_id_f0c3e2ad ON wallet_gift (creator_id);"
                    " CREATE INDEX IF NOT EXISTS wallet_transfer_idempotency_key_aa8eb135_like"
                    " ON wallet_transfer (idempotency_key varchar_pattern_ops)",
                ),
            ],
        ),
    ]
