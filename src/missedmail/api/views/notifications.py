"""Scheduling notifications over HTTP, and one user's notifications (contract §4)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from missedmail.api import workflows
from missedmail.api.body import json_body
from missedmail.api.endpoints import ApiContext
from missedmail.api.history import api_timestamp, pending_notifications, recent_outcomes
from missedmail.api.responses import invalid, not_found, success
from missedmail.api.schemas import MAX_EVENTS_PER_REQUEST
from missedmail.core.models import UserProfile
from missedmail.events import json_type
from missedmail.scheduling.ingest import EventOutcome


def post_notifications(request: HttpRequest, context: ApiContext) -> JsonResponse:
    """One event, `{"events": [...]}`, or a bare array of events. Invalid events do not fail
    the request: each is answered, and recorded as rejected, on its own."""
    events = _event_objects(json_body(request))
    result = workflows.schedule_notifications(events, now=context.clock.now())
    return success(events=[_outcome_json(outcome) for outcome in result.outcomes])


def _event_objects(value: object) -> list[object]:
    if isinstance(value, dict) and "events" in value:
        extra = sorted(set(value) - {"events"})
        if extra:
            raise invalid(extra[0], "unknown field (a batch has only `events`)")
        value = value["events"]
        field, expected = "events", "an array of events"
    elif isinstance(value, dict):
        return [value]
    else:
        field, expected = "body", "an event object or an array of events"
    if not isinstance(value, list):
        raise invalid(field, f"expected {expected}, got {json_type(value)}")
    if not 1 <= len(value) <= MAX_EVENTS_PER_REQUEST:
        raise invalid(field, f"expected 1 to {MAX_EVENTS_PER_REQUEST} events, got {len(value)}")
    return list(value)


def _outcome_json(outcome: EventOutcome) -> dict[str, object]:
    shaped: dict[str, object] = {"status": outcome.status}
    if outcome.scheduled_timestamp is not None:
        shaped["scheduled_timestamp"] = api_timestamp(outcome.scheduled_timestamp)
    if outcome.status == "rejected":
        shaped["reason"] = outcome.reason
        shaped["field"] = outcome.field
    elif outcome.reason is not None:
        shaped["reason"] = outcome.reason
    return shaped


def get_user_notifications(request: HttpRequest, context: ApiContext, user_id: int) -> JsonResponse:
    if not UserProfile.objects.filter(id=user_id).exists():
        raise not_found(f"user {user_id}")
    return success(
        pending=[pending.as_json() for pending in pending_notifications(user_id)],
        recent=[outcome.as_json() for outcome in recent_outcomes(user_id)],
    )
