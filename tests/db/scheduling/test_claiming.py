"""Which due notifications a batcher pass claims: whole users, oldest first, and a share for
the most recently due when a backlog has built up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from django.db import connections, transaction

from missedmail.clock import ManualClock
from missedmail.composing.batch import ComposedBatch, CompositionOptions
from missedmail.outbox.config import OutboxConfig
from missedmail.scheduling.claiming import BEHIND_SECONDS, claim_due_notifications
from missedmail.scheduling.models import ScheduledNotification
from missedmail.worker.batching import BatcherConfig, send_due_batches
from tests.factories import Org, make_org, stream_message

OUTBOX = OutboxConfig(
    from_name="missedmail notifications",
    noreply_email="noreply@example.com",
    gateway_pattern="",
    public_url="http://127.0.0.1:8000",
)


@pytest.fixture
def org() -> Org:
    return make_org()


def pending(org: Org, due_by_user: dict[int, list[datetime]]) -> None:
    """One stream message per row, each user's rows due at the given times."""
    for user_id, times in due_by_user.items():
        for due in times:
            message = stream_message(org.othello, org.denmark, "t", "x", org.everyone)
            ScheduledNotification.objects.create(
                user_id=user_id,
                message_id=message.id,
                trigger="stream_email_notify",
                scheduled_timestamp=due,
                created_at=due,
            )


def claimed_users(now: datetime, limit: int) -> list[int]:
    with transaction.atomic():
        rows = claim_due_notifications(now, limit=limit)
    return list(dict.fromkeys(row.user_id for row in rows))


@pytest.mark.django_db
def test_a_batcher_that_keeps_up_claims_the_oldest_due_users(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    late = [now - timedelta(seconds=BEHIND_SECONDS * share) for share in (0.75, 0.5, 0.25)]
    pending(org, {10: [late[0]], 11: [late[1]], 12: [late[2]]})
    assert claimed_users(now, limit=2) == [10, 11]


@pytest.mark.django_db
def test_behind_a_backlog_half_of_a_pass_goes_to_the_most_recently_due_users(
    org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    late = now - timedelta(seconds=BEHIND_SECONDS + 60)
    pending(
        org,
        {
            10: [late, late],
            11: [late + timedelta(seconds=1)],
            12: [late + timedelta(seconds=2)],
            13: [now - timedelta(seconds=1)],  # fell due while the backlog drains
        },
    )
    users = claimed_users(now, limit=2)
    # The oldest user first, then the freshest; the middle of the backlog waits.
    assert users == [10, 13]


@pytest.mark.django_db
def test_a_pass_over_its_time_budget_leaves_the_users_it_did_not_reach_due(
    org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    pending(org, {10: [now], 11: [now], 12: [now]})
    composed: list[int] = []

    def compose(
        user_id: int, entries: object, options: CompositionOptions, data: object
    ) -> ComposedBatch:
        composed.append(user_id)
        return ComposedBatch(emails=(), skips=())

    config = BatcherConfig(
        composition=CompositionOptions(reply_by_email=False),
        outbox=OUTBOX,
        compose=compose,
        pass_budget_seconds=0.0,  # spent as soon as the first user is done
    )
    result = send_due_batches(now, config)
    assert composed == [10]
    assert result.more_due
    assert result.next_due == now
    assert set(ScheduledNotification.objects.values_list("user_id", flat=True)) == {11, 12}


@pytest.fixture
def other_worker() -> Iterator[object]:
    """A second database connection, as another worker process's pass would hold."""
    other = connections.create_connection("default")
    other.ensure_connection()
    other.set_autocommit(False)
    yield other
    other.rollback()
    other.close()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_user_whose_rows_another_worker_holds_in_part_is_left_for_a_later_pass(
    org: Org, clock: ManualClock, other_worker: object
) -> None:
    now = clock.now()
    pending(org, {10: [now, now], 11: [now]})
    held = ScheduledNotification.objects.filter(user_id=10).order_by("id").first()
    assert held is not None
    with other_worker.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            "SELECT id FROM scheduling_schedulednotification WHERE id = %s FOR UPDATE",
            [held.id],
        )
        # Composing hamlet's other row alone would send his conversation as two emails.
        assert claimed_users(now, limit=10) == [11]
    other_worker.rollback()  # type: ignore[attr-defined]
    assert claimed_users(now, limit=10) == [10, 11]
