"""Everything on record about one user's missed-message emails, for the user page.

Ids, triggers, states, reasons, times and server responses — no subjects, topics or
content (the single-email page shows those). Each list is a few rows read through an
index that starts with the user (or, for rejected events, a bounded time window), so the
page costs the same on a table of a thousand rows or a hundred million.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q
from django.db.models.functions import Lower

from missedmail.core.models import UserProfile
from missedmail.ops.diagnosis import Finding, LatestEmail, LatestSkip, UserFacts, findings
from missedmail.outbox.models import OutboundEmail
from missedmail.scheduling.models import NotificationSkip, RejectedEvent, ScheduledNotification

PENDING_ROWS = 100
RECENT_ROWS = 20
REJECTED_LOOKBACK = timedelta(days=7)
# What the user page shows of an email: never the subject or the MIME.
EMAIL_LIST_FIELDS = (
    "id",
    "user_id",
    "status",
    "attempts",
    "created_at",
    "due_at",
    "sent_at",
    "next_attempt_at",
    "updated_at",
    "last_response",
    "message_ids",
)


@dataclass(frozen=True)
class PendingRow:
    id: int
    message_id: int
    trigger: str
    scheduled_timestamp: datetime
    compose_failures: int
    due: bool


@dataclass(frozen=True)
class UserPage:
    user: UserProfile
    now: datetime
    findings: list[Finding]
    pending_count: int
    due_count: int
    pending: list[PendingRow]
    emails: list[OutboundEmail]  # loaded with EMAIL_LIST_FIELDS only
    skips: list[NotificationSkip]
    rejected: list[RejectedEvent]  # payload not loaded


def user_page(user: UserProfile, now: datetime) -> UserPage:
    counts = ScheduledNotification.objects.filter(user_id=user.id).aggregate(
        pending=Count("id"),
        due=Count("id", filter=Q(scheduled_timestamp__lte=now)),
        earliest=Min("scheduled_timestamp"),
    )
    pending = [
        PendingRow(
            id=row.id,
            message_id=row.message_id,
            trigger=row.trigger,
            scheduled_timestamp=row.scheduled_timestamp,
            compose_failures=row.compose_failures,
            due=row.scheduled_timestamp <= now,
        )
        for row in ScheduledNotification.objects.filter(user_id=user.id)
        .only("id", "message_id", "trigger", "scheduled_timestamp", "compose_failures")
        .order_by("scheduled_timestamp", "id")[:PENDING_ROWS]
    ]
    emails = list(
        OutboundEmail.objects.filter(user_id=user.id)
        .only(*EMAIL_LIST_FIELDS)
        .order_by("-created_at", "-id")[:RECENT_ROWS]
    )
    skips = list(
        NotificationSkip.objects.filter(user_id=user.id).order_by("-at", "-id")[:RECENT_ROWS]
    )
    rejected = list(
        RejectedEvent.objects.filter(user_id=user.id, received_at__gte=now - REJECTED_LOOKBACK)
        .only("id", "received_at", "source", "reason", "field", "user_id", "message_id")
        .order_by("-received_at", "-id")[:RECENT_ROWS]
    )
    facts = UserFacts(
        name=user.full_name,
        is_active=user.is_active,
        is_bot=user.is_bot,
        has_email=bool(user.email.strip()),
        emails_enabled=user.enable_offline_email_notifications,
        realm_deactivated=user.realm.deactivated,
        pending=counts["pending"],
        due=counts["due"],
        next_due_at=counts["earliest"],
        latest_email=_latest_email(emails[0]) if emails else None,
        latest_skip=(
            LatestSkip(
                reason=skips[0].reason, at=skips[0].at, notifications=len(skips[0].message_ids)
            )
            if skips
            else None
        ),
        recent_rejections=len(rejected),
    )
    return UserPage(
        user=user,
        now=now,
        findings=findings(facts, now),
        pending_count=counts["pending"],
        due_count=counts["due"],
        pending=pending,
        emails=emails,
        skips=skips,
        rejected=rejected,
    )


def _latest_email(email: OutboundEmail) -> LatestEmail:
    return LatestEmail(
        id=email.id,
        status=email.status,
        created_at=email.created_at,
        sent_at=email.sent_at,
        next_attempt_at=email.next_attempt_at,
        attempts=email.attempts,
        last_response=email.last_response,
    )


def find_user(query: str) -> UserProfile | None:
    """A user by id (digits) or by email address (case-insensitive, through the
    `user_email_lower` index); the first by id when several share an address."""
    text = query.strip()
    if text.isdigit():
        return UserProfile.objects.select_related("realm").filter(id=int(text)).first()
    if "@" in text:
        return (
            UserProfile.objects.select_related("realm")
            .alias(email_lower=Lower("email"))
            .filter(email_lower=text.lower())
            .order_by("id")
            .first()
        )
    return None
