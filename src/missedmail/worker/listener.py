"""Cross-process wake-ups on PostgreSQL: LISTEN for the NOTIFY that ingest sends.

A notification carries the due time of new work (see `missedmail.scheduling.wakeups`); the
batcher of every worker process hears it and moves its wake-up earlier if needed. It is an
optimisation only: if this connection is down, the heartbeat's periodic look at the earliest
due time still wakes the batcher within one heartbeat interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from django.db import connections

from missedmail.scheduling.wakeups import NOTIFY_CHANNEL
from missedmail.worker.loop import backoff_seconds

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often the listening thread looks at `stop`


def _connection_params() -> dict[str, Any]:
    params = dict(connections["default"].get_connection_params())
    for django_only in ("server_side_binding", "pool", "isolation_level", "assume_role"):
        params.pop(django_only, None)
    return params


class DueListener:
    def __init__(self, on_due: Callable[[datetime], None], stop: threading.Event) -> None:
        self._on_due = on_due
        self._stop = stop

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(**_connection_params(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    if failures:
                        logger.info("action=listener_connected after_failures=%d", failures)
                    failures = 0
                    self._listen(conn)
            except psycopg.Error as error:
                failures += 1
                if failures == 1:  # one line per outage, not one per retry
                    logger.warning("action=listener_unavailable error=%s", type(error).__name__)
                self._stop.wait(backoff_seconds(failures))

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        while not self._stop.is_set():
            for notify in conn.notifies(timeout=POLL_SECONDS):
                try:
                    due = datetime.fromisoformat(notify.payload)
                except ValueError:
                    continue  # not ours; the channel name is shared with nobody, but be safe
                self._on_due(due)
