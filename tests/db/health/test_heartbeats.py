from __future__ import annotations

from datetime import timedelta

import pytest

from missedmail.clock import ManualClock
from missedmail.health.heartbeats import (
    HeartbeatState,
    alive,
    beat,
    forget_stopped,
    heartbeat_state,
    mark_stopped,
    register,
    worker_name,
)
from missedmail.health.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def names(clock: ManualClock) -> list[str]:
    return [heartbeat.name for heartbeat in alive(clock.now())]


def test_a_registered_worker_is_alive_until_30_seconds_pass_without_a_beat(
    clock: ManualClock,
) -> None:
    register("host:1:a", "worker", clock.now())

    clock.advance(30)
    assert names(clock) == ["host:1:a"]
    clock.advance(1)
    assert names(clock) == []
    heartbeat = WorkerHeartbeat.objects.get(name="host:1:a")
    assert heartbeat_state(heartbeat, clock.now()) == HeartbeatState.STALE


def test_a_beat_keeps_the_worker_alive(clock: ManualClock) -> None:
    register("host:1:a", "worker", clock.now())
    for _ in range(5):
        clock.advance(20)
        beat("host:1:a", "worker", clock.now())

    assert names(clock) == ["host:1:a"]
    assert WorkerHeartbeat.objects.get(name="host:1:a").last_seen == clock.now()


def test_beats_store_running_totals_and_keep_counters_left_out(clock: ManualClock) -> None:
    register("host:1:a", "worker", clock.now())
    batch_at = clock.advance(2)
    beat(
        "host:1:a", "worker", clock.now(), emails_composed=4, emails_sent=3, last_batch_at=batch_at
    )
    clock.advance(5)
    beat("host:1:a", "worker", clock.now(), emails_sent=4)

    heartbeat = WorkerHeartbeat.objects.get(name="host:1:a")
    assert (heartbeat.emails_composed, heartbeat.emails_sent) == (4, 4)
    assert heartbeat.last_batch_at == batch_at
    assert heartbeat.started_at == clock.now() - timedelta(seconds=7)


def test_a_beat_without_a_row_registers_the_worker_again(clock: ManualClock) -> None:
    beat("host:9:z", "run", clock.now(), emails_sent=2)

    heartbeat = WorkerHeartbeat.objects.get(name="host:9:z")
    assert heartbeat.kind == "run"
    assert heartbeat.started_at == clock.now()
    assert heartbeat.emails_sent == 2
    assert names(clock) == ["host:9:z"]


def test_a_stopped_worker_is_not_alive_even_right_after_stopping(clock: ManualClock) -> None:
    register("host:1:a", "worker", clock.now())
    clock.advance(1)
    mark_stopped("host:1:a", clock.now())

    assert names(clock) == []
    heartbeat = WorkerHeartbeat.objects.get(name="host:1:a")
    assert heartbeat.stopped_at == clock.now()
    assert heartbeat_state(heartbeat, clock.now()) == HeartbeatState.STOPPED


def test_registering_again_restarts_the_row_with_counters_at_zero(clock: ManualClock) -> None:
    register("host:1:a", "worker", clock.now())
    beat("host:1:a", "worker", clock.now(), emails_sent=10)
    mark_stopped("host:1:a", clock.now())
    clock.advance(60)

    register("host:1:a", "worker", clock.now())

    heartbeat = WorkerHeartbeat.objects.get(name="host:1:a")
    assert heartbeat.emails_sent == 0
    assert heartbeat.stopped_at is None
    assert heartbeat_state(heartbeat, clock.now()) == HeartbeatState.ALIVE


def test_alive_takes_a_custom_maximum_age(clock: ManualClock) -> None:
    register("host:1:a", "worker", clock.now())
    clock.advance(10)

    assert [h.name for h in alive(clock.now(), max_age_seconds=5)] == []
    assert [h.name for h in alive(clock.now(), max_age_seconds=10)] == ["host:1:a"]


def test_forget_stopped_deletes_only_rows_not_seen_for_a_long_time(clock: ManualClock) -> None:
    register("host:1:old", "worker", clock.now())
    clock.advance(8 * 24 * 3600)
    register("host:2:new", "worker", clock.now())

    assert forget_stopped(clock.now()) == 1
    assert list(WorkerHeartbeat.objects.values_list("name", flat=True)) == ["host:2:new"]


def test_worker_names_differ_between_calls_in_one_process() -> None:
    first, second = worker_name(), worker_name()

    assert first != second
    assert first.rsplit(":", 2)[1] == second.rsplit(":", 2)[1]  # the same pid
    assert len(first) <= 200
