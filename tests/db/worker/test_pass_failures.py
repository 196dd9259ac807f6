"""A pass's bulk reads and writes fail gracefully: a failed preload falls back to reading per
user, a failed bulk write to writing per user, and one user's failure stays theirs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from missedmail.clock import ManualClock
from missedmail.composing.batch import CompositionOptions
from missedmail.composing.data import PreloadedData
from missedmail.composing.entries import NotificationEntry
from missedmail.composing.preload import preload_batches
from missedmail.outbox import enqueue
from missedmail.outbox.drafts import EmailDraft
from missedmail.outbox.models import OutboundEmail
from missedmail.scheduling.models import EmailedNotification, ScheduledNotification
from missedmail.worker import batching
from missedmail.worker.batching import BatcherConfig, send_due_batches
from tests.db.worker.test_pass_queries import OUTBOX, dm, readers, schedule
from tests.factories import Org, make_org

pytestmark = pytest.mark.django_db

CONFIG = BatcherConfig(composition=CompositionOptions(reply_by_email=False), outbox=OUTBOX)


@pytest.fixture
def org() -> Org:
    return make_org()


def failing_query() -> None:
    """A statement the database rejects: on PostgreSQL it aborts the transaction, unless a
    savepoint is rolled back."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT no_such_column FROM no_such_table")


def emailed_users() -> set[int]:
    return set(OutboundEmail.objects.values_list("user_id", flat=True))


def test_a_failed_preload_falls_back_to_reading_per_user(
    org: Org, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_preload(work: dict[int, Sequence[NotificationEntry]]) -> PreloadedData:
        failing_query()
        raise AssertionError("unreachable")

    monkeypatch.setattr(batching, "preload_batches", broken_preload)
    people = readers(org, 1000, 3)
    schedule([dm(org, reader) for reader in people], clock.now())

    result = send_due_batches(clock.now(), CONFIG)

    assert (result.users, result.emails, result.failed_users) == (3, 3, 0)
    assert emailed_users() == {reader.id for reader in people}
    assert ScheduledNotification.objects.count() == 0


def test_when_the_bulk_write_fails_each_user_is_written_alone(
    org: Org, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox refuses one user's email: the others' are written, theirs is retried."""
    people = readers(org, 1000, 3)
    refused = people[1].id
    real_enqueue = enqueue.enqueue_drafts

    def enqueue_refusing(drafts: Sequence[EmailDraft], **options: Any) -> list[OutboundEmail]:
        if any(draft.user_id == refused for draft in drafts):
            failing_query()
        return real_enqueue(drafts, **options)

    monkeypatch.setattr(batching, "enqueue_drafts", enqueue_refusing)
    schedule([dm(org, reader) for reader in people], clock.now())
    now = clock.now() + timedelta(seconds=1)

    result = send_due_batches(now, CONFIG)

    assert (result.users, result.emails, result.failed_users) == (2, 2, 1)
    assert emailed_users() == {people[0].id, people[2].id}
    assert set(EmailedNotification.objects.values_list("user_id", flat=True)) == {
        people[0].id,
        people[2].id,
    }
    row = ScheduledNotification.objects.get()
    assert (row.user_id, row.compose_failures) == (refused, 1)
    assert row.scheduled_timestamp == now + timedelta(seconds=batching.COMPOSE_RETRY_BASE_SECONDS)


def test_a_request_the_preload_did_not_foresee_is_read_directly(
    org: Org, clock: ManualClock
) -> None:
    reader = readers(org, 1000, 1)[0]
    user_id, message_id, _, _ = dm(org, reader)
    data = preload_batches({})

    assert data.reader(user_id) == reader
    assert set(data.messages([message_id])) == {message_id}
    assert data.misses == 2


def test_due_times_are_kept_per_user(org: Org, clock: ManualClock) -> None:
    """Users due at different times: each email keeps its own user's due time."""
    people = readers(org, 1000, 3)
    base = clock.now()
    for n, reader in enumerate(people):
        schedule([dm(org, reader)], base + timedelta(seconds=n))

    send_due_batches(base + timedelta(seconds=10), CONFIG)

    due: dict[int, datetime] = dict(OutboundEmail.objects.values_list("user_id", "due_at"))
    assert due == {reader.id: base + timedelta(seconds=n) for n, reader in enumerate(people)}
