"""Failed emails over HTTP, for the host's admin tools (docs/reliability.md).

- `GET /api/v1/outbox/failed?limit=N`: the N (default 100, at most 1000) most recently
  failed emails, newest first, and how many are failed in all;
- `POST /api/v1/outbox/{id}/requeue`: a fresh round of attempts for one failed email;
  404 for an unknown id, 409 for an email that is not failed or cannot be sent.

The same services as `missedmail failed` and `missedmail requeue` (`outbox.operations`).
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path

from missedmail.api.endpoints import ApiContext, Handler, endpoint
from missedmail.api.responses import ApiError, Code, invalid, not_found, success
from missedmail.outbox import operations
from missedmail.outbox.models import EmailStatus


def outbox_urlpatterns(context: ApiContext) -> list[URLPattern]:
    """The routes, relative to /api/v1/; `api_urlpatterns` includes them."""

    def route(pattern: str, name: str, **handlers: Handler) -> URLPattern:
        return path(pattern, endpoint(context, handlers), name=f"api-{name}")

    return [
        route("outbox/failed", "outbox-failed", GET=get_failed),
        route("outbox/<int:email_id>/requeue", "outbox-requeue", POST=post_requeue),
    ]


def get_failed(request: HttpRequest, context: ApiContext) -> JsonResponse:
    limit = _limit(request.GET.get("limit"))
    emails = operations.failed_emails(limit=limit)
    return success(count=operations.failed_count(), emails=[email.to_json() for email in emails])


def _limit(raw: str | None) -> int:
    if raw is None:
        return operations.DEFAULT_LIST_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= operations.MAX_LIST_LIMIT:
        shown = raw if len(raw) <= 20 else raw[:20] + "…"
        raise invalid(
            "limit", f"expected an integer from 1 to {operations.MAX_LIST_LIMIT}, got {shown!r}"
        )
    return int(raw)


def post_requeue(request: HttpRequest, context: ApiContext, email_id: int) -> JsonResponse:
    result = operations.requeue([email_id], context.clock.now())
    if result.unknown:
        raise not_found(f"email {email_id}")
    if result.not_failed:
        status = result.not_failed[email_id]
        raise ApiError(409, Code.CONFLICT, f"email {email_id} is {status}, not failed")
    if result.unbuildable:
        raise ApiError(
            409,
            Code.CONFLICT,
            f"email {email_id}: its message could not be built; requeueing cannot send it",
        )
    return success(id=email_id, status=EmailStatus.QUEUED.value)
