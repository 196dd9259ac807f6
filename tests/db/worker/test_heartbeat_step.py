"""The worker's heartbeat step: one statement per beat on PostgreSQL (the beat, the earliest
pending notification, the outbox's next ready time and lease expiry), and the loops woken
at the times it read -- work other processes created is found without any NOTIFY."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.events import Trigger
from missedmail.health import heartbeats
from missedmail.health.models import WorkerHeartbeat
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.sender import claim_ready
from missedmail.outbox.transports import MemoryTransport
from missedmail.scheduling.models import ScheduledNotification
from missedmail.worker.loop import WakeableLoop
from missedmail.worker.service import FORGET_EMAILED_EVERY, WorkerOptions, WorkerService
from tests.factories import Org, direct_message, make_org
from tests.outbox_helpers import make_draft, outbox_config

pytestmark = pytest.mark.django_db


class Wakes:
    def __init__(self) -> None:
        self.at: list[datetime | None] = []

    def __call__(self, at: datetime | None = None) -> None:
        self.at.append(at)


@pytest.fixture
def org() -> Org:
    return make_org()


@pytest.fixture
def worker(clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> WorkerService:
    """A worker whose threads are not started: the test runs its heartbeat step, and
    records the wake-ups it asks of the batcher and the senders."""
    service = WorkerService(
        replace(django_settings.MISSEDMAIL, amqp_url=None),
        clock,
        MemoryTransport(),
        WorkerOptions(heartbeat_seconds=3600),
    )
    for loop in (service.batcher, *service.senders):
        monkeypatch.setattr(loop, "wake", Wakes())
    # As `start()` leaves them: the heartbeat registered, the emailed ledger just pruned.
    heartbeats.register(service.name, "worker", clock.now())
    service.emailed_forgotten_at = clock.now()
    return service


def wakes(loop: WakeableLoop) -> list[datetime | None]:
    recorder = loop.wake
    assert isinstance(recorder, Wakes)
    return recorder.at


def statements(captured: CaptureQueriesContext) -> list[str]:
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN")
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(control)]


def test_a_beat_finds_the_work_of_other_processes_in_one_statement(
    org: Org, clock: ManualClock, worker: WorkerService
) -> None:
    start = clock.now()
    message = direct_message(org.othello, [org.hamlet], "hello")
    ScheduledNotification.objects.create(
        user=org.hamlet,
        message=message,
        trigger=Trigger.DIRECT_MESSAGE,
        scheduled_timestamp=start + timedelta(seconds=90),
        created_at=start,
    )
    config = outbox_config()
    enqueue_drafts([make_draft()], due_at=start, now=start, config=config)
    claim_ready(start, limit=1, lease_seconds=60, owner="elsewhere")  # leased until +60 s
    enqueue_drafts([make_draft()], due_at=start, now=start + timedelta(seconds=30), config=config)
    clock.advance(10)

    with CaptureQueriesContext(connection) as captured:
        assert worker._heartbeat_step(clock.now()) is None

    assert len(statements(captured)) == (1 if connection.vendor == "postgresql" else 2)
    assert wakes(worker.batcher) == [start + timedelta(seconds=90)]
    # The queued email is ready at +30 s, before the lease of the claimed one ends.
    assert all(wakes(sender) == [start + timedelta(seconds=30)] for sender in worker.senders)
    assert WorkerHeartbeat.objects.get(name=worker.name).last_seen == clock.now()


def test_a_lease_ending_first_wakes_the_senders_then(
    org: Org, clock: ManualClock, worker: WorkerService
) -> None:
    start = clock.now()
    enqueue_drafts([make_draft()], due_at=start, now=start, config=outbox_config())
    claim_ready(start, limit=1, lease_seconds=60, owner="died")

    worker._heartbeat_step(clock.now())

    assert wakes(worker.batcher) == []
    assert wakes(worker.sender) == [start + timedelta(seconds=60)]


def test_an_idle_beat_wakes_nothing_and_registers_a_lost_row(
    org: Org, clock: ManualClock, worker: WorkerService
) -> None:
    WorkerHeartbeat.objects.all().delete()  # pruned, or a restored database
    clock.advance(10)

    worker._heartbeat_step(clock.now())

    assert WorkerHeartbeat.objects.get(name=worker.name).started_at == clock.now()
    assert wakes(worker.batcher) == []
    assert all(wakes(sender) == [] for sender in worker.senders)


def test_the_emailed_ledger_is_pruned_on_the_first_beat_after_an_hour(
    org: Org, clock: ManualClock, worker: WorkerService
) -> None:
    clock.advance(FORGET_EMAILED_EVERY.total_seconds() - 1)
    with CaptureQueriesContext(connection) as before:
        worker._heartbeat_step(clock.now())
    clock.advance(1)
    with CaptureQueriesContext(connection) as after:
        worker._heartbeat_step(clock.now())

    assert not any("scheduling_emailednotification" in sql for sql in statements(before))
    assert any("scheduling_emailednotification" in sql for sql in statements(after))
    assert worker.emailed_forgotten_at == clock.now()
