"""The shipped Grafana dashboard, alert rules and metric documentation name only metrics
that /metrics really exposes, and document every one it exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[3] / "docs"
METRIC_NAME = re.compile(r"\bmissedmail_[a-z_]+")


def exposed(client: Client) -> tuple[set[str], set[str]]:
    """(metric family names, sample names) of a scrape."""
    families = list(text_string_to_metric_families(client.get("/metrics").content.decode()))
    samples = {sample.name for family in families for sample in family.samples}
    return {family.name for family in families}, samples


def test_the_grafana_dashboard_queries_only_exposed_metrics(ops_client: Client) -> None:
    _, samples = exposed(ops_client)
    dashboard = json.loads((DOCS / "ops" / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]

    used = {name for expr in expressions for name in METRIC_NAME.findall(expr)}

    assert len(dashboard["panels"]) >= 10
    assert used
    assert used <= samples, used - samples


def test_the_alert_rules_use_only_exposed_metrics_and_cover_the_issue(
    ops_client: Client,
) -> None:
    _, samples = exposed(ops_client)
    rules = (DOCS / "ops" / "alerts.yml").read_text()

    used = set(METRIC_NAME.findall(rules))

    assert used <= samples, used - samples
    for alert in (
        "MissedmailBatchesLate",  # oldest due age
        "MissedmailEmailFailureRate",
        "MissedmailNoWorker",
        "MissedmailRejectedEventsSpike",
    ):
        assert f"alert: {alert}" in rules


def test_every_exposed_metric_is_documented(ops_client: Client) -> None:
    families, _ = exposed(ops_client)
    documented = (DOCS / "metrics.md").read_text()

    # prometheus_client adds a `<name>_created` timestamp beside each counter and histogram.
    ours = {
        name
        for name in families
        if name.startswith("missedmail_") and not name.endswith("_created")
    }

    assert len(ours) >= 17
    missing = {name for name in ours if f"`{name}" not in documented}
    assert not missing
