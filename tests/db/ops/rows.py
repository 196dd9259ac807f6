"""Rows the operations tests count: scheduled notifications and outbox emails."""

from __future__ import annotations

from datetime import datetime, timedelta

from missedmail.core.models import UserProfile
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.scheduling.models import ScheduledNotification, TriggerChoices
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
) -> OutboundEmail:
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
        mime=b"Subject: " + subject.encode() + b"\r\n\r\nbody\r\n",
        status=status,
        attempts=attempts,
        next_attempt_at=now,
        lease_expires_at=now + timedelta(minutes=5) if status == EmailStatus.SENDING else None,
        last_response=last_response,
        due_at=now,
        created_at=now,
        updated_at=now,
    )
