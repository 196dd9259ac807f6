"""Fewer indexes on the outbox, and the claim's index in the claim's order.

Every status change of an outbox row (queued, then sending, then sent) is a new row
version that goes into every index: the status is in the partial indexes' conditions, so
no update is HOT. Measured on PostgreSQL 15 over a dispatch drain, an email was written to
23 index entries; three of those indexes nothing reads:

- `user_id`'s own index: `email_user_recent` (user, created_at) leads with the same column;
- `realm_id`'s own index: nothing reads the outbox by realm;
- the `varchar_pattern_ops` copy PostgreSQL gets for a `unique=True` CharField, for LIKE
  searches on the Message-ID that nothing makes. The uniqueness stays: the field's UNIQUE
  becomes a UniqueConstraint of the same name, in the state only, so the database keeps
  the index it has (no rebuild of the largest index of the table).

`email_ready` gains the id, the claim's tie-break (sender.py, `_SELECT_READY`): an index in
the claim's order lets a claim read its first `limit` entries and stop, where it sorted
every ready row.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models
from django.db.models import Q

# The name Django gave the LIKE index in 0001 (a hash of the table and column names).
_LIKE_INDEX = "outbox_outboundemail_message_id_header_e1a092bb_like"


def _drop_like_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(_LIKE_INDEX)}")


def _create_like_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(_LIKE_INDEX)} "
            'ON "outbox_outboundemail" ("message_id_header" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [("outbox", "0004_mime_lz4")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(_drop_like_index, _create_like_index)],
            state_operations=[
                migrations.AlterField(
                    model_name="outboundemail",
                    name="message_id_header",
                    field=models.CharField(max_length=255),
                ),
                migrations.AddConstraint(
                    model_name="outboundemail",
                    constraint=models.UniqueConstraint(
                        fields=("message_id_header",),
                        name="outbox_outboundemail_message_id_header_key",
                    ),
                ),
            ],
        ),
        migrations.AlterField(
            model_name="outboundemail",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=models.deletion.CASCADE,
                related_name="+",
                to="core.userprofile",
            ),
        ),
        migrations.AlterField(
            model_name="outboundemail",
            name="realm",
            field=models.ForeignKey(
                db_index=False,
                on_delete=models.deletion.CASCADE,
                related_name="+",
                to="core.realm",
            ),
        ),
        migrations.RemoveIndex(model_name="outboundemail", name="email_ready"),
        migrations.AddIndex(
            model_name="outboundemail",
            index=models.Index(
                condition=Q(status__in=["queued", "retrying"]),
                fields=["next_attempt_at", "id"],
                name="email_ready",
            ),
        ),
    ]
