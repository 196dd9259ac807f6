from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client, override_settings

from missedmail.clock import ManualClock
from missedmail.conf import Settings
from missedmail.health.heartbeats import register
from missedmail.health.metrics import EMAILS_SENT
from missedmail.ops.dependencies import OpsDependencies
from missedmail.outbox.models import EmailStatus
from tests.db.ops.conftest import ops_urlconf
from tests.db.ops.rows import outbound_email, scheduled
from tests.factories import Org

pytestmark = pytest.mark.django_db


def refuse_queries(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
) -> Any:
    raise OperationalError("the database is down")


def test_healthz_answers_ok_without_touching_the_database(ops_client: Client) -> None:
    with connection.execute_wrapper(refuse_queries):
        response = ops_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_200_with_the_report_when_everything_is_ready(
    ops_client: Client, clock: ManualClock
) -> None:
    register("host:1:a", "worker", clock.now())

    response = ops_client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations", "workers", "broker"}


def test_readyz_uses_the_injected_clock_for_worker_freshness(
    ops_client: Client, clock: ManualClock
) -> None:
    register("host:1:a", "worker", clock.now())
    clock.advance(45)

    response = ops_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["workers"]["ok"] is False


def test_readyz_is_503_when_the_broker_port_is_closed(
    clock: ManualClock, missedmail_settings: Settings
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = dataclasses.replace(
        missedmail_settings, amqp_url=f"amqp://guest:guest@127.0.0.1:{closed_port}/%2F"
    )
    register("host:1:a", "worker", clock.now())

    with override_settings(
        ROOT_URLCONF=ops_urlconf(OpsDependencies(clock=clock, settings=settings))
    ):
        response = Client().get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_readyz_is_503_when_the_database_does_not_answer(
    ops_client: Client, clock: ManualClock
) -> None:
    register("host:1:a", "worker", clock.now())

    with connection.execute_wrapper(refuse_queries):
        response = ops_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False


def test_probes_refuse_writes(ops_client: Client) -> None:
    assert ops_client.post("/healthz").status_code == 405


def test_metrics_is_prometheus_text_with_every_process_metric(ops_client: Client) -> None:
    response = ops_client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for name in (
        "missedmail_events_consumed_total",
        "missedmail_notifications_scheduled_total",
        "missedmail_emails_composed_total",
        "missedmail_emails_sent_total",
        "missedmail_emails_failed_total",
        "missedmail_email_retries_total",
        "missedmail_broker_reconnects_total",
        "missedmail_batch_size_bucket",
        "missedmail_due_to_sent_seconds_bucket",
        "missedmail_smtp_seconds_bucket",
    ):
        assert f"\n{name}" in text, name
    assert 'missedmail_events_rejected_total{source="queue"}' in text
    assert 'missedmail_notifications_skipped_total{reason="read"}' in text
    assert 'missedmail_notifications_skipped_total{reason="user_deactivated"}' in text


def test_metrics_shows_counter_increments(ops_client: Client) -> None:
    def emails_sent() -> float:
        text = ops_client.get("/metrics").content.decode()
        line = next(
            line for line in text.splitlines() if line.startswith("missedmail_emails_sent_total ")
        )
        return float(line.split()[1])

    before = emails_sent()
    EMAILS_SENT.inc(2)

    assert emails_sent() == before + 2


def test_metrics_has_database_gauges_computed_at_scrape_time(
    ops_client: Client, org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    scheduled(org, org.hamlet, now - timedelta(seconds=40))
    scheduled(org, org.othello, now + timedelta(seconds=60))
    outbound_email(org.hamlet, EmailStatus.FAILED, now)
    outbound_email(org.hamlet, EmailStatus.SENT, now)
    outbound_email(org.othello, EmailStatus.QUEUED, now)
    outbound_email(org.othello, EmailStatus.QUEUED, now)
    register("host:1:a", "worker", now)

    text = ops_client.get("/metrics").content.decode()

    assert "missedmail_database_up 1.0" in text
    assert "missedmail_pending_notifications 2.0" in text
    assert "missedmail_due_notifications 1.0" in text
    assert "missedmail_oldest_due_seconds 40.0" in text
    assert 'missedmail_outbox_emails{status="queued"} 2.0' in text
    assert 'missedmail_outbox_emails{status="retrying"} 0.0' in text
    assert 'missedmail_outbox_emails{status="sending"} 0.0' in text
    # History is counted by the counters, not by scanning the outbox at every scrape.
    assert 'status="sent"' not in text
    assert "missedmail_workers_alive 1.0" in text


def test_metrics_still_answers_with_process_metrics_when_the_database_is_down(
    ops_client: Client,
) -> None:
    with connection.execute_wrapper(refuse_queries):
        response = ops_client.get("/metrics")

    assert response.status_code == 200
    text = response.content.decode()
    assert "missedmail_database_up 0.0" in text
    assert "missedmail_emails_sent_total" in text
    assert "missedmail_pending_notifications" not in text


def test_metrics_in_multiprocess_mode_reads_the_folder_and_keeps_the_database_gauges(
    ops_client: Client, org: Org, clock: ManualClock, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    scheduled(org, org.hamlet, clock.now())

    response = ops_client.get("/metrics")

    assert response.status_code == 200
    text = response.content.decode()
    assert "missedmail_pending_notifications 1.0" in text
    # This process's counters live in memory, not in the (empty) folder.
    assert "missedmail_emails_sent_total" not in text


def test_the_service_urlconf_serves_the_probes_at_the_root() -> None:
    client = Client()

    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/metrics").status_code == 200
    assert client.get("/ops/").status_code == 302
