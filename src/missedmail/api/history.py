"""What the API shows of one user's notifications (contract §4): the pending ones, and the
recent outcomes — emails from the outbox and skips with their reasons — newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.scheduling.models import NotificationSkip, ScheduledNotification

RECENT_LIMIT = 50
SKIPPED = "skipped"


def api_timestamp(moment: datetime) -> str:
    """The API's time format: UTC, whole seconds, e.g. 2026-11-28T10:02:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Pending:
    message_id: int
    trigger: str
    mentioned_user_group_id: int | None
    scheduled_timestamp: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "trigger": self.trigger,
            "mentioned_user_group_id": self.mentioned_user_group_id,
            "scheduled_timestamp": api_timestamp(self.scheduled_timestamp),
        }


@dataclass(frozen=True)
class Outcome:
    status: str  # an EmailStatus value, or "skipped"
    message_ids: list[int]
    subject: str | None
    reason: str | None
    at: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "message_ids": self.message_ids,
            "subject": self.subject,
            "reason": self.reason,
            "at": api_timestamp(self.at),
        }


def pending_notifications(user_id: int) -> list[Pending]:
    rows = (
        ScheduledNotification.objects.filter(user_id=user_id)
        .order_by("scheduled_timestamp", "message_id")
        .values_list("message_id", "trigger", "mentioned_user_group_id", "scheduled_timestamp")
    )
    return [Pending(*row) for row in rows]


def recent_outcomes(user_id: int, limit: int = RECENT_LIMIT) -> list[Outcome]:
    emails = (
        OutboundEmail.objects.filter(user_id=user_id)
        .order_by("-created_at", "-id")
        .values_list("status", "message_ids", "subject", "last_response", "sent_at", "updated_at")[
            :limit
        ]
    )
    skips = (
        NotificationSkip.objects.filter(user_id=user_id)
        .order_by("-at", "-id")
        .values_list("message_ids", "reason", "at")[:limit]
    )
    outcomes = [_email_outcome(*row) for row in emails]
    outcomes += [Outcome(SKIPPED, list(ids), None, reason, at) for ids, reason, at in skips]
    outcomes.sort(key=lambda outcome: outcome.at, reverse=True)
    return outcomes[:limit]


def _email_outcome(
    status: str,
    message_ids: list[int],
    subject: str,
    last_response: str,
    sent_at: datetime | None,
    updated_at: datetime,
) -> Outcome:
    failing = status in (EmailStatus.FAILED, EmailStatus.RETRYING)
    return Outcome(
        status=status,
        message_ids=list(message_ids),
        subject=subject,
        # For a failure, the SMTP response (contract §4).
        reason=(last_response or None) if failing else None,
        at=sent_at or updated_at,
    )
