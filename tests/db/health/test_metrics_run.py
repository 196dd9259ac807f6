"""The metrics after a scripted run: events in, a batch composed, emails delivered through an
in-memory transport that fails once — each counter and histogram moved by what happened.

The worker's steps are called one by one, as the worker's threads call them: the consumer
callback (`handle_queue_batch`), one batcher pass, then sender rounds followed by
`observe_deliveries`, which the sender thread calls with each round's outcomes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from missedmail.clock import ManualClock
from missedmail.health.metrics import observe_deliveries, process_totals
from missedmail.outbox.sender import send_once
from missedmail.outbox.transports import MemoryTransport
from missedmail.worker.batching import send_due_batches
from missedmail.worker.service import WorkerService
from tests.factories import Org, direct_message, make_org, stream_message

# transaction=True: the consumer callback checks its connection as the worker does, which a
# test wrapped in a transaction would see as unusable.
pytestmark = pytest.mark.django_db(transaction=True)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Client) -> Samples:
    text = client.get("/metrics").content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@dataclass
class Run:
    before: Samples
    after: Samples
    totals_before: tuple[int, int]
    totals_after: tuple[int, int]

    def delta(self, name: str, **labels: str) -> float:
        return value(self.after, name, **labels) - value(self.before, name, **labels)


@pytest.fixture
def org() -> Org:
    return make_org()


@pytest.fixture
def run(client: Client, org: Org, clock: ManualClock) -> Run:
    before, totals_before = scrape(client), process_totals()
    transport = MemoryTransport()
    worker = WorkerService(replace(django_settings.MISSEDMAIL, amqp_url=None), clock, transport)
    dm = direct_message(org.othello, [org.hamlet], "hello")
    read = stream_message(
        org.iago, org.denmark, "test", "hi", [org.iago, org.hamlet], flags={10: ["read"]}
    )
    mention = stream_message(org.iago, org.denmark, "plans", "hi", [org.iago, org.othello])
    events = [
        {"user_profile_id": 10, "message_id": dm.id, "trigger": "direct_message"},
        {"user_profile_id": 10, "message_id": read.id, "trigger": "stream_email_notify"},
        {"user_profile_id": 11, "message_id": mention.id, "trigger": "mentioned"},
    ]
    worker.handle_queue_batch([json.dumps(event).encode() for event in events] + [b"{}"])

    clock.advance(121)
    send_due_batches(clock.now(), worker.batcher_config)
    transport.fail_next(1, recipient="hamlet@example.com")  # a 451: retried later
    clock.advance(1)
    observe_deliveries(send_once(clock.now(), transport, owner="t", clock=clock).outcomes)
    clock.advance(1800)  # past any retry delay (at most 10 min)
    observe_deliveries(send_once(clock.now(), transport, owner="t", clock=clock).outcomes)

    return Run(before, scrape(client), totals_before, process_totals())


def test_events_consumed_rejected_and_scheduled_are_counted(run: Run) -> None:
    assert run.delta("missedmail_events_consumed_total") == 4
    assert run.delta("missedmail_events_rejected_total", source="queue") == 1
    assert run.delta("missedmail_events_rejected_total", source="api") == 0
    assert run.delta("missedmail_notifications_scheduled_total") == 3


def test_batches_emails_and_skips_are_counted(run: Run) -> None:
    assert run.delta("missedmail_batch_size_count") == 2  # hamlet's batch and othello's
    assert run.delta("missedmail_batch_size_sum") == 3
    assert run.delta("missedmail_emails_composed_total") == 2
    assert run.delta("missedmail_notifications_skipped_total", reason="read") == 1
    assert run.delta("missedmail_notifications_skipped_total", reason="deleted") == 0


def test_deliveries_retries_and_their_latencies_are_counted(run: Run) -> None:
    assert run.delta("missedmail_emails_sent_total") == 2
    assert run.delta("missedmail_email_retries_total") == 1
    assert run.delta("missedmail_emails_failed_total") == 0
    assert run.delta("missedmail_smtp_seconds_count") == 3  # every attempt, failed or not
    assert run.delta("missedmail_due_to_sent_seconds_count") == 2
    # Othello's email left 2 s after its batch fell due, Hamlet's (retried) half an hour later.
    assert run.delta("missedmail_due_to_sent_seconds_bucket", le="1.0") == 0
    assert run.delta("missedmail_due_to_sent_seconds_bucket", le="2.0") == 1
    assert run.delta("missedmail_due_to_sent_seconds_bucket", le="900.0") == 1
    assert run.delta("missedmail_due_to_sent_seconds_bucket", le="3600.0") == 2
    assert run.delta("missedmail_due_to_sent_seconds_bucket", le="+Inf") == 2


def test_the_gauges_describe_the_database_after_the_run(run: Run) -> None:
    assert value(run.after, "missedmail_pending_notifications") == 0
    assert value(run.after, "missedmail_due_notifications") == 0
    assert value(run.after, "missedmail_outbox_emails", status="retrying") == 0
    assert value(run.after, "missedmail_database_up") == 1


def test_the_process_totals_for_the_heartbeat_follow_the_counters(run: Run) -> None:
    composed, sent = (
        after - before for after, before in zip(run.totals_after, run.totals_before, strict=True)
    )

    assert (composed, sent) == (2, 2)


def test_a_superseded_outcome_counts_its_attempt_but_not_an_outcome(
    client: Client, clock: ManualClock
) -> None:
    @dataclass(frozen=True)
    class Outcome:
        status: str
        started_at: datetime
        finished_at: datetime
        due_at: datetime
        recorded: bool

    now = clock.now()
    before = scrape(client)

    observe_deliveries([Outcome("failed", now, now + timedelta(seconds=2), now, recorded=False)])

    after = scrape(client)
    assert (
        value(after, "missedmail_smtp_seconds_count")
        - value(before, "missedmail_smtp_seconds_count")
        == 1
    )
    assert value(after, "missedmail_emails_failed_total") == value(
        before, "missedmail_emails_failed_total"
    )
