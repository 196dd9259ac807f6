"""The process's Prometheus metrics: counters and histograms the worker threads update.

Defined here, not in `missedmail.ops`, so a worker can import them without importing views.
They live on prometheus_client's default registry because that is where its
multi-process mode (`PROMETHEUS_MULTIPROC_DIR`) finds them: the value class is chosen when
prometheus_client is first imported, so that variable must be set before the process
starts, never at run time. The gauges read from the database at scrape time are in
`missedmail.ops.metrics`.

Usage from the worker:  `EMAILS_SENT.inc()`, `EVENTS_REJECTED.labels(source="queue").inc()`,
`SMTP_SECONDS.observe(elapsed)`.
"""

from __future__ import annotations

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
BROKER_RECONNECTS = Counter(
    "missedmail_broker_reconnects",
    "Times the queue consumer reconnected to RabbitMQ after losing the connection.",
)

BATCH_SIZE = Histogram(
    "missedmail_batch_size",
    "Notifications claimed together for one user's batch.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
DUE_TO_SENT_SECONDS = Histogram(
    "missedmail_due_to_sent_seconds",
    "From the moment a batch fell due to its email being accepted for delivery.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
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
