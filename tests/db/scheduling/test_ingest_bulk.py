"""Ingest's raw-SQL bulk path (scheduling/ingest.py, core/bulk.py): what the ORM used to
guarantee and must still hold, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.core import bulk
from missedmail.events import MAX_ID
from missedmail.scheduling.ingest import IngestResult, raw_events_from_objects, schedule_events
from missedmail.scheduling.models import EventSource, RejectedEvent, ScheduledNotification
from tests.factories import Org, direct_message, make_org, make_user, stream_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Org:
    return make_org()


def schedule(clock: ManualClock, *events: tuple[int, int, str]) -> IngestResult:
    objects = [{"user_profile_id": u, "message_id": m, "trigger": t} for u, m, t in events]
    return schedule_events(
        raw_events_from_objects(objects), source=EventSource.QUEUE, now=clock.now()
    )


def test_ids_at_the_ends_of_the_range_are_rejected_as_unknown_not_a_crash(
    org: Org, clock: ManualClock
) -> None:
    dm = direct_message(org.othello, [org.hamlet], "one")

    result = schedule(
        clock,
        (MAX_ID, dm.id, "private_message"),
        (org.hamlet.id, MAX_ID, "private_message"),
        (1, 1, "private_message"),
        (org.hamlet.id, dm.id, "private_message"),
    )

    assert [(o.status, o.field) for o in result.outcomes] == [
        ("rejected", "user_profile_id"),
        ("rejected", "message_id"),
        ("rejected", "user_profile_id"),
        ("scheduled", None),
    ]
    assert list(RejectedEvent.objects.order_by("id").values_list("user_id", "message_id")) == [
        (MAX_ID, dm.id),
        (org.hamlet.id, MAX_ID),
        (1, 1),
    ]


def test_a_redelivered_batch_reports_the_stored_due_times_to_the_microsecond(
    org: Org, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 28, 10, 0, 0, 123457, tzinfo=UTC))
    topic = stream_message(org.iago, org.denmark, "test", "hi", [org.hamlet, org.othello])
    events = ((org.hamlet.id, topic.id, "mentioned"), (org.othello.id, topic.id, "mentioned"))
    first = schedule(clock, *events)
    clock.advance(7)

    again = schedule(clock, *events)

    due = clock.now() - timedelta(seconds=7) + timedelta(seconds=120)
    assert [o.scheduled_timestamp for o in first.outcomes] == [due, due]
    assert [(o.status, o.scheduled_timestamp) for o in again.outcomes] == [
        ("duplicate", due),
        ("duplicate", due),
    ]
    assert all(o.scheduled_timestamp.tzinfo is not None for o in again.outcomes)  # type: ignore[union-attr]
    assert ScheduledNotification.objects.count() == 2


def test_a_later_event_joins_the_pending_batch_read_back_from_the_database(
    org: Org, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 28, 23, 59, 59, 999999, tzinfo=UTC))
    one = direct_message(org.othello, [org.hamlet], "one")
    two = direct_message(org.othello, [org.hamlet], "two")
    schedule(clock, (org.hamlet.id, one.id, "private_message"))
    due = clock.now() + timedelta(seconds=120)
    clock.advance(30)

    result = schedule(clock, (org.hamlet.id, two.id, "private_message"))

    assert [(o.status, o.scheduled_timestamp) for o in result.outcomes] == [("scheduled", due)]
    assert result.earliest_new_due is None
    assert set(ScheduledNotification.objects.values_list("scheduled_timestamp", flat=True)) == {due}


def test_a_batch_costs_the_same_queries_whatever_its_size(org: Org, clock: ManualClock) -> None:
    """New users and users with pending batches, many messages: the query count is fixed."""
    realm = org.realm
    users = [make_user(realm, 100 + n, f"User {n}", f"user{n}@example.com") for n in range(20)]

    def queries(count: int, offset: int) -> int:
        pairs = []
        for n in range(count):
            user = users[(offset + n) % len(users)]
            message = direct_message(org.othello, [user], f"message {offset + n}")
            pairs.append((user.id, message.id, "private_message"))
        with CaptureQueriesContext(connection) as captured:
            result = schedule(clock, *pairs)
        assert {o.status for o in result.outcomes} == {"scheduled"}
        return len(captured.captured_queries)

    assert queries(1, 0) == queries(40, 1) == queries(40, 41)


def test_bulk_inserts_fail_as_django_errors(org: Org, clock: ManualClock) -> None:
    """A duplicate key in a bulk insert (COPY on PostgreSQL) is an IntegrityError, as it was
    from bulk_create: the worker's fallbacks and the API's 409 depend on the type."""
    dm = direct_message(org.othello, [org.hamlet], "one")
    row = (org.hamlet.id, dm.id, "direct_message", None, clock.now(), clock.now(), 0)
    fields = (
        "user",
        "message",
        "trigger",
        "mentioned_user_group",
        "scheduled_timestamp",
        "created_at",
        "compose_failures",
    )
    bulk.insert_rows(ScheduledNotification, fields, [row])

    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_rows(ScheduledNotification, fields, [row])

    stored = ScheduledNotification.objects.get()
    assert (stored.scheduled_timestamp, stored.created_at) == (clock.now(), clock.now())


def test_sql_ids_render_only_integers() -> None:
    assert bulk.sql_ids([1, MAX_ID, 42]) == f"1,{MAX_ID},42"
    assert bulk.sql_pairs([(1, 2), (3, MAX_ID)]) == f"(1,2),(3,{MAX_ID})"
    with pytest.raises(TypeError):
        bulk.sql_ids(["1) OR (1=1"])  # type: ignore[list-item]
