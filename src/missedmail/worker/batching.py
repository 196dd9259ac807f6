"""One pass of the batcher: claim due notifications, compose, hand emails to the outbox.

Everything a pass does to the database happens in ONE transaction: the claimed rows are
deleted in the transaction that inserts their emails (or their skip records), so a crash at
any point either leaves the rows pending (nothing happened) or leaves the emails in the
outbox (everything happened) — never a lost or doubled batch. No network I/O happens here:
SMTP belongs to the sender, outside any transaction.

A pass costs a fixed number of queries whatever the number of its users (issue 5): it
reads what composing all of them needs in a few bulk queries (`composing/preload.py`),
composes each user from that, then writes all their emails, skips and deletions in a few
bulk statements.

One user's failure never affects another's (behaviour §3.2): composing is done user by
user and only reads, so a user whose composition raises is simply left out of the writes;
and should the bulk writes fail, each user's batch is written again in a savepoint of its
own. A failed batch is not dropped as in Zulip: its rows are pushed back with a growing
delay, and after `MAX_COMPOSE_FAILURES` they are given up with a recorded reason.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, QuerySet

from missedmail.composing.batch import (
    BatchData,
    ComposedBatch,
    CompositionOptions,
    NotificationEntry,
    compose_user_batch,
)
from missedmail.composing.data import DirectData
from missedmail.composing.preload import preload_batches
from missedmail.events import Trigger
from missedmail.health import metrics
from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.drafts import EmailDraft
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.scheduling.claiming import claim_due_notifications
from missedmail.scheduling.emailed import record_emailed
from missedmail.scheduling.models import NotificationSkip, ScheduledNotification
from missedmail.skips import SkipReason

logger = logging.getLogger(__name__)

MAX_COMPOSE_FAILURES = 5
COMPOSE_RETRY_BASE_SECONDS = 60

# (user id, their entries, options, where to read) → their emails and skips. A composer
# only reads, and reads through the BatchData it is given: the batcher composes preloaded
# users outside any savepoint (see `_compose`).
Composer = Callable[
    [int, Sequence[NotificationEntry], CompositionOptions, BatchData], ComposedBatch
]


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
    # The first pending notification's due time, read after a pass that was not full
    # (None otherwise, or when nothing is pending).
    earliest_pending: datetime | None = None
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
        batches = [_UserBatch.of(user_id, rows) for user_id, rows in by_user.items()]
        data = _preload(batches)
        composed: list[_UserBatch] = []
        failed: list[_UserBatch] = []
        started = time.monotonic()
        for done, batch in enumerate(batches):
            if done and _over_budget(started, config):  # at least one user: progress
                result.more_due = True  # the rest stay due, unlocked at commit
                break
            (composed if _compose(batch, data, config) else failed).append(batch)
        failed += _store_all(composed, now, config, result)
        for batch in failed:
            result.failed_users += 1
            _push_back(batch.user_id, batch.rows, now)
    if result.more_due:
        result.next_due = now
    else:
        result.earliest_pending = earliest_pending()
        result.next_due = _next_pass(now, result.earliest_pending)
    return result


def _over_budget(started: float, config: BatcherConfig) -> bool:
    budget = config.pass_budget_seconds
    return budget is not None and time.monotonic() - started >= budget


# Due rows left after a pass that was not full are locked by another worker's pass (SKIP
# LOCKED passed them by): look again shortly, not at once, or an idle batcher re-queries
# in a tight loop for as long as the other pass lasts. The other worker's NOTIFY-free
# commit is seen within this delay.
LOCKED_ROWS_RECHECK_SECONDS = 0.5


def _next_pass(now: datetime, due: datetime | None) -> datetime | None:
    if due is not None and due <= now:
        return now + timedelta(seconds=LOCKED_ROWS_RECHECK_SECONDS)
    return due


def earliest_pending_query() -> QuerySet[ScheduledNotification, datetime]:
    """The one-value query behind `earliest_pending` (the first entry of the due index), for
    a caller that reads it along with other values in one statement (the heartbeat)."""
    return ScheduledNotification.objects.order_by("scheduled_timestamp").values_list(
        "scheduled_timestamp", flat=True
    )[:1]


def earliest_pending() -> datetime | None:
    return earliest_pending_query().first()


@dataclass
class _UserBatch:
    user_id: int
    rows: list[ScheduledNotification]
    entries: list[NotificationEntry]
    due_at: datetime
    composed: ComposedBatch | None = None

    @classmethod
    def of(cls, user_id: int, rows: list[ScheduledNotification]) -> _UserBatch:
        entries = [
            NotificationEntry(
                message_id=row.message_id,
                trigger=Trigger(row.trigger),
                mentioned_user_group_id=row.mentioned_user_group_id,
            )
            for row in rows
        ]
        due_at = min(row.scheduled_timestamp for row in rows)
        return cls(user_id, rows, entries, due_at)

    def drafts(self) -> tuple[EmailDraft, ...]:
        return self.composed.emails if self.composed is not None else ()


def _preload(batches: list[_UserBatch]) -> BatchData:
    """The pass's reads for all its users in a few bulk queries. Should that fail, each
    user is composed with queries of their own, as before the preload existed: slower, but
    the pass goes on."""
    try:
        with transaction.atomic():  # a savepoint: a failed query must not abort the pass
            return preload_batches({batch.user_id: batch.entries for batch in batches})
    except Exception:
        logger.exception("action=preload_failed users=%d", len(batches))
        return DirectData()


def _compose(batch: _UserBatch, data: BatchData, config: BatcherConfig) -> bool:
    """Compose one user's batch into `batch.composed`; False when it failed."""
    logger.info(
        "action=batch_processing user_id=%d events=%d "
        "(Batch-processing %d missedmessage_emails events for user %d)",
        batch.user_id,
        len(batch.rows),
        len(batch.rows),
        batch.user_id,
    )
    try:
        # Composition only reads. From preloaded data it makes no query (or one in its own
        # savepoint); reading directly, it needs a savepoint so that one user's failed
        # query stays that user's.
        with transaction.atomic() if data.queries_per_user else nullcontext():
            batch.composed = config.compose(batch.user_id, batch.entries, config.composition, data)
    except Exception:
        logger.exception("action=batch_failed user_id=%d events=%d", batch.user_id, len(batch.rows))
        return False
    return True


def _store_all(
    batches: list[_UserBatch], now: datetime, config: BatcherConfig, result: PassResult
) -> list[_UserBatch]:
    """Write every composed batch: emails, skips, ledger, deleted rows. Returns the batches
    that could not be written.

    All users at once first, in one savepoint: a few bulk statements for the whole pass.
    Should that fail, each user's batch is written in a savepoint of its own, so that one
    user's failure to be written stays that user's (behaviour §3.2)."""
    if not batches:
        return []
    try:
        with transaction.atomic():
            stored = _store(batches, now, config)
    except Exception:
        logger.exception("action=batch_store_failed users=%d", len(batches))
    else:
        stored.apply(result)
        return []
    failed: list[_UserBatch] = []
    for batch in batches:
        try:
            with transaction.atomic():
                stored = _store([batch], now, config)
        except Exception:
            logger.exception(
                "action=batch_failed user_id=%d events=%d", batch.user_id, len(batch.rows)
            )
            failed.append(batch)
        else:
            stored.apply(result)
    return failed


@dataclass
class _Stored:
    """What `_store` wrote, counted into the result and the metrics only once it is
    committed to the savepoint (a failed attempt must not count)."""

    batch_sizes: list[int] = field(default_factory=list)
    email_ids: list[int] = field(default_factory=list)
    skips: list[NotificationSkip] = field(default_factory=list)

    def apply(self, result: PassResult) -> None:
        result.users += len(self.batch_sizes)
        for size in self.batch_sizes:
            metrics.BATCH_SIZE.observe(size)
        result.email_ids.extend(self.email_ids)
        result.emails += len(self.email_ids)
        metrics.EMAILS_COMPOSED.inc(len(self.email_ids))
        for skip in self.skips:
            metrics.NOTIFICATIONS_SKIPPED.labels(reason=skip.reason).inc(len(skip.message_ids))
            result.skipped_notifications += len(skip.message_ids)


def _store(batches: list[_UserBatch], now: datetime, config: BatcherConfig) -> _Stored:
    """The same statements for one user as for a thousand: the emails (one insert, in the
    pass's order, each with its user's due time), the ledger of emailed
    notifications and the skips (one insert each), the claimed rows (one delete)."""
    stored = _Stored()
    enqueued: list[_UserBatch] = []
    for batch in batches:
        if batch.composed is None:
            raise ValueError(f"user {batch.user_id}'s batch was not composed")
        user_id = batch.user_id
        stored.skips += [
            NotificationSkip(
                user_id=user_id, message_ids=list(s.message_ids), reason=s.reason, at=now
            )
            for s in batch.composed.skips
        ]
        emails = batch.composed.emails
        if config.staging and emails:
            # Staging consumes and schedules but never sends; the record says so.
            staged = sorted(m for draft in emails for m in draft.message_ids)
            stored.skips.append(
                NotificationSkip(
                    user_id=user_id, message_ids=staged, reason=SkipReason.STAGING, at=now
                )
            )
        elif emails:
            enqueued.append(batch)
        stored.batch_sizes.append(len(batch.rows))
    drafts = [(draft, batch.due_at) for batch in enqueued for draft in batch.drafts()]
    created = enqueue_drafts(
        [draft for draft, _ in drafts],
        due_at=[due_at for _, due_at in drafts],
        now=now,
        config=config.outbox,
    )
    stored.email_ids += [email.id for email in created]
    record_emailed(_emailed_pairs(enqueued), now)
    NotificationSkip.objects.bulk_create(stored.skips)
    ScheduledNotification.objects.filter(
        id__in=[row.id for batch in batches for row in batch.rows]
    ).delete()
    return stored


def _emailed_pairs(batches: list[_UserBatch]) -> list[tuple[int, int]]:
    return [
        (batch.user_id, message_id)
        for batch in batches
        for draft in batch.drafts()
        for message_id in draft.message_ids
    ]


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
