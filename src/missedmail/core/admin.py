"""Django admin for the host's data, read-only.

The host application owns these rows and rewrites them through the API (contract §4); an
edit made here would be silently overwritten, and a batching-period change would skip
the shift of pending notifications that the API applies. So the admin only shows them.

List pages show ids, names and states, never message content or topics.
`ReadOnlyAdmin` and `IdSearchAdmin` are the bases the other apps' admins use too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from missedmail.core.models import Message, Realm, Stream, UserGroup, UserProfile

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Any]
else:  # django-stubs makes ModelAdmin generic; at run time it is not subscriptable
    ModelAdmin = admin.ModelAdmin


class IdSearchAdmin(ModelAdmin):
    """The search box takes one id and matches it exactly against `search_fields`.

    Django's default would run `icontains` (or a cast to text) on every row of tables
    that hold millions of them; an exact integer match uses the indexes.
    """

    search_help_text = "An id (exact)."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if not term.isdigit():
            return queryset.none(), False
        matches = Q()
        for field in self.search_fields:
            matches |= Q(**{str(field): int(term)})
        return queryset.filter(matches), False


class ReadOnlyAdmin(IdSearchAdmin):
    """Rows written only by the service (or the host): viewable, never edited here."""

    # Counting millions of rows on every page view is not worth the exact figure.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Realm)
class RealmAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "url", "deactivated")
    list_filter = ("deactivated",)
    search_fields = ("id",)


@admin.register(UserProfile)
class UserProfileAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "realm_id",
        "full_name",
        "email",
        "is_active",
        "is_bot",
        "enable_offline_email_notifications",
        "email_notifications_batching_period_seconds",
    )
    list_filter = ("is_active", "is_bot", "enable_offline_email_notifications")
    search_fields = ("id",)


@admin.register(Stream)
class StreamAdmin(ReadOnlyAdmin):
    list_display = ("id", "realm_id", "name")
    search_fields = ("id",)


@admin.register(UserGroup)
class UserGroupAdmin(ReadOnlyAdmin):
    list_display = ("id", "realm_id", "name")
    search_fields = ("id",)


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    # No topic or content in the list; the detail page shows the message to an admin.
    list_display = ("id", "realm_id", "sender_id", "type", "stream_id", "date_sent")
    list_filter = ("type",)
    search_fields = ("id",)
