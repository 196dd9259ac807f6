"""A beat can answer one-value queries along with it: one statement on PostgreSQL (an
UPDATE ... RETURNING), the update and one read on SQLite; the values are those the ORM
gives for the same queries, and a beat whose row has gone registers it again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.health.heartbeats import beat, register
from missedmail.health.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def statements(captured: CaptureQueriesContext) -> list[str]:
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN")
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(control)]


def queries() -> list[QuerySet[Any, Any]]:
    """A datetime, an integer and a query that finds nothing: one-value queries of the
    kinds a caller passes (the worker's are earliest due times)."""
    by_start = WorkerHeartbeat.objects.order_by("started_at")
    return [
        by_start.values_list("started_at", flat=True)[:1],
        WorkerHeartbeat.objects.order_by("-emails_sent").values_list("emails_sent", flat=True)[:1],
        WorkerHeartbeat.objects.filter(name="nobody").values_list("last_seen", flat=True)[:1],
    ]


def test_a_beat_answers_its_queries_in_the_same_statement_on_postgresql(
    clock: ManualClock,
) -> None:
    register("host:1:old", "worker", clock.now() - timedelta(hours=2))
    beat("host:1:old", "worker", clock.now(), emails_sent=7)
    register("host:2:a", "worker", clock.now())
    clock.advance(10)

    with CaptureQueriesContext(connection) as captured:
        values = beat("host:2:a", "worker", clock.now(), emails_sent=3, reading=queries())

    expected = [next(iter(query), None) for query in queries()]  # the ORM's answers
    assert values == expected == [clock.now() - timedelta(hours=2, seconds=10), 7, None]
    assert values[0].tzinfo is not None
    assert len(statements(captured)) == (1 if connection.vendor == "postgresql" else 2)
    heartbeat = WorkerHeartbeat.objects.get(name="host:2:a")
    assert (heartbeat.last_seen, heartbeat.emails_sent) == (clock.now(), 3)


def test_a_beat_without_queries_is_one_update(clock: ManualClock) -> None:
    register("host:1:a", "worker", clock.now())

    with CaptureQueriesContext(connection) as captured:
        assert beat("host:1:a", "worker", clock.now()) == []

    [update] = statements(captured)
    assert update.startswith('UPDATE "health_workerheartbeat"')


def test_a_beat_whose_row_has_gone_registers_again_and_still_answers(
    clock: ManualClock,
) -> None:
    register("host:1:a", "worker", clock.now())
    WorkerHeartbeat.objects.filter(name="host:1:a").delete()  # pruned, or a restored database
    clock.advance(5)

    values = beat("host:1:a", "run", clock.now(), emails_composed=4, reading=queries())

    heartbeat = WorkerHeartbeat.objects.get(name="host:1:a")
    assert (heartbeat.kind, heartbeat.started_at, heartbeat.emails_composed) == (
        "run",
        clock.now(),
        4,
    )
    assert values == [clock.now(), 0, None]
