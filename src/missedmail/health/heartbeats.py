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
from datetime import datetime, timedelta

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
) -> None:
    """Record that the worker is alive; counters left as None keep their stored value.

    One UPDATE in the common case. A row that has gone (pruned by `forget_stopped`, or
    the database was restored) is registered again.
    """
    changes: dict[str, object] = {"last_seen": now}
    if emails_composed is not None:
        changes["emails_composed"] = emails_composed
    if emails_sent is not None:
        changes["emails_sent"] = emails_sent
    if last_batch_at is not None:
        changes["last_batch_at"] = last_batch_at
    if WorkerHeartbeat.objects.filter(name=name).update(**changes):
        return
    register(name, kind, now)
    WorkerHeartbeat.objects.filter(name=name).update(**changes)


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
