"""RabbitMQ queue depth and consumer count for the dashboard, asked at most every few
seconds however many dashboards are open.

Each question opens a short-lived AMQP connection (`missedmail.queue.depth`); without the
cache every open dashboard would open one per refresh. The cache belongs to the
`OpsDependencies` of the running service (one per process), not to the module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from missedmail.clock import Clock
from missedmail.queue.depth import queue_depth

DEFAULT_TTL_SECONDS = 5.0

# (messages ready, consumers), or None when the broker cannot be reached.
Probe = Callable[[str], tuple[int, int] | None]


@dataclass(frozen=True)
class QueueState:
    configured: bool
    reachable: bool
    messages: int | None
    consumers: int | None
    checked_at: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "configured": self.configured,
            "reachable": self.reachable,
            "messages": self.messages,
            "consumers": self.consumers,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
        }


NOT_CONFIGURED = QueueState(
    configured=False, reachable=False, messages=None, consumers=None, checked_at=None
)


class CachedQueueProbe:
    """Remembers the last answer for `ttl_seconds`; thread-safe (the HTTP server has
    several threads). Only one thread asks the broker at a time."""

    def __init__(
        self, probe: Probe = queue_depth, *, ttl_seconds: float = DEFAULT_TTL_SECONDS
    ) -> None:
        self._probe = probe
        self._ttl = timedelta(seconds=ttl_seconds)
        self._lock = threading.Lock()
        self._last: tuple[str, QueueState] | None = None

    def state(self, amqp_url: str | None, clock: Clock) -> QueueState:
        if amqp_url is None:
            return NOT_CONFIGURED
        with self._lock:
            now = clock.now()
            if self._last is not None:
                url, state = self._last
                if url == amqp_url and state.checked_at and now - state.checked_at < self._ttl:
                    return state
            answer = self._probe(amqp_url)
            state = QueueState(
                configured=True,
                reachable=answer is not None,
                messages=answer[0] if answer else None,
                consumers=answer[1] if answer else None,
                checked_at=now,
            )
            self._last = (amqp_url, state)
            return state
