"""Putting composed emails into the outbox (contract §5, behaviour §9).

Called by the batcher inside its pass's transaction: the emails exist exactly when the
scheduled notifications they came from are gone, never one without the other. Nothing here
touches the network or opens a transaction of its own (but for the one SQLite's insert
begins when a caller has none: see `core.bulk.insert_new_rows`).

A pass enqueues hundreds of emails, each holding its whole MIME message: they are written
with the raw bulk insert (core/bulk.py, COPY on PostgreSQL), not `bulk_create`, whose
per-value Python and one huge parameterised INSERT were most of the pass's store time.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from missedmail.core.bulk import insert_new_rows, insert_rows
from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.drafts import EmailDraft
from missedmail.outbox.headers import InvalidAddressError, envelope_address
from missedmail.outbox.mime import build_message, new_message_id
from missedmail.outbox.models import EmailStatus, OutboundEmail, ReplyAddress

__all__ = ["OutboxConfig", "enqueue_drafts", "new_reply_token"]

logger = logging.getLogger(__name__)

REPLY_ADDRESS_PREFIX = "mm"
INVALID_ADDRESS_RESPONSE = "not sent: the recipient's email address cannot be used ({reason})"


def new_reply_token() -> str:
    """`mm` + 32 lowercase hex characters (16 random bytes), as Zulip's reply addresses."""
    return REPLY_ADDRESS_PREFIX + secrets.token_hex(16)


# The columns an outbox row is written with: every column but the id, in the model's field
# order, so that the returned instances are built from the same values positionally
# (`Model.from_db`, as for a row read back), with no per-field keyword matching.
EMAIL_FIELDS = (
    "user_id",
    "realm_id",
    "message_ids",
    "subject",
    "to_address",
    "envelope_from",
    "message_id_header",
    "thread_root",
    "mime",
    "status",
    "attempts",
    "next_attempt_at",
    "lease_expires_at",
    "lease_owner",
    "claimed_at",
    "last_response",
    "due_at",
    "created_at",
    "sent_at",
    "updated_at",
)
_MESSAGE_IDS = EMAIL_FIELDS.index("message_ids")
_READ_BACK_FIELDS = ("id", *EMAIL_FIELDS)
REPLY_ADDRESS_FIELDS = ("token", "user_id", "message_id", "created_at", "uses", "last_used_at")


def enqueue_drafts(
    drafts: Sequence[EmailDraft],
    *,
    due_at: datetime | Sequence[datetime],
    now: datetime,
    config: OutboxConfig,
) -> list[OutboundEmail]:
    """One queued outbox row per draft, in the drafts' order, MIME frozen; ids set.

    `due_at` is when the batch fell due: one time for every draft, or one per draft (a
    batcher pass enqueues many users' batches, each with its own due time, in one insert).

    A draft whose recipient address cannot be written (the host sent us garbage) becomes a
    `failed` row with the reason, so it is accounted for and never blocks the batch.
    """
    due_times = [due_at] * len(drafts) if isinstance(due_at, datetime) else list(due_at)
    if len(due_times) != len(drafts):
        raise ValueError(f"{len(due_times)} due times for {len(drafts)} drafts")
    reply_addresses: list[tuple[object, ...]] = []
    emails: list[list[object]] = []
    for draft, draft_due_at in zip(drafts, due_times, strict=True):
        reply_to = config.noreply_email
        if draft.reply_to_message_id is not None and config.gateway_pattern:
            token = new_reply_token()
            reply_addresses.append((token, draft.user_id, draft.reply_to_message_id, now, 0, None))
            reply_to = config.reply_address(token)
        emails.append(
            _email_values(draft, reply_to=reply_to, due_at=draft_due_at, now=now, config=config)
        )
    insert_rows(ReplyAddress, REPLY_ADDRESS_FIELDS, reply_addresses)
    ids = insert_new_rows(OutboundEmail, EMAIL_FIELDS, [_email_row(values) for values in emails])
    created = [
        OutboundEmail.from_db(connection.alias, _READ_BACK_FIELDS, [email_id, *values])
        for email_id, values in zip(ids, emails, strict=True)
    ]
    for email in created:
        if email.status == EmailStatus.FAILED:
            logger.warning(
                "action=email_failed email_id=%d user_id=%d attempt=0 reason=invalid_address",
                email.id,
                email.user_id,
            )
    if created:
        logger.info("action=emails_queued count=%d", len(created))
    return created


def _email_row(values: list[object]) -> list[object]:
    """An email's values as written: the message ids as the JSON text the ORM would store."""
    row = list(values)
    row[_MESSAGE_IDS] = json.dumps(values[_MESSAGE_IDS])
    return row


def _email_values(
    draft: EmailDraft, *, reply_to: str, due_at: datetime, now: datetime, config: OutboxConfig
) -> list[object]:
    """A new outbox row's values, in `EMAIL_FIELDS` order, as the ORM's defaults would fill
    them: queued, no attempt yet, no lease, nothing sent."""
    message_id_header = new_message_id(config)
    status, last_response, to_address = EmailStatus.QUEUED.value, "", draft.to_email
    try:
        # The envelope needs the ASCII form of an internationalised domain.
        to_address = envelope_address(draft.to_email)
        mime = build_message(
            draft,
            message_id_header=message_id_header,
            reply_to=reply_to,
            headers_config=config,
            now=now,
        )
    except InvalidAddressError as error:
        mime = b""
        status = EmailStatus.FAILED.value
        last_response = INVALID_ADDRESS_RESPONSE.format(reason=error)
    return [
        draft.user_id,
        draft.realm_id,
        list(draft.message_ids),
        draft.subject,
        to_address,
        config.noreply_email,
        message_id_header,
        draft.thread_root,
        mime,
        status,
        0,  # attempts
        now,  # next_attempt_at
        None,  # lease_expires_at
        "",  # lease_owner
        None,  # claimed_at
        last_response,
        due_at,
        now,  # created_at
        None,  # sent_at
        now,  # updated_at
    ]
