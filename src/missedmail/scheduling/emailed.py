"""The ledger of notifications already emailed (scheduling.models.EmailedNotification).

Written by the batcher in the transaction that enqueues the emails; read by ingest in the
statement that looks up a batch's (user, message) pairs (scheduling/ingest.py, `_read_pairs`).
An event for a (user, message) that has already been emailed is a duplicate, not a second
email ("nothing twice", contract §1).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from missedmail.core.bulk import insert_pairs_ignoring_conflicts
from missedmail.scheduling.models import EmailedNotification

# Long enough for any redelivery or repeat we can expect (a broker redelivers unacknowledged
# events as soon as the consumer's connection is gone; a host that retries a publish does so
# within minutes), short enough that the table stays small: one row per notification.
EMAILED_RETENTION = timedelta(days=7)


def record_emailed(pairs: Iterable[tuple[int, int]], now: datetime) -> None:
    """Record (user id, message id) pairs as emailed, in one insert; call inside the
    transaction that enqueues their emails.

    A pair already there (an operator re-sent it) is left as it is. The pairs are written in
    sorted order, so that two workers recording overlapping pairs take the unique index's
    locks in the same order and cannot deadlock."""
    insert_pairs_ignoring_conflicts(
        EmailedNotification, ("user_id", "message_id"), sorted(set(pairs)), {"emailed_at": now}
    )


def forget_emailed(now: datetime) -> int:
    """Delete ledger rows older than the retention; returns how many."""
    deleted, _ = EmailedNotification.objects.filter(emailed_at__lt=now - EMAILED_RETENTION).delete()
    return deleted
