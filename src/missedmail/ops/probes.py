"""The endpoints machines poll, without an API token (contract §4): liveness, readiness,
metrics. They show counts and check results, never content."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

from missedmail.health.readiness import check_readiness
from missedmail.ops.dependencies import OpsDependencies
from missedmail.ops.metrics import scrape


def healthz(request: HttpRequest, deps: OpsDependencies) -> HttpResponse:
    """The process answers HTTP. Touches no database, so a database outage does not get
    healthy processes restarted (that is what /readyz reports)."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest, deps: OpsDependencies) -> HttpResponse:
    report = check_readiness(deps.clock.now(), deps.settings, require_worker=deps.require_worker)
    return JsonResponse(report.to_json(), status=200 if report.ok else 503)


def metrics(request: HttpRequest, deps: OpsDependencies) -> HttpResponse:
    return HttpResponse(scrape(deps.clock), content_type=CONTENT_TYPE_LATEST)
