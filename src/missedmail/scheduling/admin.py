"""Django admin for scheduled notifications and their records, all read-only.

A pending notification is never deleted here without a trace: the one change offered is
"cancel", which drops a user's pending notifications and records a skip with the reason
`cancelled` (behaviour §9, accountable).
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from missedmail.clock import SystemClock
from missedmail.core.admin import ReadOnlyAdmin
from missedmail.scheduling.adjustments import drop_pending_for_user
from missedmail.scheduling.models import NotificationSkip, RejectedEvent, ScheduledNotification
from missedmail.skips import SkipReason

logger = logging.getLogger(__name__)


@admin.register(ScheduledNotification)
class ScheduledNotificationAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "user_id",
        "message_id",
        "trigger",
        "scheduled_timestamp",
        "created_at",
        "compose_failures",
    )
    list_filter = ("trigger",)
    search_fields = ("user_id", "message_id")
    search_help_text = "A user id or a message id (exact)."
    ordering = ("scheduled_timestamp",)
    actions = ("cancel_for_users",)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("scheduling.delete_schedulednotification")

    @admin.action(
        description="Cancel ALL pending notifications of the selected rows' users",
        permissions=["cancel"],
    )
    def cancel_for_users(
        self, request: HttpRequest, queryset: QuerySet[ScheduledNotification]
    ) -> None:
        now = SystemClock().now()
        user_ids = sorted(set(queryset.values_list("user_id", flat=True)))
        with transaction.atomic():
            dropped = sum(
                drop_pending_for_user(user_id, reason=SkipReason.CANCELLED, now=now)
                for user_id in user_ids
            )
        logger.info(
            "action=ops_cancel operator=%s via=admin users=%d count=%d",
            request.user.get_username(),
            len(user_ids),
            dropped,
        )
        self.message_user(
            request,
            f"Cancelled {dropped} notifications of {len(user_ids)} users (recorded as skipped).",
            messages.SUCCESS,
        )


@admin.register(RejectedEvent)
class RejectedEventAdmin(ReadOnlyAdmin):
    # The payload is producer input and may be anything: on the detail page only.
    list_display = ("id", "received_at", "source", "reason", "field", "user_id", "message_id")
    list_filter = ("source",)
    search_fields = ("user_id", "message_id")
    search_help_text = "A user id or a message id (exact)."
    ordering = ("-received_at", "-id")


@admin.register(NotificationSkip)
class NotificationSkipAdmin(ReadOnlyAdmin):
    list_display = ("id", "user_id", "reason", "at", "message_ids")
    list_filter = ("reason",)
    search_fields = ("user_id",)
    search_help_text = "A user id (exact)."
    ordering = ("-at", "-id")
