"""API operations that change the host's data and the pending notifications together.

`missedmail.core.writes` knows the data model and nothing of scheduling, which sits above
it; these functions put both in one transaction and tell the batchers about new due times
once it has committed (behaviour §3.1).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction

from missedmail.core import writes
from missedmail.scheduling.adjustments import (
    drop_pending_for_messages,
    earliest_pending_for_user,
    shift_pending_for_period_change,
)
from missedmail.scheduling.ingest import IngestResult, raw_events_from_objects, schedule_events
from missedmail.scheduling.models import EventSource
from missedmail.scheduling.wakeups import announce_due
from missedmail.skips import SkipReason

logger = logging.getLogger(__name__)


def put_user(user_id: int, fields: writes.UserFields) -> writes.UserUpserted:
    """Upsert a user; a changed batching period moves their pending notifications by the
    difference, in the same transaction (behaviour §3.1)."""
    earliest: datetime | None = None
    with transaction.atomic():
        result = writes.upsert_user(user_id, fields)
        if result.batching_period_changed:
            moved = shift_pending_for_period_change(
                user_id, result.previous_batching_period_seconds, result.batching_period_seconds
            )
            earliest = earliest_pending_for_user(user_id) if moved else None
            logger.info(
                "action=batching_period_changed user_id=%d old_seconds=%d new_seconds=%d moved=%d",
                user_id,
                result.previous_batching_period_seconds,
                result.batching_period_seconds,
                moved,
            )
    # After commit: a shorter period may make a batch due before the batcher's next wake-up.
    announce_due(earliest)
    return result


def delete_message(message_id: int, *, now: datetime) -> int:
    """Delete a message and its pending notifications, recording the skips; returns how
    many notifications were dropped. `writes.NotFound` if there is no such message."""
    with transaction.atomic():
        dropped = drop_pending_for_messages([message_id], reason=SkipReason.DELETED, now=now)
        writes.delete_message(message_id, now=now)
    logger.info("action=message_deleted message_id=%d pending_dropped=%d", message_id, dropped)
    return dropped


def schedule_notifications(objects: Sequence[object], *, now: datetime) -> IngestResult:
    """Queue events received over HTTP, exactly as the queue consumer would."""
    result = schedule_events(raw_events_from_objects(objects), source=EventSource.API, now=now)
    announce_due(result.earliest_new_due)
    return result
