"""Changes to pending notifications caused by changes to the host's data."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime, timedelta

from django.db.models import F

from missedmail.scheduling.models import NotificationSkip, ScheduledNotification
from missedmail.skips import SkipReason


def shift_pending_for_period_change(user_id: int, old_seconds: int, new_seconds: int) -> int:
    """Move a user's pending notifications by (new - old) seconds (behaviour §3.1).

    Must run in the transaction that changes the setting. Returns the rows moved.
    """
    delta = new_seconds - old_seconds
    if delta == 0:
        return 0
    return ScheduledNotification.objects.filter(user_id=user_id).update(
        scheduled_timestamp=F("scheduled_timestamp") + timedelta(seconds=delta)
    )


def earliest_pending_for_user(user_id: int) -> datetime | None:
    return (
        ScheduledNotification.objects.filter(user_id=user_id)
        .order_by("scheduled_timestamp")
        .values_list("scheduled_timestamp", flat=True)
        .first()
    )


def drop_pending_for_messages(
    message_ids: Collection[int], *, reason: SkipReason, now: datetime
) -> int:
    """Delete pending notifications of these messages, recording why per user."""
    rows = list(
        ScheduledNotification.objects.filter(message_id__in=message_ids).values_list(
            "id", "user_id", "message_id"
        )
    )
    by_user: dict[int, list[int]] = defaultdict(list)
    for _row_id, user_id, message_id in rows:
        by_user[user_id].append(message_id)
    NotificationSkip.objects.bulk_create(
        NotificationSkip(user_id=user_id, message_ids=sorted(ids), reason=reason, at=now)
        for user_id, ids in by_user.items()
    )
    ScheduledNotification.objects.filter(id__in=[row[0] for row in rows]).delete()
    return len(rows)


def drop_pending_for_user(user_id: int, *, reason: SkipReason, now: datetime) -> int:
    """Delete all of a user's pending notifications (an operator's cancel), recording why."""
    message_ids = list(
        ScheduledNotification.objects.filter(user_id=user_id).values_list("message_id", flat=True)
    )
    if message_ids:
        NotificationSkip.objects.create(
            user_id=user_id, message_ids=sorted(message_ids), reason=reason, at=now
        )
    return ScheduledNotification.objects.filter(user_id=user_id).delete()[0]
