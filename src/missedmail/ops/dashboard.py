"""The dashboard (`/ops/`) and the JSON it refreshes itself from (`/ops/live.json`).

One `Snapshot` feeds both: the page is rendered from it (so it reads well before any
script runs, and without scripts), embeds it for the charts' first drawing, then asks
`/ops/live.json` for a new one every `refresh_seconds`. Every figure in it is a bounded
query (see `missedmail.ops.figures` and `missedmail.ops.activity`); the snapshot costs
about a dozen small queries however large the tables are.

Ids, states, reasons, counts and times only: no subject, topic or content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from missedmail.health.heartbeats import HeartbeatState, heartbeat_state, recent
from missedmail.health.models import WorkerHeartbeat
from missedmail.ops.activity import (
    LatencySummary,
    Series,
    Window,
    latency,
    series,
    skipped_by_reason,
)
from missedmail.ops.dependencies import OpsDependencies
from missedmail.ops.figures import Headline, headline
from missedmail.ops.queueprobe import QueueState
from missedmail.skips import SkipReason

WORKER_ROWS = 20


@dataclass(frozen=True)
class WorkerRow:
    heartbeat: WorkerHeartbeat
    state: HeartbeatState
    seen_seconds_ago: float

    def to_json(self) -> dict[str, object]:
        beat = self.heartbeat
        return {
            "name": beat.name,
            "kind": beat.kind,
            "state": self.state.value,
            "seen_seconds_ago": self.seen_seconds_ago,
            "started_at": beat.started_at.isoformat(),
            "last_batch_at": beat.last_batch_at.isoformat() if beat.last_batch_at else None,
            "emails_composed": beat.emails_composed,
            "emails_sent": beat.emails_sent,
        }


@dataclass(frozen=True)
class ReasonRow:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    window: Window  # of the charts, the skip reasons and the latency below
    headline: Headline
    series: Series
    skipped_by_reason: list[ReasonRow]
    latency: LatencySummary
    queue: QueueState
    workers: list[WorkerRow]
    refresh_seconds: int

    def to_json(self) -> dict[str, object]:
        return {
            "generated_at": self.now.isoformat(),
            "window": self.window.key,
            "refresh_seconds": self.refresh_seconds,
            "headline": self.headline.to_json(),
            "series": self.series.to_json(),
            "skipped_by_reason": [
                {"reason": row.key, "label": row.label, "count": row.count}
                for row in self.skipped_by_reason
            ],
            "latency": self.latency.to_json(),
            "queue": self.queue.to_json(),
            "workers": [row.to_json() for row in self.workers],
        }


def snapshot(deps: OpsDependencies, window: Window) -> Snapshot:
    now = deps.clock.now()
    by_reason = skipped_by_reason(now, window)
    return Snapshot(
        now=now,
        window=window,
        headline=headline(now),
        series=series(now, window),
        skipped_by_reason=[
            ReasonRow(reason.value, reason.label, by_reason[reason.value]) for reason in SkipReason
        ],
        latency=latency(now, window),
        queue=deps.queue_probe.state(deps.settings.amqp_url, deps.clock),
        workers=[
            WorkerRow(
                heartbeat=beat,
                state=heartbeat_state(beat, now),
                seen_seconds_ago=max(0.0, (now - beat.last_seen).total_seconds()),
            )
            for beat in recent(WORKER_ROWS)
        ],
        refresh_seconds=deps.refresh_seconds,
    )


def dashboard(request: HttpRequest, deps: OpsDependencies) -> HttpResponse:
    window = Window.from_key(request.GET.get("window"))
    page = snapshot(deps, window)
    return render(
        request,
        "ops/dashboard.html",
        {"page": page, "document": page.to_json(), "windows": list(Window)},
    )


def live(request: HttpRequest, deps: OpsDependencies) -> HttpResponse:
    """The dashboard's figures as JSON (login required, like the page)."""
    window = Window.from_key(request.GET.get("window"))
    return JsonResponse(snapshot(deps, window).to_json())
