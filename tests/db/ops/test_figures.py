from __future__ import annotations

from datetime import timedelta

import pytest

from missedmail.clock import ManualClock
from missedmail.health.heartbeats import mark_stopped, register
from missedmail.ops.figures import status_figures
from missedmail.outbox.models import EmailStatus
from missedmail.scheduling.models import EventSource, NotificationSkip, RejectedEvent
from missedmail.skips import SkipReason
from tests.db.ops.rows import outbound_email, scheduled
from tests.factories import Org

pytestmark = pytest.mark.django_db


def test_an_empty_database_has_every_figure_at_zero(clock: ManualClock) -> None:
    figures = status_figures(clock.now())

    assert figures.pending == 0
    assert figures.due == 0
    assert figures.oldest_due_seconds is None
    assert figures.outbox == {status.value: 0 for status in EmailStatus}
    assert figures.skipped == 0
    assert figures.skipped_by_reason == {reason.value: 0 for reason in SkipReason}
    assert figures.rejected == 0
    assert figures.workers == 0


def test_due_counts_only_rows_whose_time_has_come_and_pending_counts_all(
    org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    scheduled(org, org.hamlet, now - timedelta(seconds=90))
    scheduled(org, org.othello, now)
    scheduled(org, org.hamlet, now + timedelta(seconds=1))
    scheduled(org, org.cordelia, now + timedelta(minutes=5))

    figures = status_figures(now)

    assert figures.pending == 4
    assert figures.due == 2
    assert figures.oldest_due_seconds == 90


def test_oldest_due_is_none_while_every_row_is_in_the_future(org: Org, clock: ManualClock) -> None:
    scheduled(org, org.hamlet, clock.now() + timedelta(seconds=30))

    assert status_figures(clock.now()).oldest_due_seconds is None


def test_outbox_is_counted_by_state_with_empty_states_at_zero(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    for _ in range(3):
        outbound_email(org.hamlet, EmailStatus.SENT, now)
    outbound_email(org.othello, EmailStatus.QUEUED, now)
    outbound_email(org.iago, EmailStatus.FAILED, now)
    outbound_email(org.iago, EmailStatus.SENDING, now)

    figures = status_figures(now)

    assert figures.outbox == {
        "queued": 1,
        "sending": 1,
        "sent": 3,
        "retrying": 0,
        "failed": 1,
    }


def test_skipped_counts_notifications_not_skip_records(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    NotificationSkip.objects.create(user=org.hamlet, message_ids=[1, 2, 3], reason="read", at=now)
    NotificationSkip.objects.create(user=org.othello, message_ids=[4], reason="read", at=now)
    NotificationSkip.objects.create(
        user=org.iago, message_ids=[5, 6], reason=SkipReason.USER_DEACTIVATED, at=now
    )

    figures = status_figures(now)

    assert figures.skipped == 6
    assert figures.skipped_by_reason["read"] == 4
    assert figures.skipped_by_reason["user_deactivated"] == 2
    assert figures.skipped_by_reason["deleted"] == 0


def test_rejected_counts_rejected_event_records(clock: ManualClock) -> None:
    for source in (EventSource.QUEUE, EventSource.API):
        RejectedEvent.objects.create(
            received_at=clock.now(), source=source, payload="{}", reason="missing field"
        )

    assert status_figures(clock.now()).rejected == 2


def test_workers_counts_only_fresh_heartbeats_of_running_workers(clock: ManualClock) -> None:
    register("host:1:a", "worker", clock.now() - timedelta(minutes=5))
    register("host:2:b", "worker", clock.now())
    register("host:3:c", "worker", clock.now())
    mark_stopped("host:3:c", clock.now())

    assert status_figures(clock.now()).workers == 1


def test_the_json_has_the_keys_the_status_command_promises(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    scheduled(org, org.hamlet, now - timedelta(seconds=5))
    outbound_email(org.hamlet, EmailStatus.SENT, now)

    document = status_figures(now).to_json()

    assert {"pending", "due", "outbox", "skipped", "rejected"} <= document.keys()
    assert document["pending"] == 1
    assert document["due"] == 1
    assert document["outbox"] == {"queued": 0, "sending": 0, "sent": 1, "retrying": 0, "failed": 0}
    assert document["skipped"] == 0
    assert document["rejected"] == 0
