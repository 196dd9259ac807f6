"""Turning handler functions into API endpoints: authentication first, then the method,
then the handler; every refusal becomes the JSON error envelope (contract §4).

A handler takes the request, the `ApiContext` and the URL's ids, and returns a response
or raises: `ApiError` (any status), `core.writes.WriteError` (400 naming the field),
`core.writes.NotFound` (404). Anything else reaches `ApiErrorMiddleware` (500).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from missedmail.api.auth import authenticate
from missedmail.api.responses import ApiError, Code, error_response
from missedmail.clock import Clock
from missedmail.core.writes import NotFound, WriteError
from missedmail.events import MAX_ID

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiContext:
    """What handlers depend on, built once by the URL configuration."""

    clock: Clock


Handler = Callable[..., HttpResponse]


def endpoint(context: ApiContext, handlers: Mapping[str, Handler]) -> Callable[..., HttpResponse]:
    allowed = ", ".join(sorted(handlers))

    # CSRF protects cookie sessions; this API authenticates each request by its bearer
    # token, which a cross-site form cannot send.
    @csrf_exempt
    def view(request: HttpRequest, **ids: object) -> HttpResponse:
        try:
            authenticate(request, settings.MISSEDMAIL.api_token)
            handler = handlers.get(request.method or "")
            if handler is None:
                raise ApiError(
                    405,
                    Code.METHOD_NOT_ALLOWED,
                    f"method {request.method} not allowed here; use {allowed}",
                    headers={"Allow": allowed},
                )
            for name, value in ids.items():
                if isinstance(value, int) and not 1 <= value <= MAX_ID:
                    raise ApiError(
                        400,
                        Code.INVALID_INPUT,
                        f"{name}: must be between 1 and 2^63-1, got {value}",
                    )
            return handler(request, context, **ids)
        except ApiError as error:
            return error.response()
        except WriteError as error:
            return error_response(400, error.code, str(error))
        except NotFound as error:
            return error_response(404, Code.NOT_FOUND, f"unknown {error}")
        except IntegrityError:
            # Two requests creating the same ids at once on PostgreSQL: the loser's
            # transaction was rolled back whole, so a retry is safe and will see the winner's.
            logger.warning("action=api_conflict method=%s", request.method)
            return error_response(
                409, Code.CONFLICT, "a concurrent request wrote the same objects; retry"
            )

    return view
