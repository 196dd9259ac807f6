"""The `/api/v1/` routes. The dependencies of the handlers (the clock) are built here, once;
tests build their own routes with a manual clock through `api_urlpatterns`."""

from __future__ import annotations

from django.urls import URLPattern, path

from missedmail.api.endpoints import ApiContext, Handler, endpoint
from missedmail.api.views import host_data, messages, notifications, reply_addresses
from missedmail.api.views.outbox import outbox_urlpatterns
from missedmail.clock import SystemClock


def api_urlpatterns(context: ApiContext) -> list[URLPattern]:
    def route(pattern: str, name: str, **handlers: Handler) -> URLPattern:
        return path(pattern, endpoint(context, handlers), name=f"api-{name}")

    return [
        route("realms/<int:realm_id>", "realm", PUT=host_data.put_realm),
        route("users/<int:user_id>", "user", PUT=host_data.put_user),
        route(
            "users/<int:user_id>/notifications",
            "user-notifications",
            GET=notifications.get_user_notifications,
        ),
        route("streams/<int:stream_id>", "stream", PUT=host_data.put_stream),
        route("user_groups/<int:group_id>", "user-group", PUT=host_data.put_user_group),
        route("messages", "messages", POST=messages.post_messages),
        route("messages/flags", "message-flags", POST=messages.post_flags),
        route(
            "messages/<int:message_id>",
            "message",
            PATCH=messages.patch_message,
            DELETE=messages.delete_message,
        ),
        route("notifications", "notifications", POST=notifications.post_notifications),
        route(
            "reply_addresses/<str:token>", "reply-address", GET=reply_addresses.get_reply_address
        ),
        *outbox_urlpatterns(context),
    ]


urlpatterns = api_urlpatterns(ApiContext(clock=SystemClock()))
