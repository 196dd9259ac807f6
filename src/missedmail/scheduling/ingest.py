"""Turning validated events into scheduled notifications (behaviour §3.1).

`schedule_events` takes a whole batch of events (one queue batch, one API body) and applies
it in one transaction with a fixed number of statements, whatever the batch size: lock the
batch's users, read their pending due times, read everything known about the batch's
(user, message) pairs in one join, then one bulk insert (plus a query for tombstones or
groups only when the batch needs one, and the rare update and rejection rows). Reference
checks, the timestamp rule, duplicate collapsing and rejections happen in memory. The caller
acknowledges the broker only after this returns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Model

from missedmail.core.bulk import (
    aware,
    column,
    fetch,
    insert_rows,
    sql_ids,
    sql_pairs,
    table,
    utc_wall_time,
)
from missedmail.core.models import DeletedMessage, Message, UserGroup, UserMessage, UserProfile
from missedmail.events import (
    EventError,
    MissedMessageEvent,
    Trigger,
    event_from_object,
    parse_event,
)
from missedmail.health import metrics
from missedmail.scheduling.models import (
    EmailedNotification,
    EventSource,
    NotificationSkip,
    RejectedEvent,
    ScheduledNotification,
)
from missedmail.skips import SkipReason

logger = logging.getLogger(__name__)

MAX_PAYLOAD_CHARS = 4000
# The reason given for a duplicate whose message has already been emailed to the user.
ALREADY_EMAILED = "already_emailed"


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One event as received: the validated event, or the parse error, plus the payload as
    received (the body's bytes, the decoded JSON value, or text) for the rejection record.

    The payload is rendered to text only for an event that is rejected: most events are
    valid, and decoding and escaping every body again cost as much as parsing it."""

    payload: object
    event: MissedMessageEvent | None = None
    error: EventError | None = None

    @property
    def payload_text(self) -> str:
        return _payload_text(self.payload)

    @classmethod
    def from_object(cls, obj: object) -> RawEvent:
        try:
            return cls(obj, event=event_from_object(obj))
        except EventError as error:
            return cls(obj, error=error)


@dataclass(frozen=True)
class EventOutcome:
    status: str  # "scheduled", "duplicate", "skipped" or "rejected"
    reason: str | None = None
    field: str | None = None
    scheduled_timestamp: datetime | None = None


@dataclass
class IngestResult:
    outcomes: list[EventOutcome] = field(default_factory=list)
    # The earliest due time among rows created or moved; the batcher is woken if it is
    # sleeping past it.
    earliest_new_due: datetime | None = None

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)


def _payload_text(obj: object) -> str:
    if isinstance(obj, str | bytes):
        text = obj.decode("utf-8", "replace") if isinstance(obj, bytes) else obj
    else:
        try:
            text = json.dumps(obj, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            text = repr(obj)
    # PostgreSQL text cannot hold NUL: one in a body failed its whole batch, for ever.
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= MAX_PAYLOAD_CHARS else text[:MAX_PAYLOAD_CHARS] + "…"


def schedule_events(
    raw_events: Sequence[RawEvent], *, source: EventSource, now: datetime
) -> IngestResult:
    """Validate references, apply the timestamp rule and store, all or nothing."""
    with transaction.atomic():
        result = _schedule_events(raw_events, source=source, now=now)
    # Counted after the commit: a batch that rolled back (and will be redelivered) counts once.
    metrics.EVENTS_CONSUMED.inc(len(raw_events))
    metrics.NOTIFICATIONS_SCHEDULED.inc(result.count("scheduled"))
    if rejected := result.count("rejected"):
        metrics.EVENTS_REJECTED.labels(source=source.value).inc(rejected)
    return result


# -- the queries ----------------------------------------------------------------------------
#
# Raw SQL with the batch's ids inlined (missedmail.core.bulk says why): the ORM version spent
# most of a batch's CPU building queries, not running them. The statements are the same on
# PostgreSQL and SQLite but for FOR UPDATE.


def _lock_users(user_ids: Collection[int]) -> dict[int, int]:
    """Each user's batching period, the users locked.

    Locking serialises concurrent ingest for one user across worker processes, so "does this
    user have a pending row?" has one answer (the timestamp rule). Ordered by id so two
    transactions can never lock in opposite orders and deadlock. (SQLite has no row locks:
    its IMMEDIATE transactions hold the database's one write lock from BEGIN.)
    """
    if not user_ids:
        return {}
    period = column(UserProfile, "email_notifications_batching_period_seconds")
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return dict(
        fetch(
            f"SELECT id, {period} FROM {table(UserProfile)} "  # noqa: S608
            f"WHERE id IN ({sql_ids(user_ids)}) ORDER BY id{lock}"
        )
    )


def _existing_ids(model: type[Model], ids: Collection[int]) -> set[int]:
    if not ids:
        return set()
    rows = fetch(f"SELECT id FROM {table(model)} WHERE id IN ({sql_ids(ids)})")  # noqa: S608
    return {row[0] for row in rows}


@dataclass(slots=True)
class _Row:
    """A scheduled notification: one read from the table (`id` set) or one to create."""

    id: int | None
    user_id: int
    message_id: int
    trigger: str
    group_id: int | None
    due: datetime


def _pending_due(user_ids: Collection[int]) -> dict[int, datetime]:
    """The due time of each user's pending batch (its earliest row), for users that have one."""
    if not user_ids:
        return {}
    n = ScheduledNotification
    user, due = column(n, "user"), column(n, "scheduled_timestamp")
    rows = fetch(
        f"SELECT {user}, {utc_wall_time(f'MIN({due})')} FROM {table(n)} "  # noqa: S608
        f"WHERE {user} IN ({sql_ids(user_ids)}) GROUP BY {user}"
    )
    return {user_id: aware(when) for user_id, when in rows}


@dataclass(frozen=True, slots=True)
class _Pairs:
    """What the database knows about each (user, message) pair of a batch."""

    messages: set[int]  # the messages that exist
    received: set[tuple[int, int]]  # pairs whose user received the message
    existing: dict[tuple[int, int], _Row]  # pairs already scheduled
    emailed: set[tuple[int, int]]  # pairs already emailed (the ledger)


def _read_pairs(pairs: Collection[tuple[int, int]]) -> _Pairs:
    """One statement for the batch's exact (user, message) pairs: whether the message exists,
    the user received it, a row is already scheduled for it, and it was already emailed.

    Exact pairs, from a VALUES list, rather than "these users x these messages": a stream
    message notified to many of the batch's users made the cross product several times the
    batch. (PostgreSQL and SQLite both name a VALUES list's columns column1, column2.)

    Each lookup is a correlated subquery on a unique index, not a join: the planner runs
    each as an index probe whatever its statistics say. Joins were planned as hash joins
    over whole tables when the statistics were stale (tables that grew from empty within
    minutes, as in the benchmark), at three to ten times the cost.

    The ledger must not be read before the scheduled rows: a batcher pass committing in
    between moves a pair from the rows into the ledger, and reading the ledger first would
    see it in neither and schedule it again. Here both are read by one statement, in one
    snapshot, so such a pass is seen wholly or not at all: the pair is in one or the other.
    """
    result = _Pairs(set(), set(), {}, set())
    if not pairs:
        return result
    n, e, um = ScheduledNotification, EmailedNotification, UserMessage

    def probe(model: type[Model], selected: str, user: str, message: str) -> str:
        return (
            f"(SELECT {selected} FROM {table(model)} x "  # noqa: S608
            f"WHERE x.{column(model, user)} = p.column1 AND x.{column(model, message)} = p.column2)"
        )

    def scheduled(selected: str) -> str:
        return probe(n, selected, "user", "message")

    rows = fetch(
        f"SELECT p.column1, p.column2, "  # noqa: S608
        f"(SELECT m.id FROM {table(Message)} m WHERE m.id = p.column2), "
        f"{probe(um, 'x.id', 'user', 'message')}, "
        f"{scheduled('x.id')}, "
        f"{scheduled('x.' + column(n, 'trigger'))}, "
        f"{scheduled('x.' + column(n, 'mentioned_user_group'))}, "
        f"{scheduled(utc_wall_time('x.' + column(n, 'scheduled_timestamp')))}, "
        f"{probe(e, 'x.id', 'user_id', 'message_id')} "
        f"FROM (VALUES {sql_pairs(pairs)}) p"
    )
    for user_id, message_id, found, received, row_id, trigger, group_id, due, emailed in rows:
        key = (user_id, message_id)
        if found is not None:
            result.messages.add(message_id)
        if received is not None:
            result.received.add(key)
        if row_id is not None:
            result.existing[key] = _Row(row_id, user_id, message_id, trigger, group_id, aware(due))
        if emailed is not None:
            result.emailed.add(key)
    return result


# -- the batch --------------------------------------------------------------------------------


def _schedule_events(
    raw_events: Sequence[RawEvent], *, source: EventSource, now: datetime
) -> IngestResult:
    events = [raw.event for raw in raw_events if raw.event is not None]
    user_ids = sorted({event.user_profile_id for event in events})
    message_ids = {event.message_id for event in events}
    group_ids = {e.mentioned_user_group_id for e in events if e.mentioned_user_group_id}

    # In this order: the users locked first, so that the reads after see whatever a
    # concurrent batch for the same users committed.
    period_seconds = _lock_users(user_ids)
    pending_due = _pending_due(user_ids)
    known = _read_pairs({(e.user_profile_id, e.message_id) for e in events})
    messages, received, existing = known.messages, known.received, known.existing
    deleted = _existing_ids(DeletedMessage, message_ids - messages)
    groups = _existing_ids(UserGroup, group_ids)

    result = IngestResult()
    outcomes = result.outcomes
    rejected: list[RejectedEvent] = []
    skips: list[NotificationSkip] = []
    to_create: dict[tuple[int, int], _Row] = {}
    to_update: dict[tuple[int, int], _Row] = {}

    def reject(raw: RawEvent, reason: str, field_name: str | None) -> None:
        event = raw.event
        rejected.append(
            RejectedEvent(
                received_at=now,
                source=source,
                payload=raw.payload_text,
                reason=reason,
                field=field_name or "",
                user_id=event.user_profile_id if event else None,
                message_id=event.message_id if event else None,
            )
        )
        outcomes.append(EventOutcome("rejected", reason, field_name))

    for raw in raw_events:
        event = raw.event
        if event is None:
            assert raw.error is not None  # noqa: S101 -- RawEvent holds one or the other
            reject(raw, raw.error.reason, raw.error.field)
            continue
        user_id = event.user_profile_id
        if user_id not in period_seconds:
            reject(raw, f"user_profile_id: unknown user {event.user_profile_id}", "user_profile_id")
            continue
        message_id = event.message_id
        if message_id in deleted:
            skips.append(
                NotificationSkip(
                    user_id=user_id,
                    message_ids=[message_id],
                    reason=SkipReason.DELETED,
                    at=now,
                )
            )
            outcomes.append(EventOutcome("skipped", SkipReason.DELETED.value))
            continue
        if message_id not in messages:
            reject(raw, f"message_id: unknown message {message_id}", "message_id")
            continue
        key = (user_id, message_id)
        if key not in received:
            reject(
                raw,
                f"message_id: user {user_id} is not a recipient of message {message_id}",
                "message_id",
            )
            continue
        group_id = event.mentioned_user_group_id
        if group_id is not None and group_id not in groups:
            reject(
                raw,
                f"mentioned_user_group_id: unknown user group {group_id}",
                "mentioned_user_group_id",
            )
            continue

        row = to_create.get(key) or to_update.get(key) or existing.get(key)
        if row is not None:
            # Same (user, message) again: a redelivery or a second trigger. Keep the stronger.
            if event.trigger.precedence < Trigger(row.trigger).precedence:
                row.trigger = event.trigger.value
                row.group_id = group_id
                if key not in to_create:
                    to_update[key] = row
            outcomes.append(EventOutcome("duplicate", None, None, row.due))
            continue
        if key in known.emailed:
            # Its email has already been enqueued: a redelivery, or the host repeating itself.
            outcomes.append(EventOutcome("duplicate", ALREADY_EMAILED))
            continue

        # The timestamp rule: join the user's pending batch, else open a new window.
        due = pending_due.get(user_id)
        if due is None:
            due = now + timedelta(seconds=period_seconds[user_id])
            pending_due[user_id] = due
            if result.earliest_new_due is None or due < result.earliest_new_due:
                result.earliest_new_due = due
        to_create[key] = _Row(None, user_id, message_id, event.trigger.value, group_id, due)
        outcomes.append(EventOutcome("scheduled", None, None, due))

    insert_rows(
        ScheduledNotification,
        (
            "user",
            "message",
            "trigger",
            "mentioned_user_group",
            "scheduled_timestamp",
            "created_at",
            "compose_failures",
        ),
        [
            (r.user_id, r.message_id, r.trigger, r.group_id, r.due, now, 0)
            for r in to_create.values()
        ],
    )
    if to_update:
        # Rare (a stronger trigger for a row already stored): plain ORM is fine here.
        ScheduledNotification.objects.bulk_update(
            [
                ScheduledNotification(
                    id=row.id, trigger=row.trigger, mentioned_user_group_id=row.group_id
                )
                for row in to_update.values()
            ],
            ["trigger", "mentioned_user_group"],
        )
    RejectedEvent.objects.bulk_create(rejected)
    NotificationSkip.objects.bulk_create(skips)
    if rejected:
        logger.warning(
            "action=events_rejected source=%s count=%d first_reason=%r",
            source,
            len(rejected),
            rejected[0].reason,
        )
    return result


def raw_events_from_objects(objects: Iterable[object]) -> list[RawEvent]:
    return [RawEvent.from_object(obj) for obj in objects]


def raw_event_from_body(body: bytes) -> RawEvent:
    """A queue message body: decoding errors become a rejection, never an exception."""
    try:
        return RawEvent(body, event=parse_event(body))
    except EventError as error:
        return RawEvent(body, error=error)
