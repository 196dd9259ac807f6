"""Turning validated events into scheduled notifications (behaviour §3.1).

`schedule_events` takes a whole batch of events (one queue prefetch window, one API body)
and applies it in one transaction with a handful of queries, whatever the batch size:
reference checks, the timestamp rule, duplicate collapsing and rejections all happen in
bulk. The caller acknowledges the broker only after this returns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Min

from missedmail.core.models import DeletedMessage, Message, UserGroup, UserMessage, UserProfile
from missedmail.events import (
    EventError,
    MissedMessageEvent,
    Trigger,
    event_from_object,
    parse_event,
)
from missedmail.health import metrics
from missedmail.scheduling.emailed import emailed_pairs
from missedmail.scheduling.models import (
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


@dataclass(frozen=True)
class RawEvent:
    """One event as received: the decoded JSON value, or the parse error, plus the text
    kept for the rejection record."""

    payload_text: str
    event: MissedMessageEvent | None = None
    error: EventError | None = None

    @classmethod
    def from_object(cls, obj: object) -> RawEvent:
        text = _payload_text(obj)
        try:
            return cls(text, event=event_from_object(obj))
        except EventError as error:
            return cls(text, error=error)


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


def _schedule_events(
    raw_events: Sequence[RawEvent], *, source: EventSource, now: datetime
) -> IngestResult:
    events = [raw.event for raw in raw_events if raw.event is not None]
    user_ids = sorted({event.user_profile_id for event in events})
    message_ids = {event.message_id for event in events}
    group_ids = {e.mentioned_user_group_id for e in events if e.mentioned_user_group_id}

    # Locking the users serialises concurrent ingest for one user across worker processes,
    # so "does this user have a pending row?" has one answer (the timestamp rule). Ordered
    # by id so two transactions can never lock in opposite orders and deadlock.
    # Values, not model instances: building hundreds of instances per batch showed in
    # profiles (bench/, docs/performance.md).
    period_seconds: dict[int, int] = dict(
        UserProfile.objects.select_for_update()
        .filter(id__in=user_ids)
        .order_by("id")
        .values_list("id", "email_notifications_batching_period_seconds")
    )
    messages = set(Message.objects.filter(id__in=message_ids).values_list("id", flat=True))
    deleted = set(
        DeletedMessage.objects.filter(id__in=message_ids - messages).values_list("id", flat=True)
    )
    received = set(
        UserMessage.objects.filter(user_id__in=user_ids, message_id__in=messages)
        .values_list("user_id", "message_id")
        .iterator()
    )
    groups = set(UserGroup.objects.filter(id__in=group_ids).values_list("id", flat=True))
    pending_due = dict(
        ScheduledNotification.objects.filter(user_id__in=user_ids)
        .values("user_id")
        .annotate(due=Min("scheduled_timestamp"))
        .values_list("user_id", "due")
    )
    # Only a user with a pending batch can already hold a row for one of these messages.
    with_pending = sorted(pending_due)
    existing = (
        {
            (row.user_id, row.message_id): row
            for row in ScheduledNotification.objects.filter(
                user_id__in=with_pending, message_id__in=messages
            )
        }
        if with_pending
        else {}
    )
    # Read after the pending rows: a pass that commits between the two reads moved its rows
    # into the ledger, so every pair is seen in one or the other, never in neither.
    emailed = emailed_pairs(user_ids, messages)

    result = IngestResult()
    rejected: list[RejectedEvent] = []
    skips: list[NotificationSkip] = []
    to_create: dict[tuple[int, int], ScheduledNotification] = {}
    to_update: dict[tuple[int, int], ScheduledNotification] = {}

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
        result.outcomes.append(EventOutcome("rejected", reason, field_name))

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
        if event.message_id in deleted:
            skips.append(
                NotificationSkip(
                    user_id=user_id,
                    message_ids=[event.message_id],
                    reason=SkipReason.DELETED,
                    at=now,
                )
            )
            result.outcomes.append(EventOutcome("skipped", SkipReason.DELETED.value))
            continue
        message_id = event.message_id
        if message_id not in messages:
            reject(raw, f"message_id: unknown message {event.message_id}", "message_id")
            continue
        if (user_id, message_id) not in received:
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

        key = (user_id, message_id)
        row = to_create.get(key) or to_update.get(key) or existing.get(key)
        if row is not None:
            # Same (user, message) again: a redelivery or a second trigger. Keep the stronger.
            current = Trigger(row.trigger)
            if event.trigger.precedence < current.precedence:
                row.trigger = event.trigger.value
                row.mentioned_user_group_id = group_id
                if key not in to_create:
                    to_update[key] = row
            result.outcomes.append(EventOutcome("duplicate", None, None, row.scheduled_timestamp))
            continue
        if key in emailed:
            # Its email has already been enqueued: a redelivery, or the host repeating itself.
            result.outcomes.append(EventOutcome("duplicate", ALREADY_EMAILED))
            continue

        # The timestamp rule: join the user's pending batch, else open a new window.
        due = pending_due.get(user_id)
        if due is None:
            due = now + timedelta(seconds=period_seconds[user_id])
            pending_due[user_id] = due
            if result.earliest_new_due is None or due < result.earliest_new_due:
                result.earliest_new_due = due
        to_create[key] = ScheduledNotification(
            user_id=user_id,
            message_id=message_id,
            trigger=event.trigger.value,
            mentioned_user_group_id=group_id,
            scheduled_timestamp=due,
            created_at=now,
        )
        result.outcomes.append(EventOutcome("scheduled", None, None, due))

    ScheduledNotification.objects.bulk_create(to_create.values())
    if to_update:
        ScheduledNotification.objects.bulk_update(
            to_update.values(), ["trigger", "mentioned_user_group"]
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
    text = _payload_text(body)
    try:
        return RawEvent(text, event=parse_event(body))
    except EventError as error:
        return RawEvent(text, error=error)
