"""Pages outside /api/v1/ that email recipients reach: the one-click unsubscribe link."""

from django.urls import path

from missedmail.api.unsubscribe_pages import unsubscribe

# The prefix must match missedmail.outbox.unsubscribe.PATH_PREFIX, which builds the links.
urlpatterns = [
    path("unsubscribe/<str:token>", unsubscribe, name="unsubscribe"),
]
