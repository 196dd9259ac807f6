"""The process's Prometheus metrics: counters and histograms the worker threads update.

Defined here, not in `missedmail.ops`, so a worker can import them without importing views.
They live on prometheus_client's default registry because that is where its
multi-process mode (`PROMETHEUS_MULTIPROC_DIR`) finds them: the value class is chosen when
prometheus_client is first imported, so that variable must be set before the process
starts, never at run time. The gauges read from the database at scrape time are in
`missedmail.ops.metrics`.

Usage from the worker:  `EMAILS_SENT.inc()`, `EVENTS_REJECTED.labels(source="queue").inc()`,
`SMTP_SECONDS.observe(elapsed)`; after each sender round, `observe_deliveries(report.outcomes)`
updates the sent/failed/retried counters and both latency histograms at once.

docs/metrics.md describes each metric for operators; keep it in step with this file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from prometheus_client import Counter, Histogram

from missedmail.skips import SkipReason

# The values of `missedmail.scheduling.models.EventSource`; repeated because health sits
# below scheduling in the layers (tests/db/health/test_metrics.py keeps the two equal).
EVENT_SOURCES = ("queue", "api", "cli")

EVENTS_CONSUMED = Counter(
    "missedmail_events_consumed",
    "Missed-message events taken from the queue, the HTTP API or the CLI (valid or not).",
)
EVENTS_REJECTED = Counter(
    "missedmail_events_rejected",
    "Events recorded as rejected (malformed, unknown user or message, ...).",
    ["source"],
)
NOTIFICATIONS_SCHEDULED = Counter(
    "missedmail_notifications_scheduled",
    "Scheduled-notification rows created by events.",
)
NOTIFICATIONS_SKIPPED = Counter(
    "missedmail_notifications_skipped",
    "Notifications that did not become an email, by recorded reason.",
    ["reason"],
)
EMAILS_COMPOSED = Counter(
    "missedmail_emails_composed",
    "Emails composed and written to the outbox.",
)
EMAILS_SENT = Counter(
    "missedmail_emails_sent",
    "Emails accepted by the SMTP server (or written to the outbox folder).",
)
EMAILS_FAILED = Counter(
    "missedmail_emails_failed",
    "Emails given up: a permanent SMTP failure or the attempts exhausted.",
)
EMAIL_RETRIES = Counter(
    "missedmail_email_retries",
    "Delivery attempts that failed transiently and were rescheduled.",
)
MESSAGES_RENDERED_AHEAD = Counter(
    "missedmail_messages_rendered_ahead",
    "Notified messages rendered before their due time, in the worker's idle time.",
)
BROKER_RECONNECTS = Counter(
    "missedmail_broker_reconnects",
    "Times the queue consumer reconnected to RabbitMQ after losing the connection.",
)

BATCH_SIZE = Histogram(
    "missedmail_batch_size",
    "Notifications claimed together for one user's batch.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
# Shared with the dashboard's p50/p99 (missedmail.ops.activity), so both are as coarse.
DUE_TO_SENT_BUCKETS_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
DUE_TO_SENT_SECONDS = Histogram(
    "missedmail_due_to_sent_seconds",
    "From the moment a batch fell due to its email being accepted for delivery.",
    buckets=DUE_TO_SENT_BUCKETS_SECONDS,
)
SMTP_SECONDS = Histogram(
    "missedmail_smtp_seconds",
    "Duration of one SMTP delivery attempt, successful or not.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

# Every label value exists from the start, so dashboards and alerts see an explicit 0
# rather than a missing series until the first occurrence.
for _source in EVENT_SOURCES:
    EVENTS_REJECTED.labels(source=_source)
for _reason in SkipReason:
    NOTIFICATIONS_SKIPPED.labels(reason=_reason.value)


class DeliveryObservation(Protocol):
    """What `observe_deliveries` reads of one delivery attempt: the fields of
    `missedmail.outbox.sender.DeliveryOutcome` (health cannot import the outbox, a sibling
    layer, so the shape is stated here and the outcome fits it structurally)."""

    @property
    def status(self) -> str: ...  # the email's status after the attempt
    @property
    def started_at(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def recorded(self) -> bool: ...


def observe_deliveries(outcomes: Iterable[DeliveryObservation]) -> None:
    """Count a sender round's attempts: every attempt's SMTP duration; and, for outcomes
    that were recorded (not superseded by another sender), sent / retried / failed and the
    due-to-sent latency of each sent email."""
    for outcome in outcomes:
        SMTP_SECONDS.observe(max(0.0, (outcome.finished_at - outcome.started_at).total_seconds()))
        if not outcome.recorded:
            continue
        if outcome.status == "sent":
            EMAILS_SENT.inc()
            DUE_TO_SENT_SECONDS.observe(
                max(0.0, (outcome.finished_at - outcome.due_at).total_seconds())
            )
        elif outcome.status == "retrying":
            EMAIL_RETRIES.inc()
        elif outcome.status == "failed":
            EMAILS_FAILED.inc()


def process_totals() -> tuple[int, int]:
    """(emails composed, emails sent) by this process since it started: the running totals
    a worker passes to `heartbeats.beat`, read from the counters it already keeps."""
    return int(_current(EMAILS_COMPOSED)), int(_current(EMAILS_SENT))


def _current(counter: Counter) -> float:
    # This process's own value, in single- and multi-process mode alike (prometheus_client
    # has no public getter for an unlabelled counter's value).
    return float(counter._value.get())
