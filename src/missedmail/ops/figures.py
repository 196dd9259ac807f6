"""The numbers an operator looks at first.

- `headline(now)`: what the dashboard shows at the top and refreshes — what waits and how
  late it is, what the outbox still has to deliver, workers alive, and what happened in the
  last hour and day. Every query is bounded (the waiting rows, or a time window over an
  indexed column), so it stays cheap on tables of millions of rows and may be polled.
- `status_figures(now)`: the headline plus all-time totals (outbox by state, skipped,
  rejected) for `missedmail status` (contract §1). The totals are whole-table aggregates:
  computed in the database (no row is loaded into Python) but proportional to the tables,
  so they are for a command, not for a page that refreshes itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Coalesce

from missedmail.health.heartbeats import alive_count
from missedmail.ops.activity import (
    LatencySummary,
    Window,
    WindowTotals,
    latency,
    window_totals,
)
from missedmail.ops.formatting import duration
from missedmail.ops.sql import JsonArrayLength
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.scheduling.models import NotificationSkip, RejectedEvent, ScheduledNotification
from missedmail.skips import SkipReason

__all__ = [
    "JsonArrayLength",
    "ScheduledFigures",
    "StatusFigures",
    "headline",
    "outbox_backlog",
    "outbox_counts",
    "scheduled_figures",
    "skipped_counts",
    "status_figures",
    "status_lines",
]

# Emails the senders still have to deliver: bounded by the backlog, not by history.
BACKLOG_STATUSES = (EmailStatus.QUEUED, EmailStatus.SENDING, EmailStatus.RETRYING)


@dataclass(frozen=True)
class ScheduledFigures:
    pending: int  # scheduled notifications, due or not
    due: int  # scheduled_timestamp <= now: the batcher should be on them
    oldest_due_seconds: float | None  # how late the most overdue row is; None if none due


@dataclass(frozen=True)
class Headline:
    now: datetime
    pending: int
    due: int
    oldest_due_seconds: float | None
    backlog: Mapping[str, int]  # queued, sending, retrying (zeros included)
    workers: int  # workers with a fresh heartbeat
    last_hour: WindowTotals
    last_day: WindowTotals
    latency: LatencySummary  # of the emails sent in the last hour

    def to_json(self) -> dict[str, object]:
        return {
            "pending": self.pending,
            "due": self.due,
            "oldest_due_seconds": self.oldest_due_seconds,
            "backlog": dict(self.backlog),
            "workers": self.workers,
            "last_hour": self.last_hour.to_json(),
            "last_day": self.last_day.to_json(),
            "latency_last_hour": self.latency.to_json(),
        }


def headline(now: datetime) -> Headline:
    scheduled = scheduled_figures(now)
    totals = window_totals(now, (Window.HOUR, Window.DAY))
    return Headline(
        now=now,
        pending=scheduled.pending,
        due=scheduled.due,
        oldest_due_seconds=scheduled.oldest_due_seconds,
        backlog=outbox_backlog(),
        workers=alive_count(now),
        last_hour=totals[Window.HOUR],
        last_day=totals[Window.DAY],
        latency=latency(now, Window.HOUR),
    )


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
    headline: Headline

    def to_json(self) -> dict[str, object]:
        """The object `missedmail status --json` prints (contract §1, plus extras)."""
        return {
            "pending": self.pending,
            "due": self.due,
            "oldest_due_seconds": self.oldest_due_seconds,
            "outbox": dict(self.outbox),
            "skipped": self.skipped,
            "skipped_by_reason": dict(self.skipped_by_reason),
            "rejected": self.rejected,
            "workers": self.workers,
            "last_hour": self.headline.last_hour.to_json(),
            "last_day": self.headline.last_day.to_json(),
            "latency_last_hour": self.headline.latency.to_json(),
        }


def status_figures(now: datetime) -> StatusFigures:
    top = headline(now)
    skipped_by_reason = skipped_counts()
    return StatusFigures(
        pending=top.pending,
        due=top.due,
        oldest_due_seconds=top.oldest_due_seconds,
        outbox=outbox_counts(),
        skipped=sum(skipped_by_reason.values()),
        skipped_by_reason=skipped_by_reason,
        rejected=RejectedEvent.objects.count(),
        workers=top.workers,
        headline=top,
    )


def status_lines(figures: StatusFigures) -> list[str]:
    """`missedmail status` without `--json`: the dashboard's headline, then the totals."""
    top = figures.headline
    hour, day = top.last_hour, top.last_day

    return [
        f"pending notifications: {top.pending} ({top.due} due, oldest due for "
        f"{duration(top.oldest_due_seconds)})",
        f"workers alive: {top.workers}",
        "outbox to deliver: " + ", ".join(f"{state} {n}" for state, n in top.backlog.items()),
        f"last hour: sent {hour.sent}, failed {hour.failed}, retried {hour.retried}, "
        f"skipped {hour.skipped}, rejected {hour.rejected}",
        f"last 24 h: sent {day.sent}, failed {day.failed}, retried {day.retried}, "
        f"skipped {day.skipped}, rejected {day.rejected}",
        f"due-to-sent latency, last hour: p50 {duration(top.latency.p50_seconds)}, "
        f"p99 {duration(top.latency.p99_seconds)} ({top.latency.count} emails)",
        "all time:",
        "  outbox: " + ", ".join(f"{state} {count}" for state, count in figures.outbox.items()),
        f"  skipped: {figures.skipped}",
        f"  rejected events: {figures.rejected}",
    ]


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


def outbox_backlog() -> dict[str, int]:
    """Emails still to deliver, by state: `status IN (...)` on the leading column of the
    `email_status_updated` index, so only the backlog's index entries are read."""
    counts = {status.value: 0 for status in BACKLOG_STATUSES}
    rows = (
        OutboundEmail.objects.filter(status__in=BACKLOG_STATUSES)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    for status, n in rows:
        counts[status] = n
    return counts


def outbox_counts() -> dict[str, int]:
    """Emails by state, all time; grouped on `status`, which leads `email_status_updated`."""
    counts = dict.fromkeys(EmailStatus.values, 0)
    rows = OutboundEmail.objects.order_by().values_list("status").annotate(n=Count("id"))
    for status, n in rows:
        counts[status] = n
    return counts


def skipped_counts() -> dict[str, int]:
    """Skipped notifications by reason, all time (see `StatusFigures`)."""
    counts = dict.fromkeys(SkipReason.values, 0)
    rows = (
        NotificationSkip.objects.order_by()
        .values_list("reason")
        .annotate(n=Coalesce(Sum(JsonArrayLength("message_ids")), 0))
    )
    for reason, n in rows:
        counts[reason] = n
    return counts
