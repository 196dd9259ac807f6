"""What happened lately: emails sent, failed and retried, notifications skipped, events
rejected, and how long sent emails took — over the last hour and the last day, in totals
and in time buckets for the dashboard's charts.

Every figure here is bounded by a time window over an indexed column, and computed in the
database (one aggregate query per source, a filtered count per bucket), so the cost grows
with what happened in the window, never with the size of the tables:

- sent, failed: emails with that status, by `updated_at` (index `email_status_updated`);
- retried: transient delivery attempts, by `finished_at` (index requested on that column);
- skipped: skip records, by `at` (index `skip_at`), summing the message ids they cover;
- rejected: rejected events, by `received_at` (its index).

A sent email's `updated_at` is its `sent_at`: nothing changes a sent email afterwards.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce

from missedmail.health.metrics import DUE_TO_SENT_BUCKETS_SECONDS
from missedmail.ops.sql import JsonArrayLength
from missedmail.outbox.models import AttemptOutcome, DeliveryAttempt, EmailStatus, OutboundEmail
from missedmail.scheduling.models import NotificationSkip, RejectedEvent
from missedmail.skips import SkipReason

# The same bucket bounds as the Prometheus histogram, so the dashboard's p50/p99 and
# Grafana's histogram_quantile() agree on how coarse they are.
LATENCY_BOUNDS_SECONDS: tuple[float, ...] = tuple(map(float, DUE_TO_SENT_BUCKETS_SECONDS))


class Window(enum.Enum):
    """A look-back period and how the charts cut it into buckets."""

    HOUR = ("hour", 3600, 60, "minute")
    DAY = ("day", 86400, 900, "15 minutes")

    def __init__(self, key: str, seconds: int, step_seconds: int, step_label: str) -> None:
        self.key = key
        self.seconds = seconds
        self.step_seconds = step_seconds
        self.step_label = step_label

    @property
    def buckets(self) -> int:
        return self.seconds // self.step_seconds

    @classmethod
    def from_key(cls, key: str | None, default: Window | None = None) -> Window:
        for window in cls:
            if window.key == key:
                return window
        return default or cls.HOUR


class Source(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    RETRIED = "retried"
    SKIPPED = "skipped"
    REJECTED = "rejected"


@dataclass(frozen=True)
class _SourceQuery:
    queryset: QuerySet[Any]
    time_field: str
    # None counts rows; skip records count the notifications (message ids) they cover.
    summed: Any = None

    def value(self, condition: Q) -> Any:
        if self.summed is None:
            return Count("pk", filter=condition)
        return Coalesce(Sum(self.summed, filter=condition), 0)


def _source_query(source: Source) -> _SourceQuery:
    if source == Source.SENT:
        return _SourceQuery(OutboundEmail.objects.filter(status=EmailStatus.SENT), "updated_at")
    if source == Source.FAILED:
        return _SourceQuery(OutboundEmail.objects.filter(status=EmailStatus.FAILED), "updated_at")
    if source == Source.RETRIED:
        return _SourceQuery(
            DeliveryAttempt.objects.filter(outcome=AttemptOutcome.TRANSIENT), "finished_at"
        )
    if source == Source.SKIPPED:
        return _SourceQuery(NotificationSkip.objects.all(), "at", JsonArrayLength("message_ids"))
    return _SourceQuery(RejectedEvent.objects.all(), "received_at")


def _between(field: str, start: datetime, end: datetime) -> Q:
    """`start <= field <= end`: windows end at `now`, and a row stamped exactly `now` has
    happened."""
    return Q(**{f"{field}__gte": start, f"{field}__lte": end})


@dataclass(frozen=True)
class WindowTotals:
    window: Window
    sent: int
    failed: int
    retried: int  # delivery attempts that failed transiently and were rescheduled
    skipped: int  # notifications (not skip records)
    rejected: int

    def to_json(self) -> dict[str, int]:
        return {source.value: getattr(self, source.value) for source in Source}


def window_totals(
    now: datetime, windows: Sequence[Window] = tuple(Window)
) -> dict[Window, WindowTotals]:
    """Each source counted over each window: one query per source, whatever the windows."""
    longest = max(windows, key=lambda w: w.seconds)
    counts: dict[Window, dict[Source, int]] = {window: {} for window in windows}
    for source in Source:
        query = _source_query(source)
        row = query.queryset.filter(
            _between(query.time_field, now - timedelta(seconds=longest.seconds), now)
        ).aggregate(
            **{
                window.key: query.value(
                    _between(query.time_field, now - timedelta(seconds=window.seconds), now)
                )
                for window in windows
            }
        )
        for window in windows:
            counts[window][source] = int(row[window.key] or 0)
    return {
        window: WindowTotals(window, **{source.value: n for source, n in by_source.items()})
        for window, by_source in counts.items()
    }


@dataclass(frozen=True)
class Series:
    """Per-bucket counts for a chart; `starts[i]` is where bucket i begins (Unix seconds),
    each `step_seconds` long; the last ends at `now`."""

    window: Window
    starts: list[int]
    values: Mapping[Source, list[int]]

    def to_json(self) -> dict[str, object]:
        return {
            "window": self.window.key,
            "step_seconds": self.window.step_seconds,
            "step_label": self.window.step_label,
            "starts": self.starts,
            **{source.value: counts for source, counts in self.values.items()},
        }


def bucket_bounds(now: datetime, window: Window) -> list[tuple[datetime, datetime]]:
    step = timedelta(seconds=window.step_seconds)
    first = now - timedelta(seconds=window.seconds)
    return [(first + i * step, first + (i + 1) * step) for i in range(window.buckets)]


def series(now: datetime, window: Window) -> Series:
    """One query per source: a filtered count (or sum) per bucket over the window."""
    bounds = bucket_bounds(now, window)
    values: dict[Source, list[int]] = {}
    for source in Source:
        query = _source_query(source)
        field = query.time_field
        conditions = [
            Q(**{f"{field}__gte": start, f"{field}__lt": end}) for start, end in bounds[:-1]
        ]
        conditions.append(_between(field, bounds[-1][0], now))
        row = query.queryset.filter(_between(field, bounds[0][0], now)).aggregate(
            **{f"b{i}": query.value(condition) for i, condition in enumerate(conditions)}
        )
        values[source] = [int(row[f"b{i}"] or 0) for i in range(len(conditions))]
    return Series(
        window=window, starts=[int(start.timestamp()) for start, _ in bounds], values=values
    )


def skipped_by_reason(now: datetime, window: Window) -> dict[str, int]:
    """Notifications skipped in the window, by reason; every reason present."""
    counts = dict.fromkeys(SkipReason.values, 0)
    rows = (
        NotificationSkip.objects.filter(
            _between("at", now - timedelta(seconds=window.seconds), now)
        )
        .order_by()
        .values_list("reason")
        .annotate(n=Coalesce(Sum(JsonArrayLength("message_ids")), 0))
    )
    for reason, n in rows:
        counts[reason] = int(n)
    return counts


@dataclass(frozen=True)
class LatencySummary:
    """Due-to-sent latency of the emails sent in a window: from the moment the batch fell
    due to the mail server accepting the email. Quantiles are interpolated within the
    histogram buckets (as Prometheus' histogram_quantile does), so they are estimates."""

    window: Window
    count: int
    p50_seconds: float | None
    p99_seconds: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "count": self.count,
            "p50_seconds": self.p50_seconds,
            "p99_seconds": self.p99_seconds,
        }


def latency(now: datetime, window: Window) -> LatencySummary:
    """One query: how many sent emails fall under each bucket bound."""
    sent = OutboundEmail.objects.filter(
        _between("updated_at", now - timedelta(seconds=window.seconds), now),
        status=EmailStatus.SENT,
        sent_at__isnull=False,
    ).alias(latency=ExpressionWrapper(F("sent_at") - F("due_at"), output_field=DurationField()))
    row = sent.aggregate(
        total=Count("pk"),
        **{
            f"le{i}": Count("pk", filter=Q(latency__lte=timedelta(seconds=bound)))
            for i, bound in enumerate(LATENCY_BOUNDS_SECONDS)
        },
    )
    cumulative = [int(row[f"le{i}"]) for i in range(len(LATENCY_BOUNDS_SECONDS))]
    total = int(row["total"])
    return LatencySummary(
        window=window,
        count=total,
        p50_seconds=bucket_quantile(0.5, LATENCY_BOUNDS_SECONDS, cumulative, total),
        p99_seconds=bucket_quantile(0.99, LATENCY_BOUNDS_SECONDS, cumulative, total),
    )


def bucket_quantile(
    q: float, bounds: Sequence[float], cumulative: Sequence[int], total: int
) -> float | None:
    """The q-quantile of a histogram given as cumulative counts at each upper bound (the
    last bucket, above every bound, holds `total - cumulative[-1]`).

    Linear interpolation inside the bucket the rank falls in, from 0 for the first bucket;
    a rank above the last bound answers that bound (there is no upper edge to interpolate
    to). None when there is nothing to measure.
    """
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0
    for bound, count in zip(bounds, cumulative, strict=True):
        if count >= rank and count > lower_count:
            fraction = (rank - lower_count) / (count - lower_count)
            return lower_bound + (bound - lower_bound) * max(0.0, min(1.0, fraction))
        lower_bound, lower_count = bound, count
    return float(bounds[-1]) if bounds else None
