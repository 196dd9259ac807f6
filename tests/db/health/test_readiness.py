from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connection
from django.db.migrations.recorder import MigrationRecorder

from missedmail.clock import ManualClock
from missedmail.conf import Settings
from missedmail.health.heartbeats import register
from missedmail.health.readiness import check_readiness

pytestmark = pytest.mark.django_db


def with_broker(amqp_url: str | None) -> Settings:
    return dataclasses.replace(django_settings.MISSEDMAIL, amqp_url=amqp_url)


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port something listens on: the TCP connect succeeds (the backlog accepts it)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def refuse_queries(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
) -> Any:
    raise OperationalError("the database is down")


def test_ready_with_database_migrations_and_a_live_worker_and_no_broker_configured(
    clock: ManualClock,
) -> None:
    register("host:1:a", "worker", clock.now())

    report = check_readiness(clock.now(), with_broker(None))

    assert report.ok
    checks = report.to_json()["checks"]
    assert isinstance(checks, dict)
    assert checks["database"]["ok"]
    assert checks["migrations"] == {"ok": True, "detail": "all applied", "required": True}
    assert checks["workers"] == {"ok": True, "detail": "1 alive", "required": True}
    assert checks["broker"]["required"] is False
    assert report.to_json()["status"] == "ok"


def test_not_ready_without_a_fresh_worker_heartbeat(clock: ManualClock) -> None:
    register("host:1:a", "worker", clock.now())
    clock.advance(31)

    report = check_readiness(clock.now(), with_broker(None))

    assert not report.ok
    assert report.to_json()["status"] == "unavailable"
    assert [c.name for c in report.checks if not c.ok] == ["workers"]


def test_a_missing_worker_is_reported_but_not_required_when_asked(clock: ManualClock) -> None:
    report = check_readiness(clock.now(), with_broker(None), require_worker=False)

    assert report.ok
    workers = next(c for c in report.checks if c.name == "workers")
    assert (workers.ok, workers.required) == (False, False)


def test_ready_when_the_configured_broker_accepts_connections(
    clock: ManualClock, listening_port: int
) -> None:
    register("host:1:a", "worker", clock.now())

    report = check_readiness(
        clock.now(), with_broker(f"amqp://guest:guest@127.0.0.1:{listening_port}/%2F")
    )

    assert report.ok
    broker = next(c for c in report.checks if c.name == "broker")
    assert broker.ok
    assert broker.required


def test_not_ready_when_the_configured_broker_port_is_closed(
    clock: ManualClock, closed_port: int
) -> None:
    register("host:1:a", "worker", clock.now())

    report = check_readiness(
        clock.now(), with_broker(f"amqp://guest:secret-password@127.0.0.1:{closed_port}/%2F")
    )

    assert not report.ok
    broker = next(c for c in report.checks if c.name == "broker")
    assert not broker.ok
    assert broker.detail == f"127.0.0.1:{closed_port} unreachable"
    assert "secret-password" not in str(report.to_json())


def test_not_ready_when_the_database_does_not_answer(clock: ManualClock) -> None:
    register("host:1:a", "worker", clock.now())

    with connection.execute_wrapper(refuse_queries):
        report = check_readiness(clock.now(), with_broker(None))

    assert not report.ok
    failed = {c.name: c.detail for c in report.checks if not c.ok}
    assert failed == {
        "database": "unreachable (OperationalError)",
        "migrations": "database unreachable",
        "workers": "database unreachable",
    }


def test_not_ready_while_a_migration_is_unapplied(clock: ManualClock) -> None:
    register("host:1:a", "worker", clock.now())
    MigrationRecorder(connection).record_unapplied("health", "0001_initial")

    report = check_readiness(clock.now(), with_broker(None))

    assert not report.ok
    migrations = next(c for c in report.checks if c.name == "migrations")
    assert not migrations.ok
    assert migrations.detail.endswith("unapplied; run migrate")
