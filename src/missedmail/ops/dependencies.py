"""What the operations views need from outside: the time, the settings, a way to send a
test email and a way to ask RabbitMQ about its queue.

Built once in `missedmail.ops.urls` for the running service; tests build the URL patterns
with their own (a `ManualClock`, a `MemoryTransport`, settings pointing at a closed broker
port, a fake queue probe).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings as django_settings

from missedmail.clock import Clock, SystemClock
from missedmail.conf import Settings
from missedmail.ops.queueprobe import CachedQueueProbe
from missedmail.outbox.transports import Transport, transport_from_settings


@dataclass(frozen=True)
class OpsDependencies:
    clock: Clock
    settings: Settings
    # /readyz fails without a live worker; see health.readiness.check_readiness.
    require_worker: bool = True
    # A new transport per test email (closed after it): the web process keeps no SMTP
    # connection open between the rare test emails. None: the service's own transport.
    transport_factory: Callable[[], Transport] | None = None
    queue_probe: CachedQueueProbe = field(default_factory=CachedQueueProbe)
    # How often the dashboard asks for fresh figures.
    refresh_seconds: int = 10

    def new_transport(self) -> Transport:
        if self.transport_factory is not None:
            return self.transport_factory()
        return transport_from_settings(self.settings)

    @classmethod
    def from_django_settings(cls) -> OpsDependencies:
        settings = django_settings.MISSEDMAIL
        if not isinstance(settings, Settings):
            raise TypeError("settings.MISSEDMAIL must be a missedmail.conf.Settings")
        return cls(clock=SystemClock(), settings=settings)
