"""On PostgreSQL the outbox's MIME bodies are compressed with lz4 (migration 0004): cheaper
than the default pglz for the same size. (Bodies read back byte for byte: the sender tests
compare what the SMTP server received with what was stored.)"""

from __future__ import annotations

import pytest
from django.db import connection

from missedmail.outbox.models import OutboundEmail

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db]


def test_the_mime_column_is_compressed_with_lz4() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = 'mime'",
            [OutboundEmail._meta.db_table],
        )
        [(method,)] = cursor.fetchall()

    assert method == "l"
