from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

import pytest

from missedmail.clock import ManualClock
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import AttemptOutcome, DeliveryAttempt, EmailStatus, OutboundEmail
from missedmail.outbox.retry import RetryPolicy
from missedmail.outbox.sender import (
    claim_ready,
    deliver,
    next_wake_at,
    requeue_failed,
    send_once,
)
from missedmail.outbox.transports import MemoryTransport
from tests.factories import Org, make_org
from tests.outbox_helpers import make_draft, outbox_config

pytestmark = pytest.mark.django_db

LEASE_SECONDS = 60.0


@pytest.fixture
def org() -> Org:
    return make_org()


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


def queue(clock: ManualClock, *users: tuple[int, str]) -> list[OutboundEmail]:
    """One queued email per (user id, address), created now."""
    drafts = [
        make_draft(user_id=user_id, to_email=address, subject=f"secret topic {user_id}")
        for user_id, address in users or [(10, "hamlet@example.com")]
    ]
    return enqueue_drafts(drafts, due_at=clock.now(), now=clock.now(), config=outbox_config())


def run_round(
    clock: ManualClock,
    transport: MemoryTransport,
    *,
    owner: str = "sender-a",
    policy: RetryPolicy | None = None,
) -> int:
    report = send_once(
        clock.now(),
        transport,
        owner=owner,
        clock=clock,
        lease_seconds=LEASE_SECONDS,
        policy=policy or RetryPolicy(),
        rng=random.Random(1),
    )
    return report.claimed


def attempts_of(email: OutboundEmail) -> list[tuple[int, str]]:
    return list(
        DeliveryAttempt.objects.filter(email=email).order_by("id").values_list("number", "outcome")
    )


def test_a_queued_email_is_sent_and_its_delivery_recorded(
    org: Org, clock: ManualClock, transport: MemoryTransport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="missedmail.outbox")
    [email] = queue(clock)

    report = send_once(clock.now(), transport, owner="sender-a", clock=clock)

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.sent_at == clock.now()
    assert email.last_response.startswith("250 ")
    assert (email.attempts, email.lease_expires_at, email.lease_owner) == (1, None, "")
    assert attempts_of(email) == [(1, AttemptOutcome.SENT)]
    [sent] = transport.sent
    assert sent.message_bytes == bytes(email.mime)
    assert (sent.envelope_from, sent.recipients) == (email.envelope_from, ("hamlet@example.com",))
    assert report.claimed == 1
    assert report.count(EmailStatus.SENT) == 1
    assert f"action=email_sent email_id={email.id} user_id=10 attempt=1" in caplog.text
    assert "secret topic" not in caplog.text
    assert "hamlet@example.com" not in caplog.text


def test_a_transient_failure_is_retried_after_a_backoff_then_sent(
    org: Org, clock: ManualClock, transport: MemoryTransport
) -> None:
    [email] = queue(clock)
    transport.fail_next(1, code=451, response="451 4.3.0 mailbox busy")

    run_round(clock, transport)

    email.refresh_from_db()
    failed_at = clock.now()
    assert email.status == EmailStatus.RETRYING
    assert email.last_response == "451 4.3.0 mailbox busy"
    assert failed_at <= email.next_attempt_at <= failed_at + timedelta(seconds=30)
    assert next_wake_at() == email.next_attempt_at

    clock.set(email.next_attempt_at - timedelta(microseconds=1))
    assert run_round(clock, transport) == 0  # not yet

    clock.set(email.next_attempt_at)
    assert run_round(clock, transport) == 1
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.attempts == 2
    assert attempts_of(email) == [(1, AttemptOutcome.TRANSIENT), (2, AttemptOutcome.SENT)]


def test_every_attempt_sends_the_same_bytes_and_message_id(
    org: Org, clock: ManualClock, transport: MemoryTransport
) -> None:
    [email] = queue(clock)
    transport.fail_next(2)

    for _ in range(3):
        clock.advance(600)
        run_round(clock, transport)

    assert len(transport.attempts) == 3
    assert {attempt.message_bytes for attempt in transport.attempts} == {bytes(email.mime)}
    assert {attempt.parsed()["Message-ID"] for attempt in transport.attempts} == {
        email.message_id_header
    }


def test_a_permanent_failure_fails_the_email_at_once_with_the_server_response(
    org: Org, clock: ManualClock, transport: MemoryTransport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="missedmail.outbox")
    [email] = queue(clock)
    transport.fail_next(1, permanent=True, code=550, response="550 5.1.1 <hamlet@example.com>: no")

    run_round(clock, transport)

    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert email.last_response == "550 5.1.1 <hamlet@example.com>: no"
    assert attempts_of(email) == [(1, AttemptOutcome.PERMANENT)]
    assert next_wake_at() is None
    assert f"action=email_failed email_id={email.id} user_id=10 attempt=1 code=550" in caplog.text
    assert "hamlet@example.com" not in caplog.text


def test_an_email_that_keeps_failing_transiently_fails_when_attempts_run_out(
    org: Org, clock: ManualClock, transport: MemoryTransport
) -> None:
    [email] = queue(clock)
    transport.fail_next(100)
    policy = RetryPolicy(base_delay_seconds=10, max_delay_seconds=40, max_attempts=4)

    rounds = 0
    while (wake := next_wake_at()) is not None:
        clock.set(max(wake, clock.now()))
        run_round(clock, transport, policy=policy)
        rounds += 1
        assert rounds <= 4

    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert email.attempts == 4
    assert [outcome for _, outcome in attempts_of(email)] == [AttemptOutcome.TRANSIENT] * 4
    assert not transport.sent


def test_one_recipients_failure_does_not_hold_up_the_others(
    org: Org, clock: ManualClock, transport: MemoryTransport
) -> None:
    _hamlet, _othello, iago = queue(
        clock, (10, "hamlet@example.com"), (11, "othello@example.com"), (12, "iago@example.com")
    )
    transport.fail_next(1, recipient="hamlet@example.com")
    transport.fail_next(1, permanent=True, recipient="othello@example.com")

    run_round(clock, transport)

    statuses = {e.user_id: e.status for e in OutboundEmail.objects.all()}
    assert statuses == {10: EmailStatus.RETRYING, 11: EmailStatus.FAILED, 12: EmailStatus.SENT}
    assert [sent.email_id for sent in transport.sent] == [iago.id]


class BrokenTransport(MemoryTransport):
    """A transport with a bug for one recipient: it raises something unexpected."""

    def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        message_bytes: bytes,
        *,
        email_id: int,
    ) -> str:
        if "hamlet@example.com" in recipients:
            raise RuntimeError("bug quoting the message: secret topic")
        return super().send(envelope_from, recipients, message_bytes, email_id=email_id)


def test_a_transport_bug_is_a_transient_failure_of_that_email_only(
    org: Org, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    hamlet, iago = queue(clock, (10, "hamlet@example.com"), (12, "iago@example.com"))
    transport = BrokenTransport()

    run_round(clock, transport)

    hamlet.refresh_from_db()
    iago.refresh_from_db()
    assert hamlet.status == EmailStatus.RETRYING
    assert hamlet.last_response == "internal error: RuntimeError"
    assert iago.status == EmailStatus.SENT
    assert "action=transport_error" in caplog.text
    assert "secret topic" not in caplog.text


def test_claiming_takes_the_oldest_ready_emails_up_to_the_limit(
    org: Org, clock: ManualClock
) -> None:
    first = queue(clock, (10, "hamlet@example.com"))
    clock.advance(1)
    second = queue(clock, (11, "othello@example.com"), (12, "iago@example.com"))

    claimed = claim_ready(clock.now(), limit=2, lease_seconds=LEASE_SECONDS, owner="a")

    assert [email.id for email in claimed] == [first[0].id, second[0].id]
    assert all(email.status == EmailStatus.SENDING for email in claimed)
    stored = OutboundEmail.objects.get(id=first[0].id)
    assert stored.status == EmailStatus.SENDING
    assert stored.attempts == 1
    assert stored.lease_owner == "a"
    assert stored.lease_expires_at == clock.now() + timedelta(seconds=LEASE_SECONDS)


def test_emails_ready_at_the_same_time_are_claimed_in_the_order_they_were_queued(
    org: Org, clock: ManualClock
) -> None:
    emails = queue(clock, *[(10, f"reader{n}@example.com") for n in range(5)])

    first = claim_ready(clock.now(), limit=2, lease_seconds=LEASE_SECONDS, owner="a")
    second = claim_ready(clock.now(), limit=2, lease_seconds=LEASE_SECONDS, owner="b")

    assert [email.id for email in first + second] == [email.id for email in emails[:4]]


def test_an_email_whose_sender_died_is_claimed_before_emails_ready_earlier(
    org: Org, clock: ManualClock
) -> None:
    """The claim takes expired leases first, then ready emails for the rest of its limit
    (each part read in order from its own index): an email whose lease ran out has waited
    a whole lease already."""
    [lost] = queue(clock, (10, "hamlet@example.com"))
    claim_ready(clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner="dead")
    [ready] = queue(clock, (11, "othello@example.com"))
    OutboundEmail.objects.filter(id=ready.id).update(
        next_attempt_at=clock.now() - timedelta(hours=1)
    )
    clock.advance(LEASE_SECONDS)

    [first] = claim_ready(clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner="b")
    [then] = claim_ready(clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner="b")

    assert (first.id, first.attempts) == (lost.id, 2)
    assert (then.id, then.attempts) == (ready.id, 1)


def test_an_email_claimed_by_a_live_sender_is_not_claimed_again(
    org: Org, clock: ManualClock
) -> None:
    queue(clock)
    claim_ready(clock.now(), limit=10, lease_seconds=LEASE_SECONDS, owner="a")

    clock.advance(LEASE_SECONDS - 1)
    assert claim_ready(clock.now(), limit=10, lease_seconds=LEASE_SECONDS, owner="b") == []


def test_the_email_of_a_sender_that_died_is_claimed_again_after_its_lease(
    org: Org, clock: ManualClock, transport: MemoryTransport
) -> None:
    [email] = queue(clock)
    claim_ready(clock.now(), limit=10, lease_seconds=LEASE_SECONDS, owner="dead")  # then died
    assert next_wake_at() == clock.now() + timedelta(seconds=LEASE_SECONDS)

    clock.advance(LEASE_SECONDS)
    [again] = claim_ready(clock.now(), limit=10, lease_seconds=LEASE_SECONDS, owner="b")
    deliver([again], transport, clock=clock)

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.attempts == 2
    assert attempts_of(email) == [(1, AttemptOutcome.LOST), (2, AttemptOutcome.SENT)]
    assert [sent.parsed()["Message-ID"] for sent in transport.sent] == [email.message_id_header]


def test_an_email_whose_last_allowed_attempt_was_lost_is_failed_not_retried(
    org: Org, clock: ManualClock
) -> None:
    [email] = queue(clock)
    for owner in ("a", "b"):
        claim_ready(clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner=owner, max_attempts=2)
        clock.advance(LEASE_SECONDS)

    assert claim_ready(clock.now(), limit=1, lease_seconds=60, owner="c", max_attempts=2) == []
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert email.last_response.startswith("outcome unknown")
    assert attempts_of(email) == [(1, AttemptOutcome.LOST), (2, AttemptOutcome.LOST)]


def test_a_sender_whose_lease_ran_out_before_the_send_does_not_send(
    org: Org, clock: ManualClock, transport: MemoryTransport
) -> None:
    [email] = queue(clock)
    claimed = claim_ready(clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner="a")
    clock.advance(LEASE_SECONDS)

    report = deliver(claimed, transport, clock=clock)

    assert report.lease_lost == 1
    assert transport.attempts == []
    email.refresh_from_db()
    assert email.status == EmailStatus.SENDING  # for the next claim to take over


class TakeoverTransport(MemoryTransport):
    """A server so slow that our lease runs out and sender "b" takes the email over while
    we wait for the reply."""

    def __init__(self, clock: ManualClock, *, fail: bool) -> None:
        super().__init__()
        self.clock = clock
        if fail:
            self.fail_next(1)

    def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        message_bytes: bytes,
        *,
        email_id: int,
    ) -> str:
        self.clock.advance(LEASE_SECONDS)
        claim_ready(self.clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner="b")
        return super().send(envelope_from, recipients, message_bytes, email_id=email_id)


def test_a_late_failure_does_not_overwrite_the_state_of_the_sender_that_took_over(
    org: Org, clock: ManualClock
) -> None:
    [email] = queue(clock)
    claimed = claim_ready(clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner="a")

    report = deliver(claimed, TakeoverTransport(clock, fail=True), clock=clock)

    [outcome] = report.outcomes
    assert not outcome.recorded
    email.refresh_from_db()
    assert (email.status, email.lease_owner, email.attempts) == (EmailStatus.SENDING, "b", 2)
    assert attempts_of(email) == [(1, AttemptOutcome.LOST), (1, AttemptOutcome.TRANSIENT)]


def test_a_late_success_still_marks_the_email_sent(org: Org, clock: ManualClock) -> None:
    [email] = queue(clock)
    claimed = claim_ready(clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner="a")

    report = deliver(claimed, TakeoverTransport(clock, fail=False), clock=clock)

    assert report.outcomes[0].recorded
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.lease_expires_at is None


def test_next_wake_at_is_the_earliest_ready_time_or_lease_expiry(
    org: Org, clock: ManualClock
) -> None:
    assert next_wake_at() is None
    start = clock.now()
    queue(clock)
    assert next_wake_at() == start

    claim_ready(clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner="a")
    assert next_wake_at() == start + timedelta(seconds=LEASE_SECONDS)

    clock.advance(5)
    queue(clock, (11, "othello@example.com"))
    assert next_wake_at() == start + timedelta(seconds=5)


def test_requeue_gives_failed_emails_a_fresh_round_of_attempts(
    org: Org, clock: ManualClock, transport: MemoryTransport
) -> None:
    failed, sent = queue(clock, (10, "hamlet@example.com"), (11, "othello@example.com"))
    transport.fail_next(1, permanent=True, recipient="hamlet@example.com")
    run_round(clock, transport)
    clock.advance(3600)

    count = requeue_failed([failed.id, sent.id], clock.now())

    assert count == 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.next_attempt_at, failed.last_response) == (
        EmailStatus.QUEUED,
        0,
        clock.now(),
        "",
    )
    assert OutboundEmail.objects.get(id=sent.id).status == EmailStatus.SENT
    run_round(clock, transport)
    failed.refresh_from_db()
    assert failed.status == EmailStatus.SENT


def test_an_email_whose_message_could_not_be_built_is_not_requeued(
    org: Org, clock: ManualClock
) -> None:
    [email] = enqueue_drafts(
        [make_draft(to_email="not an address")],
        due_at=clock.now(),
        now=clock.now(),
        config=outbox_config(),
    )

    assert requeue_failed([email.id], clock.now()) == 0
    assert OutboundEmail.objects.get(id=email.id).status == EmailStatus.FAILED


def test_an_unavailable_server_puts_the_whole_round_back_without_using_attempts(
    org: Org, clock: ManualClock, transport: MemoryTransport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="missedmail.outbox")
    emails = queue(
        clock, (10, "hamlet@example.com"), (11, "othello@example.com"), (12, "iago@example.com")
    )
    transport.unavailable = "cannot use the mail server: ConnectionRefusedError"

    report = send_once(clock.now(), transport, owner="a", clock=clock, rng=random.Random(3))

    assert (report.claimed, report.released, report.outcomes) == (3, 3, [])
    assert len(transport.attempts) == 1  # the round stopped at the first refusal
    assert report.retry_at is not None
    assert clock.now() + timedelta(seconds=0.5) <= report.retry_at
    assert report.retry_at <= clock.now() + timedelta(seconds=1)
    for email in emails:
        email.refresh_from_db()
        assert (email.status, email.attempts, email.lease_owner) == (EmailStatus.QUEUED, 0, "")
        assert email.next_attempt_at == report.retry_at
        assert email.last_response == "not attempted: " + transport.unavailable
    assert not DeliveryAttempt.objects.exists()
    assert next_wake_at() == report.retry_at
    assert "action=emails_released count=3" in caplog.text


def test_an_outage_longer_than_the_whole_retry_schedule_fails_no_email(
    org: Org, clock: ManualClock, transport: MemoryTransport
) -> None:
    """Invariant: 3 queued, 3 sent, each on its first real attempt, after 3 hours down."""
    queue(clock, (10, "hamlet@example.com"), (11, "othello@example.com"), (12, "iago@example.com"))
    transport.unavailable = "cannot use the mail server: ConnectionRefusedError"
    policy = RetryPolicy(base_delay_seconds=1, max_delay_seconds=2, max_attempts=2)
    back_at = clock.now() + timedelta(hours=3)

    rounds = 0
    while (wake := next_wake_at()) is not None:
        clock.set(max(wake, clock.now()))
        if clock.now() >= back_at:
            transport.unavailable = None
        run_round(clock, transport, policy=policy)
        rounds += 1

    statuses = list(OutboundEmail.objects.values_list("status", "attempts"))
    assert statuses == [(EmailStatus.SENT, 1)] * 3
    assert len(transport.sent) == 3
    # Probed every 30 to 60 s once the backoff reached its ceiling, never in a busy loop.
    assert rounds <= 3 * 3600 / 30 + 10


def test_a_server_unavailable_for_a_taken_over_email_leaves_it_with_its_lost_attempt(
    org: Org, clock: ManualClock, transport: MemoryTransport
) -> None:
    [email] = queue(clock)
    claim_ready(clock.now(), limit=1, lease_seconds=LEASE_SECONDS, owner="dead")
    clock.advance(LEASE_SECONDS)
    transport.unavailable = "cannot use the mail server: timed out"

    run_round(clock, transport, owner="b")

    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.RETRYING, 1)
    assert attempts_of(email) == [(1, AttemptOutcome.LOST)]


def test_a_partly_refused_send_is_recorded_as_sent_and_never_sent_again(
    org: Org, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    [email] = queue(clock)
    transport = ExtraRecipientTransport("audit@example.com")
    transport.fail_next(1, permanent=True, recipient="audit@example.com")

    run_round(clock, transport)
    clock.advance(3600)
    assert run_round(clock, transport) == 0

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.last_response.startswith("250 2.0.0 Ok")
    assert "refused: audit@example.com: 550 5.1.1 mailbox unavailable" in email.last_response
    assert [sent.recipients for sent in transport.sent] == [("hamlet@example.com",)]
    assert "action=email_partially_delivered" in caplog.text


class ExtraRecipientTransport(MemoryTransport):
    """A transport that copies every email to one more address (as a relay with a
    compliance copy would): the only way one outbox email meets several recipients."""

    def __init__(self, extra: str) -> None:
        super().__init__()
        self.extra = extra

    def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        message_bytes: bytes,
        *,
        email_id: int,
    ) -> str:
        return super().send(
            envelope_from, [*recipients, self.extra], message_bytes, email_id=email_id
        )


def test_one_users_failing_emails_never_delay_another_users_email(
    org: Org, clock: ManualClock, transport: MemoryTransport
) -> None:
    """Invariant: with hamlet's 120 emails failing at every attempt, othello's email,
    queued after all of them, is sent at the moment it is ready, in the same rounds."""
    queue(clock, *[(10, "hamlet@example.com")] * 120)
    transport.fail_next(10_000, recipient="hamlet@example.com")
    for _ in range(3):  # hamlet's emails are all retrying now, some ready again soon
        run_round(clock, transport)
        clock.advance(30)
    clock.advance(1)
    [othello] = queue(clock, (11, "othello@example.com"))

    rounds = 0
    while OutboundEmail.objects.get(id=othello.id).status != EmailStatus.SENT:
        run_round(clock, transport)
        rounds += 1
        assert rounds <= 120 // 50 + 1  # at most the ready ones ahead of it, never a wait

    othello.refresh_from_db()
    assert othello.sent_at == othello.next_attempt_at == clock.now()
    assert OutboundEmail.objects.filter(user_id=10, status=EmailStatus.SENT).count() == 0
