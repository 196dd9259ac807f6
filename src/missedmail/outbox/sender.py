"""Delivering outbox rows: claim with a lease, send outside any transaction, record.

The state machine and why it is shaped so are in docs/decisions/0003-outbox.md. In short:

- `claim_ready` takes ready rows in one short transaction (`SKIP LOCKED`: concurrent
  senders never wait for each other and never take the same row), marks them `sending`
  with a lease, counts the attempt, and commits before any network I/O. Two statements
  whatever the round's size: the locking read, one update.
- `deliver` sends each claimed email with no transaction open, then stores the outcome
  before the next send (one statement on PostgreSQL; why not the round's outcomes at
  once: `_store_outcome`). One email's failure never holds up the next one.
- A sender that dies leaves `sending` rows whose lease runs out; the next claim takes them
  again. So delivery is at least once: a crash between the server's "250" and our record
  repeats that one email, with the same bytes and the same Message-ID.
- When the transport is unavailable (the mail server is down), the round stops: the email
  that found out and the rest of the round are put back untouched, their attempts not
  used, to be tried after the outage backoff. An outage therefore never fails an email,
  however long it lasts (docs/reliability.md).
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Case, F, Field, Q, QuerySet, Value, When

from missedmail.clock import Clock
from missedmail.core.bulk import sql_ids
from missedmail.outbox.models import AttemptOutcome, DeliveryAttempt, EmailStatus, OutboundEmail
from missedmail.outbox.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from missedmail.outbox.transports import (
    PartiallyDeliveredError,
    PermanentDeliveryError,
    ServiceUnavailableError,
    TransientDeliveryError,
    Transport,
)

logger = logging.getLogger(__name__)

DEFAULT_CLAIM_LIMIT = 50
# Longer than a whole claimed round normally takes (limit x one SMTP exchange), so a live
# sender keeps its rows; short enough that a dead sender's emails wait only minutes.
DEFAULT_LEASE_SECONDS = 300.0
MAX_RESPONSE_CHARS = 2000
LOST_ATTEMPT_RESPONSE = "outcome unknown: the sender stopped before recording it (lease expired)"
EMPTY_MESSAGE_RESPONSE = "not sent: the message could not be built"
READY_STATUSES = (EmailStatus.QUEUED, EmailStatus.RETRYING)
_OUTBOX = OutboundEmail._meta.db_table
_ATTEMPTS = DeliveryAttempt._meta.db_table


@dataclass(frozen=True)
class DeliveryOutcome:
    email_id: int
    user_id: int
    attempt: int
    status: EmailStatus  # the email's status after this attempt: sent, retrying or failed
    code: int | None  # the server's reply code, when there was one
    started_at: datetime
    finished_at: datetime
    due_at: datetime
    # False when another sender had taken the email over meanwhile (our lease ran out
    # mid-attempt): the attempt is logged, but that sender's outcome stands.
    recorded: bool = True


@dataclass
class DeliveryReport:
    claimed: int = 0
    outcomes: list[DeliveryOutcome] = field(default_factory=list)
    # Claimed but not attempted: the lease ran out before their turn (another sender may
    # already have them), so sending would risk a duplicate.
    lease_lost: int = 0
    # Put back untouched because the transport was unavailable (its reason in
    # `unavailable`), to be tried again at `retry_at`.
    released: int = 0
    unavailable: str | None = None
    retry_at: datetime | None = None

    def count(self, status: EmailStatus) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)


# The claim and the wake-up time are SQL written once, not ORM queries: compiling the
# ORM's locking read and update cost 1.6 ms of CPU per round (a round's fixed cost went
# from 2.2 to 0.55 ms, measured), 30 µs per email of a round of 50. Status values are
# written into the SQL, as the ORM's literals were, so the planner matches the partial
# indexes.
_READY_STATUSES_SQL = ", ".join(f"'{status.value}'" for status in READY_STATUSES)
_SENDING_SQL = f"'{EmailStatus.SENDING.value}'"
# What a claim does not read of a row: the content (the bytes to send are in `mime`), and
# the columns the claim sets on every instance it returns. Loading a row costs CPU per
# column (a timestamp 2.5 µs, measured); Django loads a deferred field if it is read.
_NOT_CLAIMED = (
    "realm",
    "message_ids",
    "subject",
    "message_id_header",
    "thread_root",
    "created_at",
    "lease_expires_at",
    "updated_at",
)
_CLAIM_FIELDS = tuple(
    model_field
    for model_field in OutboundEmail._meta.concrete_fields
    if model_field.name not in _NOT_CLAIMED
)
_CLAIM_NAMES = frozenset(model_field.attname for model_field in _CLAIM_FIELDS)
_CLAIM_COLUMNS = ", ".join(f'"{model_field.column}"' for model_field in _CLAIM_FIELDS)
# The locking read, in two parts so that each reads its own partial index in the claim's
# order and stops at `limit`: the expired leases (`email_leased`; almost always none), then
# the ready rows (`email_ready`, which is in this order) for the rest of the limit. The one
# `OR` of both that it was could be read in order from neither index, so every claim read
# and sorted every ready row (EXPLAIN ANALYZE, 2,700 ready rows: 3.8 ms a claim, now
# 0.26 ms; it grew with the queue). Expired leases are therefore taken first: they are the
# older work (they were ready before their lease was taken). `{lock}`: `_select_ready`.
_SELECT_READY = (
    f'WITH "leased" AS (SELECT {_CLAIM_COLUMNS} FROM "{_OUTBOX}" '  # noqa: S608
    f'WHERE "status" = {_SENDING_SQL} AND "lease_expires_at" <= %s '
    'ORDER BY "next_attempt_at", "id" LIMIT %s {lock}), '
    f'"ready" AS (SELECT {_CLAIM_COLUMNS} FROM "{_OUTBOX}" '
    f'WHERE "status" IN ({_READY_STATUSES_SQL}) AND "next_attempt_at" <= %s '
    'ORDER BY "next_attempt_at", "id" LIMIT %s - (SELECT count(*) FROM "leased") {lock}) '
    'SELECT * FROM "leased" UNION ALL SELECT * FROM "ready" ORDER BY "next_attempt_at", "id"'
)
_MARK_CLAIMED = (
    f'UPDATE "{_OUTBOX}" SET "status" = {_SENDING_SQL}, "attempts" = "attempts" + 1, '  # noqa: S608
    '"lease_expires_at" = %s, "lease_owner" = %s, "claimed_at" = %s, "updated_at" = %s '
    'WHERE "id" IN ({ids})'
)
_READY_BACKLOG = (
    f'SELECT count(*) FROM (SELECT 1 FROM "{_OUTBOX}" '  # noqa: S608
    f'WHERE "status" IN ({_READY_STATUSES_SQL}) AND "next_attempt_at" <= %s LIMIT %s) AS ready'
)
# The earliest ready time and the earliest lease expiry (see `wake_time_queries`), each the
# first entry of its partial index, in one statement.
_WAKE_TIMES = (
    f'SELECT (SELECT "next_attempt_at" FROM "{_OUTBOX}" '  # noqa: S608
    f'WHERE "status" IN ({_READY_STATUSES_SQL}) ORDER BY "next_attempt_at" LIMIT 1), '
    f'(SELECT "lease_expires_at" FROM "{_OUTBOX}" '
    f'WHERE "status" = {_SENDING_SQL} ORDER BY "lease_expires_at" LIMIT 1)'
)


def claim_ready(
    now: datetime,
    *,
    limit: int,
    lease_seconds: float,
    owner: str,
    max_attempts: int = DEFAULT_RETRY_POLICY.max_attempts,
) -> list[OutboundEmail]:
    """Claim up to `limit` deliverable emails for `owner`, oldest first, and commit.

    A `sending` row whose lease expired is taken over; its lost attempt is recorded, and
    when that was the last allowed attempt the email is failed instead of claimed (an
    email that crashes every sender must not loop forever). The returned instances hold
    what sending needs and the rows' state; their content fields are deferred.
    """
    if limit < 1:
        return []
    lease_expires_at = now + timedelta(seconds=lease_seconds)
    with transaction.atomic():
        rows = _lock_ready(now, limit)
        claimed: list[OutboundEmail] = []
        given_up: list[OutboundEmail] = []
        lost: list[DeliveryAttempt] = []
        for email in rows:
            if email.status == EmailStatus.SENDING:
                lost.append(_lost_attempt(email, now))
                if email.attempts >= max_attempts:
                    _finish(email, EmailStatus.FAILED, LOST_ATTEMPT_RESPONSE, now)
                    given_up.append(email)
                    continue
            email.status = EmailStatus.SENDING
            email.attempts += 1
            email.lease_expires_at = lease_expires_at
            email.lease_owner = owner
            email.claimed_at = now
            email.updated_at = now
            claimed.append(email)
        # Set-based: every claimed row gets the same values, in one statement whatever
        # the round's size. The rows are locked, so `attempts + 1` is the value set on the
        # instances above.
        if claimed:
            _mark_claimed([email.id for email in claimed], owner, lease_expires_at, now)
        if given_up:  # rare (a sender that keeps dying): the ORM's convenience is fine here
            OutboundEmail.objects.filter(id__in=[email.id for email in given_up]).update(
                status=EmailStatus.FAILED,
                last_response=LOST_ATTEMPT_RESPONSE,
                lease_expires_at=None,
                lease_owner="",
                updated_at=now,
            )
        if lost:
            DeliveryAttempt.objects.bulk_create(lost)
    for email in given_up:
        logger.error(
            "action=email_failed email_id=%d user_id=%d attempt=%d reason=lease_expired",
            email.id,
            email.user_id,
            email.attempts,
        )
    if claimed:
        logger.info("action=emails_claimed owner=%s count=%d", owner, len(claimed))
    return claimed


def _lock_ready(now: datetime, limit: int) -> list[OutboundEmail]:
    """The ready rows, oldest first, locked for this transaction: `sending` ones whose
    lease expired, then `queued`/`retrying` ones that are due, up to `limit` in all.
    `SKIP LOCKED`: rows another sender is claiming are not waited for, nor taken (SQLite
    locks the whole database)."""
    db = connections[DEFAULT_DB_ALIAS]
    sql = _select_ready(skip_locked=db.features.has_select_for_update_skip_locked)
    at = db.ops.adapt_datetimefield_value(now)
    with db.cursor() as cursor:
        cursor.execute(sql, [at, limit, at, limit])
        rows = cursor.fetchall()
    return [
        OutboundEmail.from_db(db.alias, _CLAIM_NAMES, values)
        for values in _converted(db, _CLAIM_FIELDS, rows)
    ]


@functools.cache
def _select_ready(*, skip_locked: bool) -> str:
    return _SELECT_READY.format(lock="FOR UPDATE SKIP LOCKED" if skip_locked else "")


def _mark_claimed(
    ids: Sequence[int], owner: str, lease_expires_at: datetime, now: datetime
) -> None:
    db = connections[DEFAULT_DB_ALIAS]
    at = db.ops.adapt_datetimefield_value
    # The ids are the integers the locking read returned: written in (`sql_ids`), they
    # cost no parameter conversion each.
    sql = _MARK_CLAIMED.format(ids=sql_ids(ids))
    with db.cursor() as cursor:
        cursor.execute(sql, [at(lease_expires_at), owner, at(now), at(now)])


def _converted(
    db: BaseDatabaseWrapper, fields: Sequence[Field[Any, Any]], rows: Iterable[Sequence[Any]]
) -> Iterator[list[Any]]:
    """Rows of `fields` as the ORM would hand them over: each value through the backend's
    and the field's converters (SQLite's timestamps are text; PostgreSQL's need none)."""
    converters = []
    for index, model_field in enumerate(fields):
        column = model_field.get_col(_OUTBOX)
        found = db.ops.get_db_converters(column) + model_field.get_db_converters(db)
        if found:
            converters.append((index, found, column))
    for row in rows:
        values = list(row)
        for index, functions, column in converters:
            for convert in functions:
                values[index] = convert(values[index], column, db)
        yield values


def _lost_attempt(email: OutboundEmail, now: datetime) -> DeliveryAttempt:
    logger.warning(
        "action=email_lease_expired email_id=%d user_id=%d attempt=%d previous_owner=%s",
        email.id,
        email.user_id,
        email.attempts,
        email.lease_owner,
    )
    return DeliveryAttempt(
        email_id=email.id,
        number=email.attempts,
        started_at=email.claimed_at or now,
        finished_at=now,
        outcome=AttemptOutcome.LOST,
        response=LOST_ATTEMPT_RESPONSE,
    )


def _finish(email: OutboundEmail, status: EmailStatus, response: str, now: datetime) -> None:
    email.status = status
    email.last_response = response[:MAX_RESPONSE_CHARS]
    email.lease_expires_at = None
    email.lease_owner = ""
    email.updated_at = now


def deliver(
    emails: Sequence[OutboundEmail],
    transport: Transport,
    *,
    clock: Clock,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Send each claimed email and record its outcome. Call with no transaction open:
    nobody should wait on our locks while a mail server takes its time."""
    rng = rng or random.Random()  # noqa: S311 -- jitter spreads retries; it guards no secret
    report = DeliveryReport(claimed=len(emails))
    if not emails:
        return report
    # One cursor stores the whole round's outcomes: a fresh one per email cost 15 µs of
    # CPU (psycopg sets up its adapters for each cursor), measured. An open cursor is not
    # an open transaction: each outcome still commits on its own before the next send.
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        for position, email in enumerate(emails):
            try:
                outcome = _deliver_one(
                    email, transport, cursor=cursor, clock=clock, policy=policy, rng=rng
                )
            except ServiceUnavailableError as error:
                # Every email left would fail the same way: stop the round, try again later.
                now = clock.now()
                report.unavailable = error.response
                report.retry_at = now + policy.outage_delay(error.failures, rng)
                report.released = release_unattempted(
                    emails[position:],
                    error.response,
                    retry_at=report.retry_at,
                    now=now,
                    quietly=error.failures > 1,  # the transport said so at the outage's start
                )
                break
            if outcome is None:
                report.lease_lost += 1
            else:
                report.outcomes.append(outcome)
    return report


def release_unattempted(
    emails: Sequence[OutboundEmail],
    reason: str,
    *,
    retry_at: datetime,
    now: datetime,
    quietly: bool = False,
) -> int:
    """Put claimed emails back as they were before the claim, attempts included, to be
    claimed again at `retry_at`; only those still ours. Returns how many were."""
    if not emails:
        return 0
    response = f"not attempted: {reason}"[:MAX_RESPONSE_CHARS]
    ours = Q()
    for email in emails:
        ours |= Q(id=email.id, lease_owner=email.lease_owner, attempts=email.attempts)
    with transaction.atomic():
        released = OutboundEmail.objects.filter(ours, status=EmailStatus.SENDING).update(
            # The claim counted an attempt that never reached the server.
            status=Case(
                When(attempts__lte=1, then=Value(EmailStatus.QUEUED)),
                default=Value(EmailStatus.RETRYING),
            ),
            attempts=F("attempts") - 1,
            lease_expires_at=None,
            lease_owner="",
            next_attempt_at=retry_at,
            last_response=response,
            updated_at=now,
        )
    (logger.debug if quietly else logger.info)(
        "action=emails_released count=%d retry_in_seconds=%.1f",
        released,
        (retry_at - now).total_seconds(),
    )
    return released


def _deliver_one(
    email: OutboundEmail,
    transport: Transport,
    *,
    cursor: CursorWrapper,
    clock: Clock,
    policy: RetryPolicy,
    rng: random.Random,
) -> DeliveryOutcome | None:
    started_at = clock.now()
    if email.lease_expires_at is None or email.lease_expires_at <= started_at:
        logger.warning(
            "action=email_lease_lost email_id=%d user_id=%d attempt=%d",
            email.id,
            email.user_id,
            email.attempts,
        )
        return None
    code: int | None = None
    message = bytes(email.mime)
    if not message:
        outcome, response = AttemptOutcome.PERMANENT, EMPTY_MESSAGE_RESPONSE
    else:
        try:
            response = transport.send(
                email.envelope_from, [email.to_address], message, email_id=email.id
            )
            outcome = AttemptOutcome.SENT
        except ServiceUnavailableError:
            raise  # not this email's failure: `deliver` puts the round back
        except PartiallyDeliveredError as error:
            # Delivered to whoever accepted it; sending again would give them a second copy.
            # (The outbox sends one recipient per email, so this only happens to a
            # transport that adds recipients of its own.)
            logger.warning(
                "action=email_partially_delivered email_id=%d user_id=%d refused=%d",
                email.id,
                email.user_id,
                len(error.refusals),
            )
            outcome = AttemptOutcome.SENT
            refused = "; ".join(str(refusal) for refusal in error.refusals)
            response = f"{error.response}; refused: {refused}"
        except TransientDeliveryError as error:
            outcome, response, code = AttemptOutcome.TRANSIENT, error.response, error.code
        except PermanentDeliveryError as error:
            outcome, response, code = AttemptOutcome.PERMANENT, error.response, error.code
        except Exception as error:  # a transport bug must not stop the other emails
            # The type only: an exception's text could quote the message.
            logger.error(
                "action=transport_error email_id=%d error=%s", email.id, type(error).__name__
            )
            outcome, response = AttemptOutcome.TRANSIENT, f"internal error: {type(error).__name__}"
    return _record(
        email,
        outcome,
        response,
        code,
        cursor=cursor,
        started_at=started_at,
        finished_at=clock.now(),
        policy=policy,
        rng=rng,
    )


def _record(
    email: OutboundEmail,
    outcome: AttemptOutcome,
    response: str,
    code: int | None,
    *,
    cursor: CursorWrapper,
    started_at: datetime,
    finished_at: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> DeliveryOutcome:
    attempt = email.attempts
    response = response[:MAX_RESPONSE_CHARS]
    delay: timedelta | None = None
    if outcome == AttemptOutcome.SENT:
        status = EmailStatus.SENT
    elif outcome == AttemptOutcome.PERMANENT or policy.exhausted(attempt):
        status = EmailStatus.FAILED
    else:
        status = EmailStatus.RETRYING
        delay = policy.delay_for(attempt, rng)
    next_attempt_at = finished_at + delay if delay is not None else None
    recorded = _store_outcome(
        cursor,
        email,
        status,
        outcome,
        response,
        started_at=started_at,
        finished_at=finished_at,
        next_attempt_at=next_attempt_at,
    )
    _finish(email, status, response, finished_at)
    if status == EmailStatus.SENT:
        email.sent_at = finished_at
    if next_attempt_at is not None:
        email.next_attempt_at = next_attempt_at
    _log_outcome(email, status, attempt, code, delay, recorded)
    return DeliveryOutcome(
        email_id=email.id,
        user_id=email.user_id,
        attempt=attempt,
        status=status,
        code=code,
        started_at=started_at,
        finished_at=finished_at,
        due_at=email.due_at,
        recorded=recorded,
    )


def _store_outcome(
    cursor: CursorWrapper,
    email: OutboundEmail,
    status: EmailStatus,
    outcome: AttemptOutcome,
    response: str,
    *,
    started_at: datetime,
    finished_at: datetime,
    next_attempt_at: datetime | None,
) -> bool:
    """Store one attempt: the email's new state and its attempt record, atomically, before
    the next email is sent. Returns whether the email's row took the new state.

    Why one email at a time, when a round's outcomes could be stored in one transaction:
    an email the server accepted is sent again after a crash for as long as its outcome is
    not stored. Stored together, every email of the group would be (all accepted, none
    known to the outbox), and the promise of docs/reliability.md -- a crash repeats at most
    the email in flight, one per connection -- would become a group per connection; the
    fault suite holds a worker killed again and again to at most one repeat per kill
    (tests/faults/test_scale_out_kills.py). So the per-email write is made cheap instead:
    one statement on PostgreSQL (a round trip, where the ORM's transaction took four), and
    SQL rather than the ORM, whose update and insert cost more Python per email than the
    SMTP exchange they record (about 1.2 ms of CPU per email, measured).
    """
    db = cursor.db
    at = db.ops.adapt_datetimefield_value
    params: list[Any] = [response, at(finished_at)]
    if status == EmailStatus.SENT:
        params.append(at(finished_at))
    if next_attempt_at is not None:
        params.append(at(next_attempt_at))
    params.append(email.id)
    if status != EmailStatus.SENT:
        params += [email.lease_owner, email.attempts]
    attempt_params = [
        email.id,
        email.attempts,
        at(started_at),
        at(finished_at),
        outcome.value,
        response,
    ]
    update, insert = _outcome_statements(status, retried=next_attempt_at is not None)
    if db.vendor == "postgresql":
        # One statement is one transaction: both writes happen, or neither does.
        cursor.execute(_as_one_statement(update, insert), [*params, *attempt_params])
        row = cursor.fetchone()
        return row is not None and row[0] == 1
    # SQLite runs in this process: a transaction of two statements costs no round trip.
    with transaction.atomic(using=db.alias):
        cursor.execute(update, params)
        recorded: bool = cursor.rowcount == 1
        cursor.execute(insert, attempt_params)
    return recorded


@functools.cache
def _outcome_statements(status: EmailStatus, *, retried: bool) -> tuple[str, str]:
    """The UPDATE of the email and the INSERT of its attempt that store an attempt ending
    in `status`, written once per kind of outcome (the parameters: `_store_outcome`).
    Only names from our models, our status values and placeholders are formatted in."""
    changes = [
        f"\"status\" = '{status.value}'",
        '"last_response" = %s',
        '"lease_expires_at" = NULL',
        "\"lease_owner\" = ''",
        '"updated_at" = %s',
    ]
    if status == EmailStatus.SENT:
        changes.append('"sent_at" = %s')
    if retried:
        changes.append('"next_attempt_at" = %s')
    if status == EmailStatus.SENT:
        # Delivered is delivered: this wins over whatever another sender recorded.
        guard = f"\"status\" <> '{EmailStatus.SENT.value}'"
    else:
        # A failure counts only while the email is still ours: if our lease ran out and
        # another sender took over, its outcome stands.
        guard = f'"status" = {_SENDING_SQL} AND "lease_owner" = %s AND "attempts" = %s'
    update = f'UPDATE "{_OUTBOX}" SET {", ".join(changes)} WHERE "id" = %s AND {guard}'  # noqa: S608
    insert = (
        f'INSERT INTO "{_ATTEMPTS}" '  # noqa: S608
        '("email_id", "number", "started_at", "finished_at", "outcome", "response") '
        "VALUES (%s, %s, %s, %s, %s, %s)"
    )
    return update, insert


@functools.cache
def _as_one_statement(update: str, insert: str) -> str:
    """PostgreSQL: the update and the insert as one statement, returning whether the
    update changed the row."""
    return (
        f"WITH stored AS ({update} RETURNING 1) {insert} "  # noqa: S608
        "RETURNING (SELECT count(*) FROM stored)"
    )


def _log_outcome(
    email: OutboundEmail,
    status: EmailStatus,
    attempt: int,
    code: int | None,
    delay: timedelta | None,
    recorded: bool,
) -> None:
    ids = (email.id, email.user_id, attempt)
    if not recorded:
        logger.warning(
            "action=email_outcome_superseded email_id=%d user_id=%d attempt=%d status=%s",
            *ids,
            status,
        )
    elif status == EmailStatus.SENT:
        logger.info("action=email_sent email_id=%d user_id=%d attempt=%d", *ids)
    elif delay is not None:
        logger.warning(
            "action=email_retry email_id=%d user_id=%d attempt=%d code=%s delay_seconds=%.1f",
            *ids,
            code,
            delay.total_seconds(),
        )
    else:
        logger.error("action=email_failed email_id=%d user_id=%d attempt=%d code=%s", *ids, code)


def send_once(
    now: datetime,
    transport: Transport,
    *,
    owner: str,
    clock: Clock,
    limit: int = DEFAULT_CLAIM_LIMIT,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """One round: claim what is ready at `now`, deliver it. `report.claimed == limit`
    means more may be ready."""
    emails = claim_ready(
        now, limit=limit, lease_seconds=lease_seconds, owner=owner, max_attempts=policy.max_attempts
    )
    return deliver(emails, transport, clock=clock, policy=policy, rng=rng)


def wake_time_queries() -> tuple[QuerySet[OutboundEmail, datetime | None], ...]:
    """The two one-value queries behind `next_wake_at`: the earliest ready time of a queued
    or retrying email, and the earliest lease expiry of a `sending` one. Each reads the
    first entry of its partial index. For a caller that reads them along with other values
    in one statement (the worker's heartbeat); `earliest` combines their answers."""
    ready = (
        OutboundEmail.objects.filter(status__in=READY_STATUSES)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)[:1]
    )
    leased = (
        OutboundEmail.objects.filter(status=EmailStatus.SENDING)
        .order_by("lease_expires_at")
        .values_list("lease_expires_at", flat=True)[:1]
    )
    return ready, leased


def earliest(*times: datetime | None) -> datetime | None:
    known = [time for time in times if time is not None]
    return min(known) if known else None


def next_wake_at() -> datetime | None:
    """When a sender next has something to do: the earliest ready time of a queued or
    retrying email, or the earliest lease expiry of a `sending` one (its sender may have
    died). None when the outbox holds nothing to deliver. The two queries of
    `wake_time_queries`, as one statement."""
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:
        cursor.execute(_WAKE_TIMES)
        row = cursor.fetchone()
    assert row is not None  # noqa: S101 -- a SELECT without FROM returns one row
    fields = (_field("next_attempt_at"), _field("lease_expires_at"))
    [times] = _converted(db, fields, [row])
    return earliest(*times)


def ready_backlog(now: datetime, cap: int) -> int:
    """How many emails are ready to send at `now` (queued or retrying, due), counted up to
    `cap`: a bounded walk of the ready index, however long the queue (the batcher's
    backpressure, worker/service.py)."""
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:
        cursor.execute(_READY_BACKLOG, [db.ops.adapt_datetimefield_value(now), cap])
        row = cursor.fetchone()
    assert row is not None  # noqa: S101 -- a count returns one row
    return int(row[0])


def _field(name: str) -> Field[Any, Any]:
    found = OutboundEmail._meta.get_field(name)
    assert isinstance(found, Field)  # noqa: S101 -- a column of our own model
    return found


def requeue_failed(email_ids: Iterable[int], now: datetime) -> int:
    """Give failed emails a fresh round of attempts, from now (the operators' retry).

    Attempts count from 1 again. An email whose message could not be built (an unusable
    address) stays failed: sending it would fail the same way.
    """
    ids = list(email_ids)
    with transaction.atomic():
        count = (
            OutboundEmail.objects.filter(id__in=ids, status=EmailStatus.FAILED)
            .exclude(mime=b"")
            .update(
                status=EmailStatus.QUEUED,
                attempts=0,
                next_attempt_at=now,
                last_response="",
                updated_at=now,
            )
        )
    logger.info("action=emails_requeued requested=%d count=%d", len(ids), count)
    return count
