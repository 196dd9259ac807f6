"""Rows for the browser tests, timed against the real clock (the live server's views use
the system clock): composed emails with real MIME, and a busy day for the screenshots."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from missedmail.health.heartbeats import beat, mark_stopped, register
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import AttemptOutcome, DeliveryAttempt, EmailStatus, OutboundEmail
from missedmail.scheduling.models import (
    EventSource,
    NotificationSkip,
    RejectedEvent,
    ScheduledNotification,
    TriggerChoices,
)
from missedmail.skips import SkipReason
from tests.factories import Org, direct_message, stream_message
from tests.outbox_helpers import make_draft, outbox_config

PREVIEW_TEXT = "Can you look at the release plan before Friday?"


def composed_email(
    org: Org, now: datetime, *, subject: str = "#Denmark > release plan"
) -> OutboundEmail:
    """Hamlet's email about one message of #Denmark, as the batcher writes it."""
    message = stream_message(org.othello, org.denmark, "release plan", PREVIEW_TEXT, org.everyone)
    draft = make_draft(
        subject=subject,
        message_ids=(message.id,),
        text=f"Othello, the Moor of Venice:\n> {PREVIEW_TEXT}\n\n--\nYou are receiving this "
        "because you were mentioned.\n",
        html=(
            '<html><body style="font-family: sans-serif">'
            "<p><b>Othello, the Moor of Venice</b></p>"
            f'<blockquote style="border-left: 3px solid #ccc; padding-left: 8px">{PREVIEW_TEXT}'
            '</blockquote><p style="color: #666">You are receiving this because you were '
            "mentioned.</p></body></html>"
        ),
    )
    [email] = enqueue_drafts([draft], due_at=now, now=now, config=outbox_config())
    return email


def fail(email: OutboundEmail, now: datetime, response: str) -> None:
    """Record `email` as given up after one permanent refusal."""
    DeliveryAttempt.objects.create(
        email=email,
        number=1,
        started_at=now - timedelta(seconds=1),
        finished_at=now,
        outcome=AttemptOutcome.PERMANENT,
        response=response,
    )
    OutboundEmail.objects.filter(id=email.id).update(
        status=EmailStatus.FAILED, attempts=1, last_response=response, updated_at=now
    )


def pending(org: Org, user_id: int, at: datetime, count: int) -> None:
    for _ in range(count):
        message = direct_message(org.othello, [org.hamlet, org.iago, org.cordelia], "see above")
        ScheduledNotification.objects.create(
            user_id=user_id,
            message=message,
            trigger=TriggerChoices.DIRECT_MESSAGE,
            scheduled_timestamp=at,
            created_at=at - timedelta(seconds=120),
        )


def busy_day(org: Org, now: datetime, *, seed: int = 6) -> None:
    """A day of a busy installation: hundreds of emails an hour with a morning peak, a few
    retries and failures, skipped notifications of every common reason, some rejected
    events, notifications waiting, two workers alive and one stopped."""
    rng = random.Random(seed)
    template = composed_email(org, now - timedelta(days=2))
    users = [org.hamlet, org.othello, org.iago, org.cordelia, org.prospero]
    emails: list[OutboundEmail] = []
    attempts: list[tuple[int, DeliveryAttempt]] = []
    skips: list[NotificationSkip] = []
    minute = now - timedelta(hours=24)
    while minute < now:
        hours_ago = (now - minute).total_seconds() / 3600
        rate = 1.5 + 5 * max(0.0, 1 - abs(hours_ago - 9) / 5) + rng.random() * 2
        for _ in range(int(rate)):
            at = minute + timedelta(seconds=rng.randrange(60))
            if at > now:
                continue
            latency = rng.choice([0.2, 0.3, 0.4, 0.6, 0.8, 1.2, 1.5, 3.0])
            status = EmailStatus.SENT if rng.random() > 0.004 else EmailStatus.FAILED
            user = rng.choice(users)
            emails.append(replace_email(template, user.id, at, status, latency, len(emails)))
            if rng.random() < 0.02:
                attempts.append(
                    (
                        len(emails) - 1,
                        DeliveryAttempt(
                            number=1,
                            started_at=at - timedelta(minutes=2),
                            finished_at=at - timedelta(minutes=2),
                            outcome=AttemptOutcome.TRANSIENT,
                            response="451 4.3.0 try again later",
                        ),
                    )
                )
        if rng.random() < 0.7:
            reason = rng.choice(
                [SkipReason.READ] * 6 + [SkipReason.NOTIFICATIONS_OFF, SkipReason.DELETED]
            )
            skips.append(
                NotificationSkip(
                    user=rng.choice(users),
                    message_ids=sorted(rng.sample(range(5000, 9000), rng.randrange(1, 4))),
                    reason=reason,
                    at=minute,
                )
            )
        minute += timedelta(minutes=1)
    created = OutboundEmail.objects.bulk_create(emails, batch_size=500)
    DeliveryAttempt.objects.bulk_create(
        [_attached(attempt, created[index].id) for index, attempt in attempts]
    )
    NotificationSkip.objects.bulk_create(skips, batch_size=500)
    for hours_ago in (0.2, 3, 7, 7.1, 15):
        RejectedEvent.objects.create(
            received_at=now - timedelta(hours=hours_ago),
            source=EventSource.QUEUE,
            payload='{"user_profile_id": 99}',
            reason="user_profile_id: no such user",
            field="user_profile_id",
            user_id=99,
        )
    pending(org, org.othello.id, now + timedelta(seconds=70), 3)
    pending(org, org.iago.id, now - timedelta(seconds=1), 1)
    register("mm-worker-1:4711:9f3a", "worker", now - timedelta(hours=26))
    beat(
        "mm-worker-1:4711:9f3a",
        "worker",
        now,
        emails_composed=5210,
        emails_sent=5198,
        last_batch_at=now - timedelta(seconds=4),
    )
    register("mm-worker-2:4712:1c0d", "worker", now - timedelta(hours=26))
    beat(
        "mm-worker-2:4712:1c0d",
        "worker",
        now - timedelta(seconds=6),
        emails_composed=5102,
        emails_sent=5090,
        last_batch_at=now - timedelta(seconds=9),
    )
    register("mm-worker-3:977:77aa", "worker", now - timedelta(days=3))
    mark_stopped("mm-worker-3:977:77aa", now - timedelta(hours=26))


def _attached(attempt: DeliveryAttempt, email_id: int) -> DeliveryAttempt:
    attempt.email_id = email_id
    return attempt


def replace_email(
    template: OutboundEmail,
    user_id: int,
    at: datetime,
    status: EmailStatus,
    latency_seconds: float,
    serial: int,
) -> OutboundEmail:
    failed = status == EmailStatus.FAILED
    return OutboundEmail(
        user_id=user_id,
        realm_id=template.realm_id,
        message_ids=template.message_ids,
        subject=template.subject,
        to_address=template.to_address,
        envelope_from=template.envelope_from,
        message_id_header=f"<busy-{serial}@missedmail.test>",
        thread_root=template.thread_root,
        mime=bytes(template.mime),
        status=status,
        attempts=1,
        next_attempt_at=at,
        last_response="550 5.1.1 mailbox unavailable" if failed else "250 2.0.0 Ok",
        due_at=at - timedelta(seconds=latency_seconds),
        created_at=at - timedelta(seconds=latency_seconds / 2),
        sent_at=None if failed else at,
        updated_at=at,
    )
