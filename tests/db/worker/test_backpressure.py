"""Backpressure: while a drain lasts, the batcher composes no further ahead of the senders
than ROUNDS_AHEAD_PER_SENDER rounds of ready emails per sender; it looks again shortly, and
goes on as soon as the senders have caught up. A single batch falling due is never held."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.conf import settings as django_settings

from missedmail.clock import ManualClock
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.outbox.transports import MemoryTransport
from missedmail.scheduling.models import ScheduledNotification
from missedmail.worker.service import (
    BACKPRESSURE_POLL,
    ROUNDS_AHEAD_PER_SENDER,
    WorkerOptions,
    WorkerService,
)
from tests.db.worker.test_pass_queries import dm, readers, schedule
from tests.factories import Org, make_org
from tests.outbox_helpers import make_draft, outbox_config

pytestmark = pytest.mark.django_db

SENDER_BATCH = 2  # one sender (the memory transport): the cap is 2 rounds of 2 emails
CAP = ROUNDS_AHEAD_PER_SENDER * SENDER_BATCH


@pytest.fixture
def org() -> Org:
    return make_org()


@pytest.fixture
def worker(clock: ManualClock) -> WorkerService:
    # Not started: the test drives the batcher's step itself.
    return WorkerService(
        replace(django_settings.MISSEDMAIL, amqp_url=None),
        clock,
        MemoryTransport(),
        WorkerOptions(heartbeat_seconds=3600, sender_batch=SENDER_BATCH, max_rows_per_pass=2),
    )


def queue_ready_emails(clock: ManualClock, count: int) -> None:
    drafts = [make_draft(to_email=f"queued{n}@example.com") for n in range(count)]
    enqueue_drafts(drafts, due_at=clock.now(), now=clock.now(), config=outbox_config())


def test_a_drain_waits_while_the_senders_are_behind_and_resumes_once_they_caught_up(
    org: Org, clock: ManualClock, worker: WorkerService
) -> None:
    schedule([dm(org, reader) for reader in readers(org, 500, 6)], clock.now())
    assert len(worker.senders) == 1

    # The first pass of a drain: it leaves due rows behind (2 of 6 rows per pass).
    assert worker._batch_step(clock.now()) == clock.now()
    assert ScheduledNotification.objects.count() == 4

    queue_ready_emails(clock, CAP - OutboundEmail.objects.count())
    assert worker._batch_step(clock.now()) == clock.now() + BACKPRESSURE_POLL
    assert ScheduledNotification.objects.count() == 4  # nothing claimed meanwhile

    OutboundEmail.objects.filter(id=OutboundEmail.objects.order_by("id")[0].id).update(
        status=EmailStatus.SENT
    )  # the senders sent one: under the cap
    assert worker._batch_step(clock.now()) == clock.now()
    assert ScheduledNotification.objects.count() == 2


def test_emails_not_yet_ready_do_not_hold_the_batcher(
    org: Org, clock: ManualClock, worker: WorkerService
) -> None:
    schedule([dm(org, reader) for reader in readers(org, 500, 6)], clock.now())
    worker._batch_step(clock.now())
    queue_ready_emails(clock, CAP)
    OutboundEmail.objects.update(next_attempt_at=clock.now() + timedelta(minutes=5))  # retries

    worker._batch_step(clock.now())

    assert ScheduledNotification.objects.count() == 2


def test_a_batch_falling_due_outside_a_drain_is_composed_whatever_the_outbox_holds(
    org: Org, clock: ManualClock, worker: WorkerService
) -> None:
    queue_ready_emails(clock, 3 * CAP)
    schedule([dm(org, reader) for reader in readers(org, 500, 1)], clock.now())

    worker._batch_step(clock.now())

    assert ScheduledNotification.objects.count() == 0
