"""Worker heartbeats: each worker process says it is alive every few seconds.

One row per process, named `host:pid:random` so a restarted process (same pid in a new
container) never takes over the row of the one before. Readiness and the operator page
read them; nothing coordinates through them (claims are `SKIP LOCKED`, not leases on
workers).

Counters passed to `beat` are the process's running totals since it started, not
increments, so a lost or repeated beat never skews them.
"""

from __future__ import annotations

import enum
import os
import secrets
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import ExpressionWrapper, Field, QuerySet, Subquery

from missedmail.health.models import WorkerHeartbeat

ALIVE_MAX_AGE_SECONDS = 30
MAX_HOST_CHARS = 150  # leaves room for ":pid:random" in the 200-character name


class HeartbeatState(enum.StrEnum):
    ALIVE = "alive"
    STALE = "stale"  # stopped beating without saying so: crashed, killed or hung
    STOPPED = "stopped"  # shut down cleanly


def worker_name() -> str:
    """A name for this process's heartbeat row, unique across hosts and restarts."""
    host = socket.gethostname()[:MAX_HOST_CHARS] or "localhost"
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"


def register(name: str, kind: str, now: datetime) -> None:
    """Start (or restart) the heartbeat of a worker, with its counters at zero."""
    WorkerHeartbeat.objects.update_or_create(
        name=name,
        defaults={
            "kind": kind,
            "started_at": now,
            "last_seen": now,
            "last_batch_at": None,
            "emails_composed": 0,
            "emails_sent": 0,
            "stopped_at": None,
        },
    )


def beat(
    name: str,
    kind: str,
    now: datetime,
    *,
    emails_composed: int | None = None,
    emails_sent: int | None = None,
    last_batch_at: datetime | None = None,
    reading: Sequence[QuerySet[Any, Any]] = (),
) -> list[Any]:
    """Record that the worker is alive; counters left as None keep their stored value.

    `reading` are one-value queries (one column, at most one row: the earliest due time of
    some work, say) answered along with the beat; their values come back in order, None
    for a query that finds no row. On PostgreSQL the whole beat is one statement, so one
    round trip and one transaction every few seconds for as long as the process lives.
    (There a query of the heartbeat table itself does not see this beat's changes: a
    statement's subqueries read the database as it was when the statement began.)

    A row that has gone (pruned by `forget_stopped`, or the database was restored) is
    registered again.
    """
    changes: dict[str, object] = {"last_seen": now}
    if emails_composed is not None:
        changes["emails_composed"] = emails_composed
    if emails_sent is not None:
        changes["emails_sent"] = emails_sent
    if last_batch_at is not None:
        changes["last_batch_at"] = last_batch_at
    values = _beat(name, changes, reading)
    if values is None:
        register(name, kind, now)
        values = _beat(name, changes, reading)
    # Only a row deleted again between the two statements could leave nothing to read.
    return values if values is not None else [None] * len(reading)


def _beat(
    name: str, changes: dict[str, object], reading: Sequence[QuerySet[Any, Any]]
) -> list[Any] | None:
    """Update the row and answer `reading`; None when the row does not exist."""
    if connection.vendor != "postgresql":
        # SQLite runs in this process, where two statements cost no more than one (and
        # UPDATE ... RETURNING needs SQLite 3.35 or later).
        if not WorkerHeartbeat.objects.filter(name=name).update(**changes):
            return None
        if not reading:
            return []
        row = (
            WorkerHeartbeat.objects.filter(name=name)
            .values_list(*(Subquery(query) for query in reading))
            .first()
        )
        return None if row is None else list(row)
    fields = [_concrete_field(column) for column in changes]
    assignments = ", ".join(f'"{field.column}" = %s' for field in fields)
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, changes.values(), strict=True)
    ]
    params.append(name)
    compiled = [query.query.sql_with_params() for query in reading]
    for _, query_params in compiled:
        params += query_params
    returning = ", ".join(f"({sql})" for sql, _ in compiled) or "1"
    with connection.cursor() as cursor:
        # Names come from our model and the queries' own SQL; every value is a parameter.
        cursor.execute(
            f'UPDATE "{WorkerHeartbeat._meta.db_table}" SET {assignments} '  # noqa: S608
            f'WHERE "name" = %s RETURNING {returning}',
            params,
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return [_converted(value, query) for value, query in zip(row, reading, strict=False)]


def _concrete_field(name: str) -> Field[Any, Any]:
    field = WorkerHeartbeat._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{name} is not a column of the heartbeat table")
    return field


def _converted(value: Any, query: QuerySet[Any, Any]) -> Any:
    """A raw column value as the ORM would have returned it (the converters of the
    query's one column, e.g. a datetime made aware)."""
    subquery = Subquery(query)
    expression = ExpressionWrapper(subquery, output_field=subquery.output_field)
    converters = [
        *connection.ops.get_db_converters(expression),
        *expression.get_db_converters(connection),
    ]
    for converter in converters:
        value = converter(value, expression, connection)
    return value


def mark_stopped(name: str, now: datetime) -> None:
    """A clean shutdown: the worker is gone on purpose, not stale."""
    WorkerHeartbeat.objects.filter(name=name).update(last_seen=now, stopped_at=now)


def alive(now: datetime, max_age_seconds: float = ALIVE_MAX_AGE_SECONDS) -> list[WorkerHeartbeat]:
    """Workers that beat within `max_age_seconds` and have not stopped, by name."""
    cutoff = now - timedelta(seconds=max_age_seconds)
    return list(
        WorkerHeartbeat.objects.filter(last_seen__gte=cutoff, stopped_at__isnull=True).order_by(
            "name"
        )
    )


def alive_count(now: datetime, max_age_seconds: float = ALIVE_MAX_AGE_SECONDS) -> int:
    cutoff = now - timedelta(seconds=max_age_seconds)
    return WorkerHeartbeat.objects.filter(last_seen__gte=cutoff, stopped_at__isnull=True).count()


def recent(limit: int = 20) -> list[WorkerHeartbeat]:
    """The most recently seen workers, alive or not (the operator page's table)."""
    return list(WorkerHeartbeat.objects.order_by("-last_seen", "name")[:limit])


def heartbeat_state(
    heartbeat: WorkerHeartbeat, now: datetime, max_age_seconds: float = ALIVE_MAX_AGE_SECONDS
) -> HeartbeatState:
    if heartbeat.stopped_at is not None:
        return HeartbeatState.STOPPED
    if heartbeat.last_seen >= now - timedelta(seconds=max_age_seconds):
        return HeartbeatState.ALIVE
    return HeartbeatState.STALE


def forget_stopped(now: datetime, older_than_seconds: float = 7 * 24 * 3600) -> int:
    """Delete rows of workers not seen for a long time (every restart adds a row)."""
    cutoff = now - timedelta(seconds=older_than_seconds)
    deleted, _ = WorkerHeartbeat.objects.filter(last_seen__lt=cutoff).delete()
    return deleted
