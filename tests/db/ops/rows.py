"""Rows the operations tests count: scheduled notifications, outbox emails and their
attempts, skip records, rejected events."""

from __future__ import annotations

from datetime import datetime, timedelta

from missedmail.core.models import UserProfile
from missedmail.outbox.models import AttemptOutcome, DeliveryAttempt, EmailStatus, OutboundEmail
from missedmail.scheduling.models import (
    EventSource,
    NotificationSkip,
    RejectedEvent,
    ScheduledNotification,
    TriggerChoices,
)
from missedmail.skips import SkipReason
from tests.factories import Org, next_id, stream_message


def scheduled(org: Org, user: UserProfile, at: datetime) -> ScheduledNotification:
    recipients = list({u.id: u for u in (user, org.prospero)}.values())
    message = stream_message(org.prospero, org.denmark, "test", "hello", recipients)
    return ScheduledNotification.objects.create(
        user=user,
        message=message,
        trigger=TriggerChoices.STREAM_EMAIL_NOTIFY,
        scheduled_timestamp=at,
        created_at=at - timedelta(seconds=120),
    )


def outbound_email(
    user: UserProfile,
    status: EmailStatus,
    now: datetime,
    *,
    subject: str = "#Denmark > test",
    attempts: int = 0,
    last_response: str = "",
    due_at: datetime | None = None,
    mime: bytes | None = None,
) -> OutboundEmail:
    """An email in `status` as of `now` (its last change; for a sent one, its sending)."""
    email_id = next_id()
    return OutboundEmail.objects.create(
        user=user,
        realm_id=user.realm_id,
        message_ids=[email_id],
        subject=subject,
        to_address=user.email,
        envelope_from="noreply@localhost",
        message_id_header=f"<{email_id}@missedmail.test>",
        thread_root="<3.dGVzdA==@chat.example.com>",
        mime=b"Subject: " + subject.encode() + b"\r\n\r\nbody\r\n" if mime is None else mime,
        status=status,
        attempts=attempts,
        next_attempt_at=now,
        lease_expires_at=now + timedelta(minutes=5) if status == EmailStatus.SENDING else None,
        last_response=last_response,
        due_at=due_at or now,
        created_at=now,
        updated_at=now,
        sent_at=now if status == EmailStatus.SENT else None,
    )


def attempt(
    email: OutboundEmail, outcome: AttemptOutcome, at: datetime, response: str = ""
) -> DeliveryAttempt:
    number = DeliveryAttempt.objects.filter(email=email).count() + 1
    return DeliveryAttempt.objects.create(
        email=email,
        number=number,
        started_at=at - timedelta(seconds=1),
        finished_at=at,
        outcome=outcome,
        response=response,
    )


def skip(user: UserProfile, count: int, reason: SkipReason, at: datetime) -> NotificationSkip:
    return NotificationSkip.objects.create(
        user=user, message_ids=[next_id() for _ in range(count)], reason=reason, at=at
    )


def rejected(
    at: datetime,
    *,
    source: EventSource = EventSource.QUEUE,
    user_id: int | None = 10,
    message_id: int | None = None,
    payload: str = '{"user_profile_id": 10}',
    reason: str = "message_id: field required",
) -> RejectedEvent:
    return RejectedEvent.objects.create(
        received_at=at,
        source=source,
        payload=payload,
        reason=reason,
        field="message_id",
        user_id=user_id,
        message_id=message_id,
    )
