"""One batcher pass: claim, compose, enqueue, record skips, delete — in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from missedmail.clock import ManualClock
from missedmail.composing.batch import (
    BatchData,
    ComposedBatch,
    CompositionOptions,
    NotificationEntry,
    compose_user_batch,
)
from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.models import OutboundEmail
from missedmail.scheduling.ingest import raw_events_from_objects, schedule_events
from missedmail.scheduling.models import EventSource, NotificationSkip, ScheduledNotification
from missedmail.worker.batching import (
    MAX_COMPOSE_FAILURES,
    BatcherConfig,
    Composer,
    send_due_batches,
)
from tests.factories import Org, direct_message, make_org, stream_message

pytestmark = pytest.mark.django_db

OUTBOX = OutboxConfig(
    from_name="missedmail notifications",
    noreply_email="noreply@example.com",
    gateway_pattern="",
    public_url="http://127.0.0.1:8000",
)
CONFIG = BatcherConfig(composition=CompositionOptions(reply_by_email=False), outbox=OUTBOX)


@pytest.fixture
def org() -> Org:
    return make_org()


def schedule(clock: ManualClock, *events: tuple[int, int, str]) -> None:
    objects = [{"user_profile_id": u, "message_id": m, "trigger": t} for u, m, t in events]
    schedule_events(raw_events_from_objects(objects), source=EventSource.API, now=clock.now())


def subjects(user_id: int) -> list[str]:
    return list(
        OutboundEmail.objects.filter(user_id=user_id)
        .order_by("id")
        .values_list("subject", flat=True)
    )


def test_a_pass_sends_only_due_batches_and_deletes_exactly_what_it_sent(
    org: Org, clock: ManualClock
) -> None:
    """Behaviour §7, first example."""
    m1 = direct_message(org.othello, [org.hamlet], "one")
    m2 = stream_message(org.iago, org.denmark, "test", "two", [org.hamlet, org.othello, org.iago])
    m3 = direct_message(org.iago, [org.hamlet], "four")
    t0 = clock.now()
    schedule(
        clock,
        (10, m1.id, "direct_message"),
        (10, m2.id, "stream_email_notify"),
        (11, m2.id, "stream_email_notify"),
    )
    clock.advance(3)
    schedule(clock, (10, m3.id, "direct_message"))
    assert set(ScheduledNotification.objects.values_list("scheduled_timestamp", flat=True)) == {
        t0 + timedelta(seconds=120)
    }

    early = send_due_batches(t0 + timedelta(seconds=60), CONFIG)
    assert (early.users, early.emails) == (0, 0)
    assert early.next_due == t0 + timedelta(seconds=120)
    assert ScheduledNotification.objects.count() == 4

    late = send_due_batches(t0 + timedelta(seconds=180), CONFIG)
    assert (late.users, late.emails) == (2, 4)
    assert ScheduledNotification.objects.count() == 0
    assert late.next_due is None
    assert subjects(10) == [
        "DMs with Othello, the Moor of Venice",
        "#Denmark > test",
        "DMs with Iago",
    ]
    assert subjects(11) == ["#Denmark > test"]
    emails = OutboundEmail.objects.filter(user_id=10)
    assert {e.due_at for e in emails} == {t0 + timedelta(seconds=120)}
    assert {e.status for e in emails} == {"queued"}


def test_read_messages_are_recorded_as_skipped_and_not_emailed(
    org: Org, clock: ManualClock
) -> None:
    m = stream_message(
        org.iago, org.denmark, "test", "hi", [org.hamlet, org.iago], flags={10: ["read"]}
    )
    schedule(clock, (10, m.id, "stream_email_notify"))
    result = send_due_batches(clock.now() + timedelta(hours=1), CONFIG)
    assert result.emails == 0
    assert list(NotificationSkip.objects.values_list("user_id", "message_ids", "reason")) == [
        (10, [m.id], "read")
    ]
    assert ScheduledNotification.objects.count() == 0


def test_staging_records_each_batch_as_skipped_and_enqueues_nothing(
    org: Org, clock: ManualClock
) -> None:
    m = direct_message(org.othello, [org.hamlet], "hi")
    schedule(clock, (10, m.id, "direct_message"))
    config = BatcherConfig(composition=CONFIG.composition, outbox=OUTBOX, staging=True)
    send_due_batches(clock.now() + timedelta(hours=1), config)
    assert OutboundEmail.objects.count() == 0
    assert list(NotificationSkip.objects.values_list("message_ids", "reason")) == [
        ([m.id], "staging")
    ]
    assert ScheduledNotification.objects.count() == 0


def failing_for(user_id: int) -> Composer:
    def compose(
        uid: int, entries: Sequence[NotificationEntry], options: CompositionOptions, data: BatchData
    ) -> ComposedBatch:
        if uid == user_id:
            raise RuntimeError("composition exploded")
        return compose_user_batch(uid, entries, options, data)

    return compose


def test_one_users_failure_does_not_affect_another_and_is_retried_later(
    org: Org, clock: ManualClock
) -> None:
    m = stream_message(org.iago, org.denmark, "test", "hi", [org.hamlet, org.othello, org.iago])
    schedule(clock, (10, m.id, "stream_email_notify"), (11, m.id, "stream_email_notify"))
    config = BatcherConfig(composition=CONFIG.composition, outbox=OUTBOX, compose=failing_for(10))
    now = clock.now() + timedelta(seconds=120)
    result = send_due_batches(now, config)
    assert (result.users, result.failed_users, result.emails) == (1, 1, 1)
    assert subjects(11) == ["#Denmark > test"]
    row = ScheduledNotification.objects.get()
    assert (row.user_id, row.compose_failures) == (10, 1)
    assert row.scheduled_timestamp == now + timedelta(seconds=60)
    assert result.next_due == now + timedelta(seconds=60)


def test_a_batch_that_keeps_failing_is_given_up_with_a_recorded_reason(
    org: Org, clock: ManualClock
) -> None:
    m = direct_message(org.othello, [org.hamlet], "hi")
    schedule(clock, (10, m.id, "direct_message"))
    config = BatcherConfig(composition=CONFIG.composition, outbox=OUTBOX, compose=failing_for(10))
    for _ in range(MAX_COMPOSE_FAILURES):
        clock.advance(7200)
        send_due_batches(clock.now(), config)
    assert ScheduledNotification.objects.count() == 0
    assert list(NotificationSkip.objects.values_list("message_ids", "reason")) == [
        ([m.id], "compose_failed")
    ]


def test_a_bounded_pass_takes_whole_users_and_asks_to_run_again(
    org: Org, clock: ManualClock
) -> None:
    messages = [
        direct_message(org.othello, [org.hamlet, org.iago, org.cordelia], f"m{n}") for n in range(3)
    ]
    schedule(clock, *[(uid, m.id, "direct_message") for m in messages for uid in (10, 12, 13)])
    config = BatcherConfig(composition=CONFIG.composition, outbox=OUTBOX, max_rows_per_pass=2)
    now = clock.now() + timedelta(seconds=121)
    first = send_due_batches(now, config)
    # The first two rows by due time belong to users 10 and 12: all six of their rows go.
    assert first.more_due
    assert first.next_due == now
    assert first.claimed_rows == 6
    assert set(OutboundEmail.objects.values_list("user_id", flat=True)) == {10, 12}
    second = send_due_batches(now, config)
    assert second.claimed_rows == 3
    assert OutboundEmail.objects.filter(user_id=13).count() == 1
    assert ScheduledNotification.objects.count() == 0
