"""Claiming due notifications for one batcher pass (behaviour §3.2, §9 "scale-out").

On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`: another worker's pass skips
them instead of waiting, and sees them again only if this pass rolls back. So any number of
worker processes share the due rows with no coordinator, and no row is sent twice. On
SQLite the pass's IMMEDIATE transaction holds the database's single write lock, which gives
the same exclusion for the processes of one machine.

A pass claims at most `limit` rows, but never a part of a user's due batch: splitting one
would send one conversation as two emails. So the rows found first decide *which users*,
and then all of those users' due rows are taken.
"""

from __future__ import annotations

from datetime import datetime

from missedmail.scheduling.models import ScheduledNotification


def claim_due_notifications(now: datetime, *, limit: int) -> list[ScheduledNotification]:
    """Lock and return due rows for a set of whole users; call inside a transaction."""
    due = ScheduledNotification.objects.filter(scheduled_timestamp__lte=now)
    first = list(
        due.select_for_update(skip_locked=True)
        .order_by("scheduled_timestamp", "id")
        .values_list("user_id", flat=True)[:limit]
    )
    if not first:
        return []
    user_ids = set(first)
    return list(
        due.select_for_update(skip_locked=True)
        .filter(user_id__in=user_ids)
        .order_by("user_id", "scheduled_timestamp", "id")
    )
