"""Readiness: can this deployment do its job right now? (contract §4, `/readyz`)

Each check answers ok/detail and never raises: a probe must always get an answer, and a
failing dependency is exactly what it asks about. Details are short and carry no secrets
(the endpoint needs no login); the full error goes to the log.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from missedmail.conf import Settings
from missedmail.health.heartbeats import ALIVE_MAX_AGE_SECONDS, alive_count

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 1.0
AMQP_DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    # Informational checks are reported but do not make the deployment unready.
    required: bool = True

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "detail": self.detail, "required": self.required}


@dataclass(frozen=True)
class ReadinessReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks if check.required)

    def to_json(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else "unavailable",
            "checks": {check.name: check.to_json() for check in self.checks},
        }


def check_readiness(
    now: datetime,
    settings: Settings,
    *,
    require_worker: bool = True,
    broker_timeout_seconds: float = BROKER_TIMEOUT_SECONDS,
) -> ReadinessReport:
    """Database reachable, migrations applied, broker reachable (when `AMQP_URL` is set),
    and a worker alive (a heartbeat within 30 s). `require_worker=False` reports the last
    one without letting it fail the probe (an HTTP-only deployment whose API must stay in
    the load balancer while workers restart)."""
    database = check_database()
    checks = [database]
    if database.ok:
        checks.append(check_migrations())
        checks.append(check_workers(now, required=require_worker))
    else:
        checks.append(Check("migrations", ok=False, detail="database unreachable"))
        checks.append(
            Check("workers", ok=False, detail="database unreachable", required=require_worker)
        )
    checks.append(check_broker(settings.amqp_url, timeout_seconds=broker_timeout_seconds))
    return ReadinessReport(tuple(checks))


def check_database() -> Check:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any failure means "not reachable"; the probe must answer
        logger.warning("action=readiness_failed check=database error=%s", type(error).__name__)
        return Check("database", ok=False, detail=f"unreachable ({type(error).__name__})")
    return Check("database", ok=True, detail=connection.vendor)


def check_migrations() -> Check:
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as error:  # an inconsistent history must be reported, not raised
        logger.warning("action=readiness_failed check=migrations error=%s", type(error).__name__)
        return Check("migrations", ok=False, detail=f"cannot check ({type(error).__name__})")
    if plan:
        return Check("migrations", ok=False, detail=f"{len(plan)} unapplied; run migrate")
    return Check("migrations", ok=True, detail="all applied")


def check_workers(now: datetime, *, required: bool = True) -> Check:
    try:
        count = alive_count(now)
    except Exception as error:  # e.g. the table is missing before the first migrate
        logger.warning("action=readiness_failed check=workers error=%s", type(error).__name__)
        return Check("workers", ok=False, detail="cannot read heartbeats", required=required)
    if count == 0:
        return Check(
            "workers",
            ok=False,
            detail=f"no worker heartbeat in the last {ALIVE_MAX_AGE_SECONDS} s",
            required=required,
        )
    return Check("workers", ok=True, detail=f"{count} alive", required=required)


def check_broker(amqp_url: str | None, *, timeout_seconds: float) -> Check:
    """A TCP connect to the broker's host and port.

    Not an AMQP handshake: that needs pika (only `missedmail.queue` imports it), and a
    half-done handshake on every probe fills RabbitMQ's log with warnings. A refused or
    timed-out connect is what an outage looks like; the consumer reports the rest through
    `missedmail_broker_reconnects_total`.
    """
    if amqp_url is None:
        return Check("broker", ok=True, detail="not configured (AMQP_URL unset)", required=False)
    parts = urlsplit(amqp_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or AMQP_DEFAULT_PORTS.get(parts.scheme, 5672)
    try:
        with socket.create_connection((host, port), timeout=timeout_seconds):
            pass
    except OSError as error:
        logger.warning("action=readiness_failed check=broker error=%s", type(error).__name__)
        return Check("broker", ok=False, detail=f"{host}:{port} unreachable")
    return Check("broker", ok=True, detail=f"{host}:{port} reachable")
