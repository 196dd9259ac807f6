"""Freezing a draft into the bytes we send (contract §5).

The bytes are built once, at enqueue time, and stored: every delivery attempt sends exactly
the same message, with the same Message-ID and Date, so a repeat after a crash is one that
mail clients and servers can recognise as a duplicate.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, tzinfo
from email.message import EmailMessage
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.drafts import EmailDraft
from missedmail.outbox.headers import (
    ascii_domain,
    header_text,
    list_id,
    mailbox,
    one_line,
    outgoing_policy,
)
from missedmail.outbox.unsubscribe import unsubscribe_url

POLICY = outgoing_policy()
# RFC 5646 language tags, the simple form we write (`en`, `de`, `pt-BR`).
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")


def new_message_id(config: OutboxConfig) -> str:
    return f"<{uuid.uuid4().hex}@{ascii_domain(config.noreply_domain)}>"


def recipient_zone(name: str) -> tzinfo:
    """The user's zone; an empty or unknown one is UTC (a bad value never stops an email)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def build_message(
    draft: EmailDraft,
    *,
    message_id_header: str,
    reply_to: str,
    headers_config: OutboxConfig,
    now: datetime,
) -> bytes:
    """The whole RFC 5322 message, CRLF line endings, 7-bit clean.

    Raises `InvalidAddressError` when the recipient's address cannot be written.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    message = EmailMessage(policy=POLICY)
    message["From"] = mailbox(headers_config.from_name, headers_config.noreply_email)
    message["To"] = mailbox(draft.to_name, draft.to_email)
    message["Subject"] = header_text(draft.subject)
    message["Reply-To"] = mailbox("", reply_to)
    message["Message-ID"] = one_line(message_id_header)
    message["In-Reply-To"] = one_line(draft.thread_root)
    message["References"] = one_line(draft.thread_root)
    message["List-Id"] = list_id(draft.realm_name, draft.realm_host)
    message["List-Unsubscribe"] = (
        f"<{one_line(unsubscribe_url(headers_config.public_url, draft.user_id))}>"
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["Date"] = now.astimezone(recipient_zone(draft.timezone))
    message["MIME-Version"] = "1.0"
    message.make_alternative()
    # Plain text first: RFC 2046 orders alternatives from the simplest to the richest.
    language = draft.language if LANGUAGE_TAG.fullmatch(draft.language) else None
    message.attach(_body_part(draft.text, "plain", language))
    message.attach(_body_part(draft.html, "html", language))
    return message.as_bytes(policy=POLICY)


def _body_part(content: str, subtype: str, language: str | None) -> EmailMessage:
    part = EmailMessage(policy=POLICY)
    # Quoted-printable keeps the text readable in the raw message and the lines under
    # SMTP's 998-character limit, whatever the composer produced.
    part.set_content(_encodable(content), subtype=subtype, charset="utf-8", cte="quoted-printable")
    del part["MIME-Version"]  # set_content adds it; it belongs on the message only
    if language is not None:
        # RFC 3282, on each part: the HTML part says it with `lang` too, the text part
        # only here (screen readers and translation offers use it).
        part["Content-Language"] = language
    return part


def _encodable(text: str) -> str:
    """`text` with lone surrogates (which UTF-8 cannot encode) replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
