"""Django admin for worker heartbeats: read-only; rows of long-gone workers may be deleted."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from missedmail.core.admin import ReadOnlyAdmin
from missedmail.health.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "kind",
        "started_at",
        "last_seen",
        "stopped_at",
        "last_batch_at",
        "emails_composed",
        "emails_sent",
    )
    list_filter = ("kind",)
    search_fields = ()
    ordering = ("-last_seen",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A deleted row of a live worker comes back at its next beat; nothing depends on it.
        return request.user.has_perm("health.delete_workerheartbeat")
