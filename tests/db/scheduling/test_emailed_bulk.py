"""The ledger of emailed notifications is written by one raw insert that ignores conflicts
(issue 5: it was a `bulk_create(ignore_conflicts=True)`), storing what the ORM stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.scheduling.emailed import record_emailed
from missedmail.scheduling.models import EmailedNotification, ScheduledNotification

pytestmark = pytest.mark.django_db


def stored(user_id: int, message_id: int) -> tuple[Any, ...]:
    """The row as the database holds it, with each column's storage type on SQLite."""
    table = EmailedNotification._meta.db_table
    selected = "user_id, message_id, emailed_at"
    if connection.vendor == "sqlite":
        selected += ", typeof(user_id), typeof(message_id), typeof(emailed_at)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {selected} FROM {table} WHERE user_id = %s AND message_id = %s",  # noqa: S608
            [user_id, message_id],
        )
        [row] = cursor.fetchall()
    return tuple(row)


def ledger() -> dict[tuple[int, int], Any]:
    return {
        (user_id, message_id): emailed_at
        for user_id, message_id, emailed_at in EmailedNotification.objects.values_list(
            "user_id", "message_id", "emailed_at"
        )
    }


def test_a_row_is_stored_as_the_orm_stores_it(clock: ManualClock) -> None:
    now = clock.now()
    EmailedNotification.objects.bulk_create(
        [EmailedNotification(user_id=10, message_id=1, emailed_at=now)]
    )

    record_emailed([(10, 2)], now)

    (ours, orms) = stored(10, 2), stored(10, 1)
    assert ours == (10, 2, *orms[2:])
    assert ledger() == {(10, 1): now, (10, 2): now}


def test_pairs_already_there_are_left_as_they_are(clock: ManualClock) -> None:
    earlier, now = clock.now() - timedelta(days=1), clock.now()
    record_emailed([(10, 1), (11, 1)], earlier)

    record_emailed([(10, 1), (10, 2), (10, 2), (12, 2**40)], now)

    assert ledger() == {(10, 1): earlier, (11, 1): earlier, (10, 2): now, (12, 2**40): now}


def test_a_conflict_leaves_the_transaction_usable(clock: ManualClock) -> None:
    """On PostgreSQL a failed statement would abort the pass's transaction: a conflict
    must not be one."""
    record_emailed([(10, 1)], clock.now())

    record_emailed([(10, 1)], clock.now())

    assert ScheduledNotification.objects.count() == 0


def test_one_statement_whatever_the_number_of_pairs(clock: ManualClock) -> None:
    """`bulk_create` split the insert on SQLite (999 parameters a statement)."""

    def statements(pairs: list[tuple[int, int]]) -> int:
        with CaptureQueriesContext(connection) as queries:
            record_emailed(pairs, clock.now())
        return len(queries.captured_queries)

    assert statements([]) == 0
    assert statements([(10, 1)]) == 1
    assert statements([(user_id, 7) for user_id in range(2000)]) == 1
    assert len(ledger()) == 2001
