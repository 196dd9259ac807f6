"""The batcher's idle time spent rendering the messages of notifications about to fall due.

Composing an email is half rendering its messages' Markdown (docs/performance.md), and
notifications fall due in bursts: a stream message mentioned to many, an organisation's
morning. Between passes the batcher waits; `RenderAhead.step` uses a slice of that wait to
render, into the process's render cache, the messages of the pending notifications due
within the horizon (`composing/ahead.py`), so that the pass at their due time only lays
them out. The cache is pure, so this changes when the work is done, never its result.

What runs when, and why:
- Only after a pass that left nothing due (the batcher calls `step` then): due work always
  goes first, and a slice is short (`SLICE_SECONDS`), so work that falls due during one
  waits for the slice at most -- the loop runs the next pass before the next slice.
- A scan reads the pending rows due within the horizon that an earlier scan did not read,
  in slices: those due later than what was scanned before, or inserted since (a higher id:
  a notification that joins a batch already scanned shares its due time). A finished scan
  is repeated every quarter horizon while rows are pending within it; with nothing pending
  within the horizon, the batcher is asked to come back when something enters it, and no
  query is made meanwhile (the idle target: heartbeats only).
- What was rendered ahead and is not yet due is kept under half the render cache
  (`composing.content.CACHE_CHARACTERS`): the cache forgets the least recently used, which
  would be the renderings due soonest.
- Several workers each render ahead the same rows (any of them may claim them); the work
  is done in their idle time, the price of not coordinating.
- Anything failing here is logged (no content) and ignored: composing at the due time
  renders what was not rendered ahead, and meets the same error if there is one.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

from missedmail.composing.ahead import render_ahead
from missedmail.composing.content import CACHE_CHARACTERS
from missedmail.composing.data import BatchData, DirectData
from missedmail.composing.entries import NotificationEntry
from missedmail.composing.preload import preload_batches
from missedmail.events import Trigger
from missedmail.health import metrics
from missedmail.scheduling.models import ScheduledNotification

logger = logging.getLogger(__name__)

# Rows read (and their data preloaded, in a fixed dozen queries) at a time, and the seconds
# of rendering per slice: a notification falling due during a slice waits for its end, and
# the punctuality target is 250 ms at the 99th percentile. A read of 100 rows takes about
# 60 ms to render on the benchmark's slower machine; reading 50 at a time instead cost a
# third more CPU in queries and preloading, so reads stay large and slices are cut by time.
ROWS_PER_READ = 100
SLICE_SECONDS = 0.025
# What is rendered ahead and not yet due, at most (in characters, as the cache charges its
# HTML part); the other half of the cache serves the stream messages' later readers.
HELD_CHARACTERS = CACHE_CHARACTERS // 2

# (user id, entries, what to read) -> characters rendered; injected by tests.
Renderer = Callable[[int, Sequence[NotificationEntry], BatchData], int]

_Row = tuple[int, int, int, str, int | None, datetime]  # id, user, message, trigger, group, due


@dataclass
class _Scan:
    """One scan of the horizon, read ROWS_PER_READ rows at a time by (due time, id)."""

    end: datetime  # rows due up to here
    after_due: datetime | None  # ... and due after the last scan's end,
    after_id: int  # ... or inserted after the last scan began
    position: tuple[datetime, int] | None = None  # the last row read
    highest_id: int = 0


@dataclass
class _Read:
    """Rows read and preloaded, their users not all rendered yet."""

    data: BatchData
    users: deque[tuple[int, list[NotificationEntry], datetime]]  # user, entries, due
    last: bool  # the read was short: the scan has nothing more


class RenderAhead:
    """The batcher thread's state for rendering ahead; not thread-safe (one thread)."""

    def __init__(
        self,
        horizon: timedelta,
        *,
        rows_per_read: int = ROWS_PER_READ,
        slice_seconds: float | None = SLICE_SECONDS,
        held_characters: int = HELD_CHARACTERS,
        render: Renderer = render_ahead,
        monotonic: Callable[[], float] = time.monotonic,
        read_rows: Callable[[datetime, _Scan, int], list[_Row]] | None = None,
    ) -> None:
        self.horizon = horizon
        self.rows_per_read = rows_per_read
        self.slice_seconds = slice_seconds  # None: a slice renders the whole read
        self.held_characters = held_characters
        self._render = render
        self._monotonic = monotonic
        self._read_rows = read_rows or unread_rows  # injected by tests, to make a read fail
        self._scan: _Scan | None = None
        self._read: _Read | None = None
        self._scanned_until: datetime | None = None  # the last finished scan's end
        self._scanned_id = 0  # the highest id the last finished scan read
        self._next_scan_at: datetime | None = None  # None: no scan has run yet
        self._held: deque[tuple[datetime, int]] = deque()  # (due, characters), by due time
        self._held_total = 0

    def step(self, now: datetime, earliest_pending: datetime) -> datetime:
        """One slice, if one is worth doing; returns when to come back.

        `earliest_pending`: the due time of the first pending notification, after `now`
        (the caller's pass left nothing due)."""
        if earliest_pending > now + self.horizon:
            return earliest_pending - self.horizon
        self._forget_due(now)
        if self._held_total >= self.held_characters:
            return self._held[0][0]  # room again once the soonest of them is due
        if self._read is None:
            if self._scan is None:
                if self._next_scan_at is not None and now < self._next_scan_at:
                    return self._next_scan_at
                self._scan = _Scan(now + self.horizon, self._scanned_until, self._scanned_id)
            try:
                self._read = self._next_read(now, self._scan)
            except Exception as error:
                logger.warning("action=render_ahead_failed error=%s", type(error).__name__)
                self._scan = None  # the next scan reads again what this one did not
                return self._scan_later(now)
            if self._read.users:
                return now  # reading was this slice's work; rendering is the next's
        read = self._read
        self._render_some(read)
        if read.users:
            return now
        self._read = None
        if not read.last:
            return now
        return self._finish(now)

    def _finish(self, now: datetime) -> datetime:
        """The scan read everything it was to read: the next starts where it ended."""
        scan, self._scan = self._scan, None
        if scan is not None:
            self._scanned_until = scan.end
            self._scanned_id = max(self._scanned_id, scan.highest_id)
        return self._scan_later(now)

    def _scan_later(self, now: datetime) -> datetime:
        self._next_scan_at = now + self.horizon / 4
        return self._next_scan_at

    def _next_read(self, now: datetime, scan: _Scan) -> _Read:
        rows = self._read_rows(now, scan, self.rows_per_read)
        if rows:
            scan.position = (rows[-1][5], rows[-1][0])
            scan.highest_id = max(scan.highest_id, max(row[0] for row in rows))
        work: dict[int, list[NotificationEntry]] = defaultdict(list)
        due: dict[int, datetime] = {}
        for _id, user_id, message_id, trigger, group_id, due_at in rows:
            work[user_id].append(NotificationEntry(message_id, Trigger(trigger), group_id))
            due[user_id] = min(due_at, due.get(user_id, due_at))
        data = preload_batches(work, for_rendering=True) if work else DirectData()
        users = deque((user_id, entries, due[user_id]) for user_id, entries in work.items())
        return _Read(data, users, last=len(rows) < self.rows_per_read)

    def _render_some(self, read: _Read) -> None:
        """Render users of the read until the slice's time is up or the budget is held."""
        started = self._monotonic()
        rendered = 0
        while read.users and self._held_total < self.held_characters:
            rendered += self._render_one(read.data, *read.users.popleft())
            elapsed = self._monotonic() - started
            if self.slice_seconds is not None and elapsed >= self.slice_seconds:
                break
        metrics.MESSAGES_RENDERED_AHEAD.inc(rendered)

    def _render_one(
        self, data: BatchData, user_id: int, entries: list[NotificationEntry], due: datetime
    ) -> int:
        """Render one user's messages; how many notifications that served."""
        try:
            characters = self._render(user_id, entries, data)
        except Exception as error:  # composing meets it again, and records it
            logger.debug(
                "action=render_ahead_user_failed user_id=%d error=%s",
                user_id,
                type(error).__name__,
            )
            return 0
        if not characters:
            return 0
        self._hold(due, characters)
        return len(entries)

    def _hold(self, due: datetime, characters: int) -> None:
        # Rows are read by due time, so appending keeps the deque (nearly) in due order.
        self._held.append((due, characters))
        self._held_total += characters

    def _forget_due(self, now: datetime) -> None:
        while self._held and self._held[0][0] <= now:
            self._held_total -= self._held.popleft()[1]


def unread_rows(now: datetime, scan: _Scan, limit: int) -> list[_Row]:
    """The scan's next rows: pending, due after now and by the scan's end, not read by the
    previous scan (see the module's docstring), after the scan's position."""
    rows = ScheduledNotification.objects.filter(
        scheduled_timestamp__gt=now, scheduled_timestamp__lte=scan.end
    )
    if scan.after_due is not None:
        rows = rows.filter(Q(scheduled_timestamp__gt=scan.after_due) | Q(id__gt=scan.after_id))
    if scan.position is not None:
        due, row_id = scan.position
        rows = rows.filter(
            Q(scheduled_timestamp__gt=due) | Q(scheduled_timestamp=due, id__gt=row_id)
        )
    return list(
        rows.order_by("scheduled_timestamp", "id").values_list(
            "id",
            "user_id",
            "message_id",
            "trigger",
            "mentioned_user_group_id",
            "scheduled_timestamp",
        )[:limit]
    )
