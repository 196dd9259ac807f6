"""What the composer hands to the outbox: one email's content and addressing, no headers
policy. The outbox adds the headers (contract §5) and freezes the bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmailDraft:
    user_id: int
    realm_id: int
    to_name: str
    to_email: str
    subject: str  # one line; the composer guarantees no CR/LF
    text: str  # the text/plain part
    html: str  # the text/html part: a whole document, CSS inlined
    message_ids: tuple[int, ...]  # the conversation's notified messages, ascending
    thread_root: str  # In-Reply-To / References value, e.g. "<3.dGVzdA==@chat.example.com>"
    realm_name: str
    realm_host: str  # for List-Id
    # Set when reply-by-email applies (gateway configured and content shown): the outbox
    # creates a reply address bound to (user, this message) and uses it as Reply-To.
    reply_to_message_id: int | None
    timezone: str  # the recipient's IANA zone ("" = UTC), for the Date header
    language: str
