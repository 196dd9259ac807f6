"""The worker's threads together: ingest wakes the batcher, the batcher wakes the sender."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta

import pytest
from django.conf import settings as django_settings

from missedmail.clock import ManualClock
from missedmail.outbox.models import OutboundEmail
from missedmail.outbox.transports import MemoryTransport
from missedmail.scheduling.models import RejectedEvent, ScheduledNotification
from missedmail.worker.service import WorkerOptions, WorkerService
from tests.factories import Org, direct_message, make_org

pytestmark = pytest.mark.django_db(transaction=True)


class SignallingTransport(MemoryTransport):
    """The in-memory transport, plus a condition the test can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def send(
        self, envelope_from: str, recipients: Sequence[str], message_bytes: bytes, *, email_id: int
    ) -> str:
        try:
            return super().send(envelope_from, recipients, message_bytes, email_id=email_id)
        finally:
            with self.changed:
                self.changed.notify_all()

    def wait_for_sent(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.sent) >= count, timeout=30), len(
                self.sent
            )


@pytest.fixture
def org() -> Org:
    return make_org()


@pytest.fixture
def service(clock: ManualClock) -> Iterator[tuple[WorkerService, SignallingTransport]]:
    transport = SignallingTransport()
    worker = WorkerService(
        replace(django_settings.MISSEDMAIL, amqp_url=None),
        clock,
        transport,
        WorkerOptions(heartbeat_seconds=3600),
    )
    worker.start()
    yield worker, transport
    worker.stop()


def test_an_event_from_the_queue_is_sent_when_its_batch_falls_due(
    org: Org, clock: ManualClock, service: tuple[WorkerService, SignallingTransport]
) -> None:
    worker, transport = service
    message = direct_message(org.othello, [org.hamlet], "hello")
    body = json.dumps(
        {"user_profile_id": 10, "message_id": message.id, "trigger": "private_message"}
    )
    worker.handle_queue_batch([body.encode(), b"\xff not json"])

    assert ScheduledNotification.objects.get().scheduled_timestamp == clock.now() + timedelta(
        seconds=120
    )
    assert RejectedEvent.objects.get().reason.startswith("event: body is not UTF-8")
    assert transport.sent == []

    clock.advance(120)
    worker.batcher.wake()  # the real loop would wake at the due time by itself
    transport.wait_for_sent(1)
    email = OutboundEmail.objects.get()
    assert email.subject == "DMs with Othello, the Moor of Venice"
    assert transport.sent[0].recipients == ("hamlet@example.com",)
    assert ScheduledNotification.objects.count() == 0


def test_stop_returns_promptly_with_work_planned_far_ahead(
    org: Org, clock: ManualClock, service: tuple[WorkerService, SignallingTransport]
) -> None:
    worker, _ = service
    message = direct_message(org.othello, [org.hamlet], "later")
    body = json.dumps(
        {"user_profile_id": 10, "message_id": message.id, "trigger": "direct_message"}
    )
    worker.handle_queue_batch([body.encode()])
    worker.stop()  # the fixture stops it again: stop must be idempotent
    assert not worker.batcher.is_alive
    assert not worker.sender.is_alive
