from __future__ import annotations

from datetime import timedelta

import pytest

from missedmail.clock import ManualClock
from missedmail.ops.activity import (
    LATENCY_BOUNDS_SECONDS,
    Source,
    Window,
    bucket_quantile,
    latency,
    series,
    skipped_by_reason,
    window_totals,
)
from missedmail.ops.figures import status_figures, status_lines
from missedmail.outbox.models import AttemptOutcome, EmailStatus
from missedmail.skips import SkipReason
from tests.db.ops.rows import attempt, outbound_email, rejected, scheduled, skip
from tests.factories import Org


@pytest.mark.parametrize(
    ("q", "cumulative", "total", "expected"),
    [
        (0.5, [0, 10, 10], 10, 1.5),  # all in (1, 2]: the middle of that bucket
        (0.5, [10, 10, 10], 10, 0.5),  # all in (0, 1]
        (0.99, [5, 5, 10], 10, 4.94),  # rank 9.9 of 10: 98 % into (2, 5]
        (0.5, [0, 0, 0], 4, 5.0),  # all above the last bound: that bound
        (0.5, [0, 0, 0], 0, None),  # nothing measured
    ],
)
def test_quantiles_are_interpolated_within_the_bucket_of_their_rank(
    q: float, cumulative: list[int], total: int, expected: float | None
) -> None:
    result = bucket_quantile(q, [1.0, 2.0, 5.0], cumulative, total)

    assert result == (pytest.approx(expected) if expected is not None else None)


def test_the_latency_buckets_are_those_of_the_prometheus_histogram() -> None:
    assert LATENCY_BOUNDS_SECONDS[0] == 0.05
    assert LATENCY_BOUNDS_SECONDS[-1] == 3600


@pytest.mark.django_db
def test_windows_include_their_start_and_now_and_nothing_after_now(
    org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(hours=1))
    outbound_email(org.hamlet, EmailStatus.SENT, now)
    outbound_email(org.hamlet, EmailStatus.SENT, now + timedelta(seconds=1))
    outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(hours=1, seconds=1))

    totals = window_totals(now)

    assert totals[Window.HOUR].sent == 2
    assert totals[Window.DAY].sent == 3


@pytest.mark.django_db
def test_each_source_counts_its_own_rows(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    failed = outbound_email(org.hamlet, EmailStatus.FAILED, now - timedelta(minutes=2))
    attempt(failed, AttemptOutcome.TRANSIENT, now - timedelta(minutes=5))
    attempt(failed, AttemptOutcome.TRANSIENT, now - timedelta(minutes=4))
    attempt(failed, AttemptOutcome.PERMANENT, now - timedelta(minutes=2))
    outbound_email(org.hamlet, EmailStatus.RETRYING, now)  # still trying: not failed
    skip(org.hamlet, 3, SkipReason.READ, now - timedelta(minutes=1))
    skip(org.othello, 2, SkipReason.USER_DEACTIVATED, now - timedelta(hours=2))
    rejected(now - timedelta(minutes=30))

    hour = window_totals(now)[Window.HOUR]

    assert hour.to_json() == {"sent": 0, "failed": 1, "retried": 2, "skipped": 3, "rejected": 1}
    by_reason = skipped_by_reason(now, Window.DAY)
    assert (by_reason["read"], by_reason["user_deactivated"], by_reason["deleted"]) == (3, 2, 0)


@pytest.mark.django_db
def test_series_buckets_are_consecutive_and_the_last_ends_at_now(
    org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    outbound_email(org.hamlet, EmailStatus.SENT, now)  # the last bucket includes now
    outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(seconds=60))  # a new bucket
    outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(seconds=61))
    outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(seconds=3600))  # the first

    result = series(now, Window.HOUR)

    sent = result.values[Source.SENT]
    assert len(sent) == 60
    assert (sent[0], sent[-2], sent[-1]) == (1, 1, 2)
    assert sum(sent) == 4
    assert result.starts[1] - result.starts[0] == 60
    assert result.starts[0] == int((now - timedelta(hours=1)).timestamp())


@pytest.mark.django_db
def test_latency_counts_only_sent_emails_of_the_window(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    for seconds in (0.3, 0.3, 0.3, 40):
        outbound_email(org.hamlet, EmailStatus.SENT, now, due_at=now - timedelta(seconds=seconds))
    outbound_email(org.hamlet, EmailStatus.FAILED, now, due_at=now - timedelta(hours=3))
    outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(hours=2))

    summary = latency(now, Window.HOUR)

    assert summary.count == 4
    assert summary.p50_seconds == pytest.approx(0.25 + 0.25 * (2 / 3))
    assert summary.p99_seconds == pytest.approx(30 + 30 * (3.96 - 3))


@pytest.mark.django_db
def test_the_status_lines_are_the_headline_then_the_totals(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    scheduled(org, org.hamlet, now - timedelta(seconds=90))
    outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(hours=3))
    outbound_email(org.hamlet, EmailStatus.QUEUED, now)

    lines = status_lines(status_figures(now))

    assert lines[0] == "pending notifications: 1 (1 due, oldest due for 1 min 30 s)"
    assert lines[2] == "outbox to deliver: queued 1, sending 0, retrying 0"
    assert lines[3].startswith("last hour: sent 0,")
    assert lines[4].startswith("last 24 h: sent 1,")
    assert "  outbox: queued 1, sending 0, sent 1, retrying 0, failed 0" in lines
