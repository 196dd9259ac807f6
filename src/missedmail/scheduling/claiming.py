"""Claiming due notifications for one batcher pass (behaviour §3.2, §9 "scale-out").

On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`: another worker's pass skips
them instead of waiting, and sees them again only if this pass rolls back. So any number of
worker processes share the due rows with no coordinator, and no row is sent twice. On
SQLite the pass's IMMEDIATE transaction holds the database's single write lock, which gives
the same exclusion for the processes of one machine.

A pass claims at most `limit` rows, but never a part of a user's due batch: splitting one
would send one conversation as two emails. So the rows found first decide *which users*,
and then all of those users' due rows are taken. Fairness: oldest due first, except when a
backlog has built up (see BEHIND_SECONDS).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import zip_longest

from django.db.models import Count, QuerySet

from missedmail.scheduling.models import ScheduledNotification

logger = logging.getLogger(__name__)

# A pass is "behind" when its oldest due row is this late: there is a backlog. Then half of
# the pass goes to the most recently due users, so a batch that falls due during a long
# drain leaves within a pass or two instead of waiting for the whole backlog (oldest-first
# alone would starve it: measured, a batch due 3 s into a 20 s drain waited 17-24 s; with
# the split, about one pass). Twice the worker's pass budget, so a batcher that keeps up
# never splits.
BEHIND_SECONDS = 2.0


def claim_due_notifications(now: datetime, *, limit: int) -> list[ScheduledNotification]:
    """Lock and return due rows for a set of whole users; call inside a transaction.

    Rows come grouped by user, in the order the users should be composed: by user id
    normally; when behind, alternating between the oldest and the most recently due users,
    so that a pass cut short by its time budget has served both ends.
    """
    due = ScheduledNotification.objects.filter(scheduled_timestamp__lte=now)
    first = list(
        due.select_for_update(skip_locked=True)
        .order_by("scheduled_timestamp", "id")
        .values_list("user_id", "scheduled_timestamp")[:limit]
    )
    if not first:
        return []
    users = _distinct(user_id for user_id, _ in first)
    behind = first[0][1] <= now - timedelta(seconds=BEHIND_SECONDS)
    if behind and len(first) >= limit >= 2:
        fresh = list(
            due.select_for_update(skip_locked=True)
            .order_by("-scheduled_timestamp", "-id")
            .values_list("user_id", flat=True)[: limit // 2]
        )
        oldest = _distinct(user_id for user_id, _ in first[: limit - limit // 2])
        users = _alternate(oldest, _distinct(fresh))
    rows = list(
        due.select_for_update(skip_locked=True)
        .filter(user_id__in=users)
        .order_by("user_id", "scheduled_timestamp", "id")
    )
    rows = _whole_users_only(due, rows)
    if behind:
        position = {user_id: n for n, user_id in enumerate(users)}
        rows.sort(key=lambda row: position[row.user_id])  # stable: keeps each user's order
    return rows


def _whole_users_only(
    due: QuerySet[ScheduledNotification], rows: list[ScheduledNotification]
) -> list[ScheduledNotification]:
    """Drop the users of whom another worker holds some due rows.

    Two workers' first queries can cut one user's rows between them (each locks the rows
    it found, skipping the other's). Composing our part would send that conversation as two
    emails, so such a user waits for a later pass, which finds all of their rows unlocked:
    a pass holds its locks for about a second, and the user is among the oldest due.
    """
    got = Counter(row.user_id for row in rows)
    due_counts = dict(
        due.filter(user_id__in=got)
        .order_by()
        .values_list("user_id")
        .annotate(count=Count("id"))
        .values_list("user_id", "count")
    )
    partial = {user_id for user_id, count in got.items() if count < due_counts.get(user_id, 0)}
    if not partial:
        return rows
    logger.info("action=claim_deferred_partial_users users=%d", len(partial))
    return [row for row in rows if row.user_id not in partial]


def _distinct(user_ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(user_ids))


def _alternate(first: list[int], second: list[int]) -> list[int]:
    merged: dict[int, None] = {}
    for pair in zip_longest(first, second):
        for user_id in pair:
            if user_id is not None:
                merged.setdefault(user_id)
    return list(merged)
