"""Rendering ahead (worker/render_ahead.py): in the batcher's idle time, the messages of the
notifications due within the horizon are rendered into the render cache, each once, in
short slices, never those already due, and never more than the cache can keep; composing
them at the due time then renders nothing and gives the same emails."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.composing import content
from missedmail.composing.ahead import render_ahead
from missedmail.composing.batch import ComposedBatch, CompositionOptions, compose_user_batch
from missedmail.composing.data import BatchData
from missedmail.composing.entries import NotificationEntry
from missedmail.composing.preload import preload_batches
from missedmail.core.models import UserProfile
from missedmail.events import Trigger
from missedmail.outbox.transports import MemoryTransport
from missedmail.scheduling.models import ScheduledNotification
from missedmail.worker.render_ahead import RenderAhead, unread_rows
from missedmail.worker.service import WorkerOptions, WorkerService
from tests.db.worker.test_pass_queries import (
    Event,
    dm,
    group_dm,
    mention_with_context,
    read_message,
    readers,
    schedule,
)
from tests.factories import Org, direct_message, make_org
from tests.unit.composing.content.test_render_cache import count_renderings

pytestmark = pytest.mark.django_db

HORIZON = timedelta(seconds=60)
OPTIONS = CompositionOptions(reply_by_email=False)


@pytest.fixture
def org() -> Org:
    return make_org()


@pytest.fixture(autouse=True)
def empty_render_cache() -> Iterator[None]:
    content._HTML.clear()
    content._TEXT.clear()
    yield
    content._HTML.clear()
    content._TEXT.clear()


@pytest.fixture
def renderings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every Markdown rendering made (a cache miss), by its source."""
    return count_renderings(monkeypatch)


class Recorder:
    """A renderer that notes what it was asked to render and charges `characters` each."""

    def __init__(self, characters: int = 10, failing_user: int | None = None) -> None:
        self.characters = characters
        self.failing_user = failing_user
        self.calls: list[tuple[int, list[int]]] = []

    def __call__(self, user_id: int, entries: Sequence[NotificationEntry], _data: BatchData) -> int:
        if user_id == self.failing_user:
            raise ValueError("this user's data is broken")
        self.calls.append((user_id, sorted(entry.message_id for entry in entries)))
        return self.characters

    def users(self) -> list[int]:
        return [user_id for user_id, _ in self.calls]


def own_dm(org: Org, reader: UserProfile) -> Event:
    """A DM whose content is the reader's own, so that no other reader's rendering of it
    can be in the cache."""
    message = direct_message(org.othello, [reader], f"note {reader.id}: see #**Verona**")
    return (reader.id, message.id, "direct_message", None)


def one_dm_each(org: Org, first_id: int, count: int) -> list[Event]:
    return [own_dm(org, reader) for reader in readers(org, first_id, count)]


def compose_all(events: list[Event]) -> dict[int, ComposedBatch]:
    """Every user's batch composed as a batcher pass does: preloaded, then user by user."""
    work: dict[int, list[NotificationEntry]] = {}
    for user_id, message_id, trigger, group_id in events:
        work.setdefault(user_id, []).append(
            NotificationEntry(message_id, Trigger(trigger), group_id)
        )
    data = preload_batches(work)
    return {
        user_id: compose_user_batch(user_id, entries, OPTIONS, data)
        for user_id, entries in work.items()
    }


def run_scan(ahead: RenderAhead, now: datetime, earliest: datetime) -> datetime | None:
    """Steps until the scan is finished (a step that asks to come back later than now)."""
    for _ in range(1000):
        again = ahead.step(now, earliest)
        if again != now:
            return again
    raise AssertionError("the scan never finished")


def test_composing_after_rendering_ahead_renders_nothing_and_gives_the_same_emails(
    org: Org, clock: ManualClock, renderings: list[str]
) -> None:
    people = readers(org, 500, 4)
    group_ids = iter(range(900, 1000, 2))
    events = [
        *(mention_with_context(org, reader, next(group_ids)) for reader in people),
        *(dm(org, reader) for reader in people),
        *(own_dm(org, reader) for reader in people),
        *(group_dm(org, reader) for reader in people[:2]),
        read_message(org, people[0]),
    ]
    cold = compose_all(events)
    assert len(renderings) > len(people)  # the scenario renders Markdown at all
    content._HTML.clear()
    content._TEXT.clear()
    due = clock.now() + timedelta(seconds=30)
    schedule(events, due)

    renderings.clear()
    run_scan(RenderAhead(HORIZON), clock.now(), due)
    ahead = len(renderings)
    # What rendering ahead asks of its preload, the preload loaded.
    work: dict[int, list[NotificationEntry]] = {}
    for user_id, message_id, trigger, group_id in events:
        work.setdefault(user_id, []).append(
            NotificationEntry(message_id, Trigger(trigger), group_id)
        )
    data = preload_batches(work, for_rendering=True)
    for user_id, entries in work.items():
        render_ahead(user_id, entries, data)
    assert data.misses == 0
    renderings.clear()
    warm = compose_all(events)

    assert ahead > 0
    assert renderings == []
    assert warm == cold


def test_only_rows_due_within_the_horizon_are_rendered(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    schedule(one_dm_each(org, 500, 2), now + timedelta(seconds=30))
    schedule(one_dm_each(org, 600, 1), now + timedelta(seconds=90))
    recorder = Recorder()
    ahead = RenderAhead(HORIZON, slice_seconds=None, render=recorder)

    assert run_scan(ahead, now, now + timedelta(seconds=30)) == now + HORIZON / 4
    assert sorted(recorder.users()) == [500, 501]

    # A quarter horizon later, the next scan finds nothing new within the horizon...
    quarter = now + HORIZON / 4
    assert run_scan(ahead, quarter, now + timedelta(seconds=30)) == quarter + HORIZON / 4
    assert len(recorder.calls) == 2
    # ... and the one after the first rows were sent, the row that entered it meanwhile.
    later = now + timedelta(seconds=31)
    run_scan(ahead, later, now + timedelta(seconds=90))
    assert sorted(recorder.users()) == [500, 501, 600]


def test_nothing_pending_within_the_horizon_costs_no_query_and_names_when_to_come_back(
    org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    due = now + timedelta(hours=1)
    schedule(one_dm_each(org, 500, 1), due)
    recorder = Recorder()

    with CaptureQueriesContext(connection) as queries:
        again = RenderAhead(HORIZON, slice_seconds=None, render=recorder).step(now, due)

    assert again == due - HORIZON
    assert len(queries) == 0
    assert recorder.calls == []


def test_a_scan_goes_in_slices_and_renders_each_row_once(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    due = now + timedelta(seconds=10)
    schedule(one_dm_each(org, 500, 5), due)
    recorder = Recorder()
    ahead = RenderAhead(HORIZON, rows_per_read=2, slice_seconds=None, render=recorder)

    steps = [ahead.step(now, due) for _ in range(6)]

    # Each read of 2, 2 and 1 rows is a slice, and rendering it another; the short read
    # ends the scan.
    assert steps == [now] * 5 + [now + HORIZON / 4]
    assert recorder.users() == [500, 501, 502, 503, 504]
    assert run_scan(ahead, now + HORIZON / 4, due) == now + HORIZON / 2
    assert len(recorder.calls) == 5  # the next scan read nothing again


class TickingClock:
    """A monotonic clock that advances 10 ms each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        reading = self.now
        self.now += 0.010
        return reading


def test_a_slice_stops_when_its_time_is_up_and_the_next_goes_on_without_reading_again(
    org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    due = now + timedelta(seconds=10)
    schedule(one_dm_each(org, 500, 5), due)
    recorder = Recorder()
    ahead = RenderAhead(HORIZON, slice_seconds=0.025, render=recorder, monotonic=TickingClock())

    assert ahead.step(now, due) == now  # the read
    assert recorder.users() == []
    assert ahead.step(now, due) == now
    assert recorder.users() == [500, 501, 502]  # 10, 20, 30 ms: the third used it up
    with CaptureQueriesContext(connection) as queries:
        assert ahead.step(now, due) == now + HORIZON / 4
    assert recorder.users() == [500, 501, 502, 503, 504]
    assert len(queries) == 0  # the rest of the same read


def test_a_notification_joining_a_scanned_batch_is_rendered_at_the_next_scan(
    org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    due = now + timedelta(seconds=40)
    first = one_dm_each(org, 500, 1)
    schedule(first, due)
    recorder = Recorder()
    ahead = RenderAhead(HORIZON, slice_seconds=None, render=recorder)
    run_scan(ahead, now, due)

    reader = first[0][0]
    joining = direct_message(org.othello, [UserProfile.objects.get(id=reader)], "one more")
    schedule([(reader, joining.id, "direct_message", None)], due)  # the batch's due time

    assert ahead.step(now + timedelta(seconds=1), due) == now + HORIZON / 4  # not yet
    run_scan(ahead, now + HORIZON / 4, due)
    assert recorder.calls == [(reader, [first[0][1]]), (reader, [joining.id])]


def test_rows_already_due_are_left_to_the_batcher(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    schedule(one_dm_each(org, 500, 1), now)
    schedule(one_dm_each(org, 600, 1), now + timedelta(seconds=5))
    recorder = Recorder()

    run_scan(
        RenderAhead(HORIZON, slice_seconds=None, render=recorder), now, now + timedelta(seconds=5)
    )

    assert recorder.users() == [600]


def test_what_is_rendered_ahead_and_not_yet_due_stays_within_its_budget(
    org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    for n, event in enumerate(one_dm_each(org, 500, 5)):
        schedule([event], now + timedelta(seconds=10 * (n + 1)))
    recorder = Recorder(characters=100)
    ahead = RenderAhead(
        HORIZON, rows_per_read=1, slice_seconds=None, held_characters=250, render=recorder
    )
    first_due = now + timedelta(seconds=10)

    steps = [ahead.step(now, first_due) for _ in range(7)]

    # Three reads and renderings hold 300 characters: the next step waits for the first
    # of them to fall due.
    assert steps == [now] * 6 + [first_due]
    assert recorder.users() == [500, 501, 502]
    # Once it is due, its characters are free again, and the scan goes on where it was.
    second_due = first_due + timedelta(seconds=10)
    assert [ahead.step(first_due, second_due) for _ in range(3)] == [first_due] * 2 + [second_due]
    assert recorder.users() == [500, 501, 502, 503]


def test_a_user_whose_rendering_fails_does_not_stop_the_others(
    org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    schedule(one_dm_each(org, 500, 3), now + timedelta(seconds=10))
    recorder = Recorder(failing_user=501)

    run_scan(
        RenderAhead(HORIZON, slice_seconds=None, render=recorder), now, now + timedelta(seconds=10)
    )

    assert recorder.users() == [500, 502]


def test_a_failed_read_is_logged_without_content_and_read_again_at_the_next_scan(
    org: Org, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    now = clock.now()
    due = now + timedelta(seconds=30)
    schedule(one_dm_each(org, 500, 2), due)
    recorder = Recorder()
    failures = [OperationalError("the database went away")]

    def read(at: datetime, scan: Any, limit: int) -> list[Any]:
        if failures:
            raise failures.pop()
        return unread_rows(at, scan, limit)

    ahead = RenderAhead(HORIZON, slice_seconds=None, render=recorder, read_rows=read)
    with caplog.at_level(logging.WARNING, logger="missedmail.worker.render_ahead"):
        assert ahead.step(now, due) == now + HORIZON / 4

    assert [r.getMessage() for r in caplog.records] == [
        "action=render_ahead_failed error=OperationalError"
    ]
    assert recorder.calls == []
    run_scan(ahead, now + HORIZON / 4, due)
    assert recorder.users() == [500, 501]  # the failed scan's rows, read again


# -- in the worker -------------------------------------------------------------------------


def make_worker(clock: ManualClock, render_ahead_seconds: float) -> WorkerService:
    # Not started: the test drives the batcher's step itself.
    settings = replace(
        django_settings.MISSEDMAIL, amqp_url=None, render_ahead_seconds=render_ahead_seconds
    )
    return WorkerService(settings, clock, MemoryTransport(), WorkerOptions(heartbeat_seconds=3600))


def test_the_batcher_renders_ahead_once_its_pass_left_nothing_due(
    org: Org, clock: ManualClock, renderings: list[str]
) -> None:
    due_now = one_dm_each(org, 500, 1)
    soon = one_dm_each(org, 600, 2)
    schedule(due_now, clock.now())
    schedule(soon, clock.now() + timedelta(seconds=20))
    worker = make_worker(clock, 60)

    steps = [worker._batch_step(clock.now())]
    while steps[-1] == clock.now() and len(steps) < 10:  # slices end on time: go on
        steps.append(worker._batch_step(clock.now()))

    # The due batch was composed (its message rendered), then the others' were rendered
    # ahead; once the scan is finished, the next look is the next scan.
    assert steps[-1] == clock.now() + HORIZON / 4
    assert ScheduledNotification.objects.filter(user_id=500).count() == 0
    assert len(renderings) == 3
    renderings.clear()
    clock.advance(20)
    worker._batch_step(clock.now())
    assert ScheduledNotification.objects.count() == 0
    assert renderings == []


def test_with_rendering_ahead_off_the_batcher_sleeps_until_the_due_time(
    org: Org, clock: ManualClock, renderings: list[str]
) -> None:
    schedule(one_dm_each(org, 600, 2), clock.now() + timedelta(seconds=20))
    worker = make_worker(clock, 0)

    assert worker.render_ahead is None
    assert worker._batch_step(clock.now()) == clock.now() + timedelta(seconds=20)
    assert renderings == []
