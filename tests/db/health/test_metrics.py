from __future__ import annotations

from prometheus_client import REGISTRY

from missedmail.health.metrics import EVENT_SOURCES, EVENTS_REJECTED
from missedmail.scheduling.models import EventSource


def test_the_event_sources_of_the_metrics_are_those_of_the_rejection_records() -> None:
    assert set(EVENT_SOURCES) == set(EventSource.values)


def test_every_source_has_a_rejected_series_before_the_first_rejection() -> None:
    for source in EVENT_SOURCES:
        value = REGISTRY.get_sample_value("missedmail_events_rejected_total", {"source": source})
        assert value is not None


def test_a_rejection_increments_its_source_only() -> None:
    def rejected() -> dict[str, float | None]:
        return {
            source: REGISTRY.get_sample_value(
                "missedmail_events_rejected_total", {"source": source}
            )
            for source in EVENT_SOURCES
        }

    before = rejected()
    EVENTS_REJECTED.labels(source="api").inc()
    after = rejected()

    assert after["api"] == (before["api"] or 0) + 1
    assert {k: v for k, v in after.items() if k != "api"} == {
        k: v for k, v in before.items() if k != "api"
    }
