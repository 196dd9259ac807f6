"""Django admin for the outbox, read-only: no outbox row is added, changed or deleted here.

An email's state only moves through the sender's state machine (docs/decisions/0003);
an edit here could put a row in `sending` without a lease, or lose an email that was
never delivered. The list shows ids and states only: the subject names a topic, which is
content, so it is on the detail page with the rest of the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from missedmail.core.admin import ReadOnlyAdmin
from missedmail.outbox.models import DeliveryAttempt, OutboundEmail, ReplyAddress

MIME_PREVIEW_BYTES = 200_000

if TYPE_CHECKING:
    TabularInline = admin.TabularInline[Any, Any]
else:  # django-stubs makes it generic; at run time it is not subscriptable
    TabularInline = admin.TabularInline


class DeliveryAttemptInline(TabularInline):
    model = DeliveryAttempt
    fields = ("number", "outcome", "started_at", "finished_at", "response")
    readonly_fields = fields
    ordering = ("number",)
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "user_id",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "sent_at",
        "updated_at",
    )
    list_filter = ("status",)
    search_fields = ("id", "user_id")
    search_help_text = "An email id or a user id (exact)."
    ordering = ("-created_at", "-id")
    exclude = ("mime",)
    readonly_fields = ("mime_source",)
    inlines = (DeliveryAttemptInline,)

    @admin.display(description="MIME (as sent)")
    def mime_source(self, email: OutboundEmail) -> SafeString:
        raw = bytes(email.mime)
        text = raw[:MIME_PREVIEW_BYTES].decode("utf-8", "replace")
        if len(raw) > MIME_PREVIEW_BYTES:
            text += f"\n… ({len(raw) - MIME_PREVIEW_BYTES} more bytes)"
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ("id", "email_id", "number", "outcome", "started_at", "finished_at")
    list_filter = ("outcome",)
    search_fields = ("email_id",)
    search_help_text = "An email id (exact)."
    ordering = ("-started_at", "-id")


@admin.register(ReplyAddress)
class ReplyAddressAdmin(ReadOnlyAdmin):
    list_display = ("token", "user_id", "message_id", "created_at", "uses", "last_used_at")
    search_fields = ("user_id", "message_id")
    search_help_text = "A user id or a message id (exact)."
    ordering = ("-created_at",)
