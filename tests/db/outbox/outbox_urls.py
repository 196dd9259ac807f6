"""The outbox's API routes on a manual clock, mounted as `api/urls.py` mounts them."""

from __future__ import annotations

from django.urls import include, path

from missedmail.api.endpoints import ApiContext
from missedmail.api.views.outbox import outbox_urlpatterns
from missedmail.clock import ManualClock

CLOCK = ManualClock()

urlpatterns = [path("api/v1/", include(outbox_urlpatterns(ApiContext(clock=CLOCK))))]
