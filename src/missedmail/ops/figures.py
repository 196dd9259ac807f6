"""The numbers an operator looks at first: what waits, what is due, what the outbox holds,
what was skipped or rejected, and how many workers are alive.

Shared by `missedmail status`, the operator page and the scrape-time gauges. These tables
can hold millions of rows, so every figure is one aggregate query in the database (counts
and sums, grouped by a short column); no row is ever loaded into Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Func, IntegerField, Min, Q, Sum
from django.db.models.functions import Coalesce

from missedmail.health.heartbeats import alive_count
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.scheduling.models import NotificationSkip, RejectedEvent, ScheduledNotification
from missedmail.skips import SkipReason


class JsonArrayLength(Func):
    """The length of a JSON array column: `json_array_length` on SQLite, and on
    PostgreSQL, where JSONField is `jsonb`, `jsonb_array_length`."""

    function = "JSON_ARRAY_LENGTH"
    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSONB_ARRAY_LENGTH", **extra_context)


@dataclass(frozen=True)
class ScheduledFigures:
    pending: int  # scheduled notifications, due or not
    due: int  # scheduled_timestamp <= now: the batcher should be on them
    oldest_due_seconds: float | None  # how late the most overdue row is; None if none due


@dataclass(frozen=True)
class StatusFigures:
    """`skipped` counts notifications (the sum of each skip record's message ids), not skip
    records: one record covers every notification of a user dropped together for one
    reason, and "how many notifications did not become an email" is the question."""

    pending: int
    due: int
    oldest_due_seconds: float | None
    outbox: Mapping[str, int]  # every EmailStatus value, zeros included
    skipped: int
    skipped_by_reason: Mapping[str, int]  # every SkipReason value, zeros included
    rejected: int  # rejected-event records
    workers: int  # workers with a fresh heartbeat

    def to_json(self) -> dict[str, object]:
        """The object `missedmail status --json` prints (contract §1)."""
        return {
            "pending": self.pending,
            "due": self.due,
            "oldest_due_seconds": self.oldest_due_seconds,
            "outbox": dict(self.outbox),
            "skipped": self.skipped,
            "skipped_by_reason": dict(self.skipped_by_reason),
            "rejected": self.rejected,
            "workers": self.workers,
        }


def status_figures(now: datetime) -> StatusFigures:
    scheduled = scheduled_figures(now)
    skipped_by_reason = skipped_counts()
    return StatusFigures(
        pending=scheduled.pending,
        due=scheduled.due,
        oldest_due_seconds=scheduled.oldest_due_seconds,
        outbox=outbox_counts(),
        skipped=sum(skipped_by_reason.values()),
        skipped_by_reason=skipped_by_reason,
        rejected=RejectedEvent.objects.count(),
        workers=alive_count(now),
    )


def scheduled_figures(now: datetime) -> ScheduledFigures:
    """One query; `due` and the minimum are served by the `scheduled_due` index."""
    row = ScheduledNotification.objects.aggregate(
        pending=Count("id"),
        due=Count("id", filter=Q(scheduled_timestamp__lte=now)),
        earliest=Min("scheduled_timestamp"),
    )
    earliest: datetime | None = row["earliest"]
    oldest_due_seconds = (
        (now - earliest).total_seconds() if earliest is not None and earliest <= now else None
    )
    return ScheduledFigures(
        pending=row["pending"], due=row["due"], oldest_due_seconds=oldest_due_seconds
    )


def outbox_counts() -> dict[str, int]:
    """Emails by state; grouped on `status`, which leads the `email_status_updated` index."""
    counts = dict.fromkeys(EmailStatus.values, 0)
    rows = OutboundEmail.objects.order_by().values_list("status").annotate(n=Count("id"))
    for status, n in rows:
        counts[status] = n
    return counts


def skipped_counts() -> dict[str, int]:
    """Skipped notifications by reason (see `StatusFigures`)."""
    counts = dict.fromkeys(SkipReason.values, 0)
    rows = (
        NotificationSkip.objects.order_by()
        .values_list("reason")
        .annotate(n=Coalesce(Sum(JsonArrayLength("message_ids")), 0))
    )
    for reason, n in rows:
        counts[reason] = n
    return counts
