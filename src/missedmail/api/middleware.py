"""Every response under /api/ is JSON, whoever produced it (contract §4).

The API's own endpoints answer in the JSON envelope. This middleware covers the rest:
bodies declared larger than 10 MiB are refused before anything reads them; Django's own
404/405/500 pages become the envelope; an unreachable database is answered 503 with
`Retry-After` (the request changed nothing: its transaction never committed); any other
exception that escapes a view is logged (the traceback, never the request's content) and
answered 500 without a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse

from missedmail.api.body import MAX_BODY_BYTES, declared_length, too_large
from missedmail.api.responses import default_error_response

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# Headers of a replaced response that still apply to the JSON one.
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")
DATABASE_RETRY_AFTER_SECONDS = 5


def is_api(request: HttpRequest) -> bool:
    path = request.path_info
    return path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api(request):
            return self.get_response(request)
        if declared_length(request) > MAX_BODY_BYTES:
            return too_large().response()
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_json(response):
            kept = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
            return default_error_response(response.status_code, kept)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api(request):
            return None
        if isinstance(exception, RequestDataTooBig):
            return too_large().response()
        if isinstance(exception, Http404):
            return default_error_response(404)
        if isinstance(exception, PermissionDenied):
            return default_error_response(403)
        if isinstance(exception, SuspiciousOperation):
            return default_error_response(400)
        if isinstance(exception, OperationalError | InterfaceError):
            # Stopped, restarting or cut off: the client should retry, not report a bug.
            logger.warning(
                "action=api_database_unavailable method=%s path=%s error=%s",
                request.method,
                request.path_info,
                type(exception).__name__,
            )
            return default_error_response(503, {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
        # The path carries ids only; the body, which may carry content, is never logged.
        logger.exception(
            "action=api_unexpected_error method=%s path=%s error=%s",
            request.method,
            request.path_info,
            type(exception).__name__,
        )
        return default_error_response(500)


def _is_json(response: HttpResponse) -> bool:
    return str(response.get("Content-Type", "")).startswith("application/json")
