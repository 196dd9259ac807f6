"""A (user, message) already emailed is never scheduled again (contract §1, "nothing twice").

The case this guards: the broker redelivers events whose batch has already been emailed (a
worker killed between its commit and its ack; the ack lost with its connection), or the
host publishes the same event twice. The scheduled row is gone by then, so only the ledger
written with the email can tell.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.composing.batch import CompositionOptions
from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.models import OutboundEmail
from missedmail.scheduling.emailed import EMAILED_RETENTION, forget_emailed, record_emailed
from missedmail.scheduling.ingest import (
    ALREADY_EMAILED,
    IngestResult,
    raw_events_from_objects,
    schedule_events,
)
from missedmail.scheduling.models import (
    EmailedNotification,
    EventSource,
    NotificationSkip,
    ScheduledNotification,
)
from missedmail.skips import SkipReason
from missedmail.worker.batching import BatcherConfig, send_due_batches
from tests.factories import Org, direct_message, make_org, stream_message

pytestmark = pytest.mark.django_db

CONFIG = BatcherConfig(
    composition=CompositionOptions(reply_by_email=False),
    outbox=OutboxConfig(
        from_name="missedmail notifications",
        noreply_email="noreply@example.com",
        gateway_pattern="",
        public_url="http://127.0.0.1:8000",
    ),
)


@pytest.fixture
def org() -> Org:
    return make_org()


def schedule(clock: ManualClock, *events: tuple[int, int, str]) -> IngestResult:
    objects = [{"user_profile_id": u, "message_id": m, "trigger": t} for u, m, t in events]
    return schedule_events(
        raw_events_from_objects(objects), source=EventSource.QUEUE, now=clock.now()
    )


def send_due(clock: ManualClock) -> None:
    clock.advance(121)
    send_due_batches(clock.now(), CONFIG)


def test_an_event_redelivered_after_its_email_was_enqueued_is_a_duplicate(
    org: Org, clock: ManualClock
) -> None:
    dm = direct_message(org.othello, [org.hamlet], "one")
    topic = stream_message(org.iago, org.denmark, "test", "two", [org.hamlet, org.iago])
    events = ((org.hamlet.id, dm.id, "private_message"), (org.hamlet.id, topic.id, "mentioned"))
    schedule(clock, *events)
    send_due(clock)
    assert OutboundEmail.objects.count() == 2

    again = schedule(clock, *events)

    assert [(o.status, o.reason, o.scheduled_timestamp) for o in again.outcomes] == [
        ("duplicate", ALREADY_EMAILED, None),
        ("duplicate", ALREADY_EMAILED, None),
    ]
    assert not ScheduledNotification.objects.exists()
    send_due(clock)
    assert OutboundEmail.objects.count() == 2


def test_only_the_emailed_pairs_are_duplicates(org: Org, clock: ManualClock) -> None:
    """The same message for another recipient, and another message for the same user, are
    new notifications."""
    topic = stream_message(org.iago, org.denmark, "test", "one", [org.hamlet, org.othello])
    later = stream_message(org.iago, org.denmark, "test", "two", [org.hamlet, org.othello])
    schedule(clock, (org.hamlet.id, topic.id, "mentioned"))
    send_due(clock)

    outcomes = schedule(
        clock,
        (org.othello.id, topic.id, "mentioned"),
        (org.hamlet.id, later.id, "mentioned"),
        (org.hamlet.id, topic.id, "mentioned"),
    ).outcomes

    assert [o.status for o in outcomes] == ["scheduled", "scheduled", "duplicate"]


def test_a_skipped_notification_is_not_in_the_ledger(org: Org, clock: ManualClock) -> None:
    """Only emails make a repeat a duplicate: a message skipped as read and later scheduled
    again is judged afresh (and skipped again while it is still read)."""
    dm = direct_message(org.othello, [org.hamlet], "one", flags={org.hamlet.id: ["read"]})
    schedule(clock, (org.hamlet.id, dm.id, "private_message"))
    send_due(clock)
    assert not EmailedNotification.objects.exists()

    assert [
        o.status for o in schedule(clock, (org.hamlet.id, dm.id, "private_message")).outcomes
    ] == ["scheduled"]
    send_due(clock)
    assert OutboundEmail.objects.count() == 0
    assert list(NotificationSkip.objects.values_list("reason", flat=True)) == [
        SkipReason.READ,
        SkipReason.READ,
    ]


def test_the_pass_writes_the_ledger_in_the_transaction_that_enqueues_the_email(
    org: Org, clock: ManualClock
) -> None:
    dm = direct_message(org.othello, [org.hamlet], "one")
    schedule(clock, (org.hamlet.id, dm.id, "private_message"))
    send_due(clock)

    email = OutboundEmail.objects.get()
    ledger = EmailedNotification.objects.get()
    assert (ledger.user_id, ledger.message_id) == (org.hamlet.id, dm.id)
    assert email.message_ids == [dm.id]
    assert ledger.emailed_at == email.created_at


def test_ingest_reads_the_ledger_in_one_query_whatever_the_batch_size(
    org: Org, clock: ManualClock
) -> None:
    def ledger_queries(count: int) -> int:
        messages = [direct_message(org.othello, [org.hamlet], str(n)) for n in range(count)]
        with CaptureQueriesContext(connection) as queries:
            schedule(clock, *((org.hamlet.id, m.id, "private_message") for m in messages))
        return sum('"scheduling_emailednotification"' in q["sql"] for q in queries.captured_queries)

    assert ledger_queries(1) == ledger_queries(40) == 1


def test_the_ledger_forgets_after_its_retention(org: Org, clock: ManualClock) -> None:
    old = direct_message(org.othello, [org.hamlet], "old")
    recent = direct_message(org.othello, [org.hamlet], "recent")
    start = clock.now()
    record_emailed([(org.hamlet.id, old.id)], start)
    record_emailed([(org.hamlet.id, recent.id)], start + timedelta(days=1))
    pair = (org.hamlet.id, recent.id)
    record_emailed([pair, pair], start + timedelta(days=2))  # already there: no-op

    assert forget_emailed(start + EMAILED_RETENTION) == 0  # exactly the retention: kept
    assert forget_emailed(start + EMAILED_RETENTION + timedelta(seconds=1)) == 1

    assert list(EmailedNotification.objects.values_list("message_id", "emailed_at")) == [
        (recent.id, start + timedelta(days=1))
    ]
    assert [
        o.status for o in schedule(clock, (org.hamlet.id, old.id, "private_message")).outcomes
    ] == ["scheduled"]
