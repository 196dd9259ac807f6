"""One pass of the batcher: claim due notifications, compose, hand emails to the outbox.

Everything a pass does to the database happens in ONE transaction: the claimed rows are
deleted in the transaction that inserts their emails (or their skip records), so a crash at
any point either leaves the rows pending (nothing happened) or leaves the emails in the
outbox (everything happened) — never a lost or doubled batch. No network I/O happens here:
SMTP belongs to the sender, outside any transaction.

Each user's batch runs in a savepoint, so one user's failure never affects another's
(behaviour §3.2). A failed batch is not dropped as in Zulip: its rows are pushed back with
a growing delay, and after `MAX_COMPOSE_FAILURES` they are given up with a recorded reason.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Min

from missedmail.composing.batch import (
    ComposedBatch,
    CompositionOptions,
    NotificationEntry,
    compose_user_batch,
)
from missedmail.events import Trigger
from missedmail.health import metrics
from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.scheduling.claiming import claim_due_notifications
from missedmail.scheduling.emailed import record_emailed
from missedmail.scheduling.models import NotificationSkip, ScheduledNotification
from missedmail.skips import SkipReason

logger = logging.getLogger(__name__)

MAX_COMPOSE_FAILURES = 5
COMPOSE_RETRY_BASE_SECONDS = 60

Composer = Callable[[int, Sequence[NotificationEntry], CompositionOptions], ComposedBatch]


@dataclass(frozen=True)
class BatcherConfig:
    composition: CompositionOptions
    outbox: OutboxConfig
    staging: bool = False
    # Rows claimed per pass. A pass is one transaction, so this bounds its length (and,
    # on SQLite, how long API writers wait); a full pass asks for another at once.
    max_rows_per_pass: int = 2000
    # Wall-clock seconds after which a pass stops composing further users and commits; the
    # users it claimed but did not reach are released, still due, for the next pass. It
    # bounds how long the sender waits for the pass's emails and how long a batch that falls
    # due meanwhile waits for the next claim. None: no bound (every claimed user is done).
    pass_budget_seconds: float | None = None
    # Injected so tests can make one user's composition fail; production uses the default.
    compose: Composer = compose_user_batch


@dataclass
class PassResult:
    users: int = 0
    emails: int = 0
    skipped_notifications: int = 0
    failed_users: int = 0
    claimed_rows: int = 0
    more_due: bool = False
    next_due: datetime | None = None
    email_ids: list[int] = field(default_factory=list)


def send_due_batches(now: datetime, config: BatcherConfig) -> PassResult:
    """The batcher's step: returns what it did and when the next pass is due."""
    result = PassResult()
    with transaction.atomic():
        claimed = claim_due_notifications(now, limit=config.max_rows_per_pass)
        result.claimed_rows = len(claimed)
        result.more_due = len(claimed) >= config.max_rows_per_pass
        by_user: dict[int, list[ScheduledNotification]] = defaultdict(list)
        for row in claimed:
            by_user[row.user_id].append(row)  # users in the claim's order of service
        started = time.monotonic()
        for done, (user_id, rows) in enumerate(by_user.items()):
            if done and _over_budget(started, config):  # at least one user: progress
                result.more_due = True  # the rest stay due, unlocked at commit
                break
            _process_user(user_id, rows, now, config, result)
    result.next_due = now if result.more_due else _next_pass(now)
    return result


def _over_budget(started: float, config: BatcherConfig) -> bool:
    budget = config.pass_budget_seconds
    return budget is not None and time.monotonic() - started >= budget


# Due rows left after a pass that was not full are locked by another worker's pass (SKIP
# LOCKED passed them by): look again shortly, not at once, or an idle batcher re-queries
# in a tight loop for as long as the other pass lasts. The other worker's NOTIFY-free
# commit is seen within this delay.
LOCKED_ROWS_RECHECK_SECONDS = 0.5


def _next_pass(now: datetime) -> datetime | None:
    due = earliest_pending()
    if due is not None and due <= now:
        return now + timedelta(seconds=LOCKED_ROWS_RECHECK_SECONDS)
    return due


def earliest_pending() -> datetime | None:
    value: datetime | None = ScheduledNotification.objects.aggregate(
        due=Min("scheduled_timestamp")
    )["due"]
    return value


def _process_user(
    user_id: int,
    rows: list[ScheduledNotification],
    now: datetime,
    config: BatcherConfig,
    result: PassResult,
) -> None:
    entries = [
        NotificationEntry(
            message_id=row.message_id,
            trigger=Trigger(row.trigger),
            mentioned_user_group_id=row.mentioned_user_group_id,
        )
        for row in rows
    ]
    due_at = min(row.scheduled_timestamp for row in rows)
    logger.info(
        "action=batch_processing user_id=%d events=%d "
        "(Batch-processing %d missedmessage_emails events for user %d)",
        user_id,
        len(rows),
        len(rows),
        user_id,
    )
    try:
        with transaction.atomic():  # a savepoint: this user's failure stays this user's
            batch = config.compose(user_id, entries, config.composition)
            _store(user_id, batch, rows, due_at, now, config, result)
    except Exception:
        logger.exception("action=batch_failed user_id=%d events=%d", user_id, len(rows))
        result.failed_users += 1
        _push_back(user_id, rows, now)
        return
    result.users += 1
    metrics.BATCH_SIZE.observe(len(rows))


def _store(
    user_id: int,
    batch: ComposedBatch,
    rows: list[ScheduledNotification],
    due_at: datetime,
    now: datetime,
    config: BatcherConfig,
    result: PassResult,
) -> None:
    skips = [
        NotificationSkip(user_id=user_id, message_ids=list(s.message_ids), reason=s.reason, at=now)
        for s in batch.skips
    ]
    if config.staging and batch.emails:
        # Staging consumes and schedules but never sends; the record says so.
        staged = sorted(m for draft in batch.emails for m in draft.message_ids)
        skips.append(
            NotificationSkip(user_id=user_id, message_ids=staged, reason=SkipReason.STAGING, at=now)
        )
    elif batch.emails:
        emails = enqueue_drafts(list(batch.emails), due_at=due_at, now=now, config=config.outbox)
        record_emailed(user_id, (m for draft in batch.emails for m in draft.message_ids), now)
        result.email_ids.extend(email.id for email in emails)
        result.emails += len(emails)
        metrics.EMAILS_COMPOSED.inc(len(emails))
    NotificationSkip.objects.bulk_create(skips)
    for skip in skips:
        metrics.NOTIFICATIONS_SKIPPED.labels(reason=skip.reason).inc(len(skip.message_ids))
        result.skipped_notifications += len(skip.message_ids)
    ScheduledNotification.objects.filter(id__in=[row.id for row in rows]).delete()


def _push_back(user_id: int, rows: list[ScheduledNotification], now: datetime) -> None:
    """After a failed composition: retry later, or give up with a recorded reason."""
    failures = max(row.compose_failures for row in rows) + 1
    ids = [row.id for row in rows]
    if failures >= MAX_COMPOSE_FAILURES:
        NotificationSkip.objects.create(
            user_id=user_id,
            message_ids=sorted(row.message_id for row in rows),
            reason=SkipReason.COMPOSE_FAILED,
            at=now,
        )
        ScheduledNotification.objects.filter(id__in=ids).delete()
        logger.error("action=batch_given_up user_id=%d failures=%d", user_id, failures)
        return
    delay = timedelta(seconds=COMPOSE_RETRY_BASE_SECONDS * 2 ** (failures - 1))
    ScheduledNotification.objects.filter(id__in=ids).update(
        scheduled_timestamp=now + delay, compose_failures=F("compose_failures") + 1
    )
