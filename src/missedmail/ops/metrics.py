"""`/metrics`: the process's counters and histograms plus gauges read from the database.

The counters (`missedmail.health.metrics`) live in the process that updates them. The
queue-depth gauges describe the shared database, so they are computed at scrape time by
`DatabaseCollector`, whichever process is scraped. A database that cannot answer must not
break the scrape: the process metrics still matter most then, and
`missedmail_database_up` says 0.

With `PROMETHEUS_MULTIPROC_DIR` set (several web/worker processes behind one scrape
target, e.g. a multi-process HTTP server), counters are read from that folder through
`MultiProcessCollector` instead of this process's default registry.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from missedmail.clock import Clock
from missedmail.health import metrics as process_metrics  # noqa: F401 -- defines the counters
from missedmail.health.heartbeats import alive_count
from missedmail.ops.figures import outbox_backlog, scheduled_figures

logger = logging.getLogger(__name__)

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class DatabaseCollector:
    """Gauges of the scheduled-notification, outbox and heartbeat tables, queried per
    scrape. Each is bounded by the live working set (pending rows, undelivered emails,
    heartbeats), never by history, so a scrape stays cheap on tables of millions of rows."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "missedmail_database_up", "1 if the database answered this scrape's queries."
        )
        try:
            now = self._clock.now()
            scheduled = scheduled_figures(now)
            backlog = outbox_backlog()
            workers = alive_count(now)
        except Exception as error:  # fail soft: the process metrics are still answered
            logger.warning("action=metrics_database_failed error=%s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "missedmail_pending_notifications",
            "Scheduled notifications waiting, due or not.",
            value=scheduled.pending,
        )
        yield GaugeMetricFamily(
            "missedmail_due_notifications",
            "Scheduled notifications whose time has come.",
            value=scheduled.due,
        )
        yield GaugeMetricFamily(
            "missedmail_oldest_due_seconds",
            "How long the most overdue notification has been due (0 when none is due).",
            value=scheduled.oldest_due_seconds or 0.0,
        )
        by_status = GaugeMetricFamily(
            "missedmail_outbox_emails",
            "Emails still to deliver, by state (queued, sending, retrying).",
            labels=["status"],
        )
        for status, count in backlog.items():
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily(
            "missedmail_workers_alive",
            "Worker processes whose heartbeat is fresh (under 30 s old) and not stopped.",
            value=workers,
        )


class _Forward:
    """Collects another registry, so one scrape can join it with per-scrape collectors
    without registering those on the process-wide default registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


def scrape_registry(clock: Clock) -> CollectorRegistry:
    """A registry for one scrape: process metrics (this process's or, in multi-process
    mode, every process's) plus the database gauges."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        # prometheus_client leaves this constructor unannotated
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(DatabaseCollector(clock))
    return registry


def scrape(clock: Clock) -> bytes:
    """The Prometheus text exposition of everything above."""
    return generate_latest(scrape_registry(clock))
