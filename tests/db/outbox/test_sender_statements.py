"""What a sender round asks of the database, and when: the claim is a fixed pair of
statements whatever the round's size, and each email's outcome is stored, atomically and
committed, before the next email is sent -- so a crash at any moment repeats at most the
email in flight (docs/reliability.md), and every statement is counted here."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import AttemptOutcome, DeliveryAttempt, EmailStatus, OutboundEmail
from missedmail.outbox.retry import RetryPolicy
from missedmail.outbox.sender import claim_ready, deliver, next_wake_at, send_once
from missedmail.outbox.transports import MemoryTransport
from tests.factories import Org, make_org
from tests.outbox_helpers import make_draft, outbox_config

LEASE_SECONDS = 60.0


@pytest.fixture
def org() -> Org:
    return make_org()


def queue(clock: ManualClock, count: int) -> list[OutboundEmail]:
    drafts = [make_draft(to_email=f"reader{n}@example.com") for n in range(count)]
    return enqueue_drafts(drafts, due_at=clock.now(), now=clock.now(), config=outbox_config())


def statements(captured: CaptureQueriesContext) -> list[str]:
    """The statements run, without transaction control (a test's own transaction turns
    `atomic` into savepoints; SQLite's BEGIN IMMEDIATE is logged, PostgreSQL's is not)."""
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN")
    return [
        query["sql"] for query in captured.captured_queries if not query["sql"].startswith(control)
    ]


def per_email() -> int:
    # PostgreSQL: the update and the attempt's insert are one statement; SQLite: two, in
    # one transaction (SQLite runs in this process: there is no round trip to save).
    return 1 if connection.vendor == "postgresql" else 2


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 7, 40])
def test_a_claim_is_two_statements_whatever_its_size(
    org: Org, clock: ManualClock, count: int
) -> None:
    queue(clock, count)

    with CaptureQueriesContext(connection) as captured:
        claimed = claim_ready(clock.now(), limit=50, lease_seconds=LEASE_SECONDS, owner="a")

    assert len(claimed) == count
    select, update = statements(captured)
    assert "FOR UPDATE" in select or connection.vendor == "sqlite"
    assert update.startswith('UPDATE "outbox_outboundemail"')
    assert (
        OutboundEmail.objects.filter(status=EmailStatus.SENDING, lease_owner="a").count() == count
    )


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 11])
def test_a_round_stores_each_outcome_with_a_fixed_number_of_statements(
    org: Org, clock: ManualClock, count: int
) -> None:
    """Invariant: claim (2) + per email (1 on PostgreSQL, 2 on SQLite), whatever the
    outcomes: sent, retrying and failed all cost the same."""
    queue(clock, count)
    transport = MemoryTransport()
    transport.fail_next(1, recipient="reader0@example.com")
    transport.fail_next(1, permanent=True, recipient="reader1@example.com")

    with CaptureQueriesContext(connection) as captured:
        report = send_once(clock.now(), transport, owner="a", clock=clock, rng=random.Random(1))

    assert len(statements(captured)) == 2 + per_email() * count
    assert (report.count(EmailStatus.RETRYING), report.count(EmailStatus.FAILED)) == (1, 1)
    assert report.count(EmailStatus.SENT) == count - 2
    assert DeliveryAttempt.objects.count() == count


class InspectingTransport(MemoryTransport):
    """At each send, what the database already holds about the emails sent before, and
    whether a transaction is open (nobody may wait on our locks during SMTP)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, list[str], int, bool]] = []

    def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        message_bytes: bytes,
        *,
        email_id: int,
    ) -> str:
        statuses = list(
            OutboundEmail.objects.exclude(id=email_id)
            .order_by("id")
            .values_list("status", flat=True)
        )
        self.seen.append(
            (email_id, statuses, DeliveryAttempt.objects.count(), connection.in_atomic_block)
        )
        return super().send(envelope_from, recipients, message_bytes, email_id=email_id)


@pytest.mark.django_db(transaction=True)
def test_every_outcome_is_committed_before_the_next_email_is_sent(
    org: Org, clock: ManualClock
) -> None:
    """Invariant: when email k goes out, emails 1..k-1 are stored `sent` with their attempt
    record, committed (no transaction is open): a crash during email k repeats only k."""
    emails = queue(clock, 5)
    transport = InspectingTransport()

    send_once(clock.now(), transport, owner="a", clock=clock)

    for position, (email_id, statuses, attempts, in_transaction) in enumerate(transport.seen):
        assert email_id == emails[position].id
        assert statuses[:position] == [EmailStatus.SENT] * position
        assert statuses[position:] == [EmailStatus.SENDING] * (len(emails) - 1 - position)
        assert attempts == position
        assert not in_transaction
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {EmailStatus.SENT}


@pytest.mark.django_db
def test_stored_outcomes_match_what_the_instances_say(org: Org, clock: ManualClock) -> None:
    """The SQL that stores an outcome writes exactly what the returned emails hold."""
    sent, retrying, failed = queue(clock, 3)
    transport = MemoryTransport()
    transport.fail_next(1, code=451, response="451 4.3.0 busy", recipient="reader1@example.com")
    transport.fail_next(1, permanent=True, response="550 no", recipient="reader2@example.com")
    claimed = claim_ready(clock.now(), limit=10, lease_seconds=LEASE_SECONDS, owner="a")
    clock.advance(3)

    deliver(claimed, transport, clock=clock, policy=RetryPolicy(), rng=random.Random(2))

    fields = (
        "status",
        "attempts",
        "last_response",
        "lease_expires_at",
        "lease_owner",
        "sent_at",
        "next_attempt_at",
        "updated_at",
    )
    for email in claimed:
        stored = OutboundEmail.objects.get(id=email.id)
        assert [getattr(stored, f) for f in fields] == [getattr(email, f) for f in fields]
    assert OutboundEmail.objects.get(id=sent.id).sent_at == clock.now()
    assert OutboundEmail.objects.get(id=retrying.id).next_attempt_at > clock.now()
    assert OutboundEmail.objects.get(id=failed.id).last_response == "550 no"
    attempts = list(
        DeliveryAttempt.objects.order_by("email_id").values_list(
            "email_id", "number", "started_at", "finished_at", "outcome", "response"
        )
    )
    assert attempts == [
        (
            sent.id,
            1,
            clock.now(),
            clock.now(),
            AttemptOutcome.SENT,
            "250 2.0.0 Ok: queued as memory-1",
        ),
        (retrying.id, 1, clock.now(), clock.now(), AttemptOutcome.TRANSIENT, "451 4.3.0 busy"),
        (failed.id, 1, clock.now(), clock.now(), AttemptOutcome.PERMANENT, "550 no"),
    ]


@pytest.mark.django_db
def test_a_claimed_email_holds_what_delivery_reads_and_writes(org: Org, clock: ManualClock) -> None:
    """The claim reads the row's state and what sending needs with the locking read:
    reading them later costs no statement (only the content is left deferred)."""
    [queued] = queue(clock, 1)
    [email] = claim_ready(clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner="a")
    state = (
        "id",
        "user_id",
        "to_address",
        "envelope_from",
        "mime",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_expires_at",
        "lease_owner",
        "claimed_at",
        "last_response",
        "due_at",
        "sent_at",
        "updated_at",
    )

    with CaptureQueriesContext(connection) as captured:
        values = {name: getattr(email, name) for name in state}

    assert captured.captured_queries == []
    stored = OutboundEmail.objects.get(id=queued.id)
    assert values == {name: getattr(stored, name) for name in state}
    assert bytes(values["mime"]) == bytes(queued.mime)


@pytest.mark.django_db
@pytest.mark.parametrize("leased", [False, True])
def test_the_next_wake_up_time_is_one_statement(org: Org, clock: ManualClock, leased: bool) -> None:
    """Both answers -- the earliest ready time, the earliest lease expiry -- are read by
    one statement, and come back as the times they are."""
    queue(clock, 1)
    if leased:
        claim_ready(clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner="a")

    with CaptureQueriesContext(connection) as captured:
        wake_at = next_wake_at()

    assert len(statements(captured)) == 1
    assert wake_at == clock.now() + timedelta(seconds=LEASE_SECONDS if leased else 0)
