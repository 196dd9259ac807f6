"""Telling batchers that new work falls due earlier than they planned to wake.

Two audiences: batchers in this process (the `run` command serves the API and runs the
batcher in one process) hear it through an in-process subscription; batchers in other
processes hear it through PostgreSQL's NOTIFY, which is delivered when the writing
transaction commits, so a woken batcher always finds the rows. Over-notifying is harmless
(a batcher that wakes early finds nothing due and sleeps again); under-notifying would only
delay work until the batcher's bounded re-check (docs/decisions/0002-punctual-batcher.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from django.db import connection

NOTIFY_CHANNEL = "missedmail_due"

Listener = Callable[[datetime], None]

# One process-wide list: the wake-up is an event of this process, not a client object, and
# the composition root (missedmail.worker) subscribes its batcher at start and leaves at stop.
_listeners: list[Listener] = []
_listeners_lock = threading.Lock()


def subscribe(listener: Listener) -> None:
    with _listeners_lock:
        _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


def announce_due(due: datetime | None) -> None:
    """Call after (or inside) the transaction that created or moved rows due at `due`."""
    if due is None:
        return
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(due)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, due.isoformat()])
