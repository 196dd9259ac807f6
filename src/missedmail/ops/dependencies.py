"""What the operations views need from outside: the time and the settings.

Built once in `missedmail.ops.urls` for the running service; tests build the URL patterns
with their own (a `ManualClock`, settings pointing at a closed broker port).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings as django_settings

from missedmail.clock import Clock, SystemClock
from missedmail.conf import Settings


@dataclass(frozen=True)
class OpsDependencies:
    clock: Clock
    settings: Settings
    # /readyz fails without a live worker; see health.readiness.check_readiness.
    require_worker: bool = True

    @classmethod
    def from_django_settings(cls) -> OpsDependencies:
        settings = django_settings.MISSEDMAIL
        if not isinstance(settings, Settings):
            raise TypeError("settings.MISSEDMAIL must be a missedmail.conf.Settings")
        return cls(clock=SystemClock(), settings=settings)
