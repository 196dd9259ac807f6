"""Putting composed emails into the outbox (contract §5, behaviour §9).

Called by the batcher inside its pass's transaction: the emails exist exactly when the
scheduled notifications they came from are gone, never one without the other. Nothing here
opens a transaction or touches the network.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime

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
    reply_addresses: list[ReplyAddress] = []
    emails: list[OutboundEmail] = []
    for draft, draft_due_at in zip(drafts, due_times, strict=True):
        reply_to = config.noreply_email
        if draft.reply_to_message_id is not None and config.gateway_pattern:
            token = new_reply_token()
            reply_addresses.append(
                ReplyAddress(
                    token=token,
                    user_id=draft.user_id,
                    message_id=draft.reply_to_message_id,
                    created_at=now,
                )
            )
            reply_to = config.reply_address(token)
        emails.append(
            _outbound_email(draft, reply_to=reply_to, due_at=draft_due_at, now=now, config=config)
        )
    ReplyAddress.objects.bulk_create(reply_addresses)
    created = OutboundEmail.objects.bulk_create(emails)
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


def _outbound_email(
    draft: EmailDraft, *, reply_to: str, due_at: datetime, now: datetime, config: OutboxConfig
) -> OutboundEmail:
    message_id_header = new_message_id(config)
    email = OutboundEmail(
        user_id=draft.user_id,
        realm_id=draft.realm_id,
        message_ids=list(draft.message_ids),
        subject=draft.subject,
        to_address=draft.to_email,
        envelope_from=config.noreply_email,
        message_id_header=message_id_header,
        thread_root=draft.thread_root,
        status=EmailStatus.QUEUED,
        attempts=0,
        next_attempt_at=now,
        due_at=due_at,
        created_at=now,
        updated_at=now,
    )
    try:
        # The envelope needs the ASCII form of an internationalised domain.
        email.to_address = envelope_address(draft.to_email)
        email.mime = build_message(
            draft,
            message_id_header=message_id_header,
            reply_to=reply_to,
            headers_config=config,
            now=now,
        )
    except InvalidAddressError as error:
        email.mime = b""
        email.status = EmailStatus.FAILED
        email.last_response = INVALID_ADDRESS_RESPONSE.format(reason=error)
    return email
