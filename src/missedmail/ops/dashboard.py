"""The operator page (`/ops/`, login required): figures, workers, recent problems.

List pages carry ids, states, reasons and times only; message content, topics and
subjects never appear there. The raw payload of a rejected event (producer input, which
could be anything) is shown on its own detail page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from missedmail.health.heartbeats import HeartbeatState, heartbeat_state, recent
from missedmail.health.models import WorkerHeartbeat
from missedmail.ops.dependencies import OpsDependencies
from missedmail.ops.figures import StatusFigures, status_figures
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.scheduling.models import RejectedEvent
from missedmail.skips import SkipReason

RECENT_ROWS = 20
RESPONSE_PREVIEW_CHARS = 200


@dataclass(frozen=True)
class WorkerRow:
    heartbeat: WorkerHeartbeat
    state: HeartbeatState
    seen_seconds_ago: float


@dataclass(frozen=True)
class CountRow:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class FailedEmailRow:
    id: int
    user_id: int
    attempts: int
    last_response: str
    updated_at: datetime


@dataclass(frozen=True)
class DashboardPage:
    now: datetime
    figures: StatusFigures
    outbox: list[CountRow]
    skipped: list[CountRow]
    workers: list[WorkerRow]
    rejected: list[RejectedEvent]
    failed_emails: list[FailedEmailRow]


def dashboard(request: HttpRequest, deps: OpsDependencies) -> HttpResponse:
    return render(request, "ops/dashboard.html", {"page": dashboard_page(deps.clock.now())})


def dashboard_page(now: datetime) -> DashboardPage:
    figures = status_figures(now)
    return DashboardPage(
        now=now,
        figures=figures,
        outbox=[
            CountRow(status.value, status.label, figures.outbox.get(status.value, 0))
            for status in EmailStatus
        ],
        skipped=[
            CountRow(reason.value, reason.label, figures.skipped_by_reason.get(reason.value, 0))
            for reason in SkipReason
        ],
        workers=[
            WorkerRow(
                heartbeat=heartbeat,
                state=heartbeat_state(heartbeat, now),
                seen_seconds_ago=max(0.0, (now - heartbeat.last_seen).total_seconds()),
            )
            for heartbeat in recent(RECENT_ROWS)
        ],
        # Only the list columns are loaded: the payload stays on the detail page.
        rejected=list(
            RejectedEvent.objects.only(
                "id", "received_at", "source", "reason", "field", "user_id", "message_id"
            ).order_by("-received_at", "-id")[:RECENT_ROWS]
        ),
        failed_emails=recent_failed_emails(),
    )


def recent_failed_emails() -> list[FailedEmailRow]:
    """Newest failures first, through the (status, updated_at) index."""
    rows = (
        OutboundEmail.objects.filter(status=EmailStatus.FAILED)
        .order_by("-updated_at", "-id")
        .values_list("id", "user_id", "attempts", "last_response", "updated_at")[:RECENT_ROWS]
    )
    return [
        FailedEmailRow(
            id=email_id,
            user_id=user_id,
            attempts=attempts,
            last_response=_preview(last_response),
            updated_at=updated_at,
        )
        for email_id, user_id, attempts, last_response, updated_at in rows
    ]


def _preview(text: str) -> str:
    line = " ".join(text.split())
    if len(line) <= RESPONSE_PREVIEW_CHARS:
        return line
    return line[: RESPONSE_PREVIEW_CHARS - 1] + "…"


def rejected_event(request: HttpRequest, deps: OpsDependencies, event_id: int) -> HttpResponse:
    event = get_object_or_404(RejectedEvent, pk=event_id)
    return render(request, "ops/rejected_event.html", {"event": event})
