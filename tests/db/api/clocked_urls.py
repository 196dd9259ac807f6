"""The service's routes, with the API built on a manual clock, plus one view that fails, to
test what the API answers for an unexpected exception."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from missedmail.api.endpoints import ApiContext, endpoint
from missedmail.api.urls import api_urlpatterns
from missedmail.clock import ManualClock

CLOCK = ManualClock()
SECRET_IN_CONTENT = "the eagle lands at midnight"


def failing_handler(request: HttpRequest, context: ApiContext) -> HttpResponse:
    raise RuntimeError("unexpected")


urlpatterns = [
    path("api/v1/failing", endpoint(ApiContext(clock=CLOCK), {"POST": failing_handler})),
    path("api/v1/", include(api_urlpatterns(ApiContext(clock=CLOCK)))),
    path("", include("missedmail.api.public_urls")),
]
