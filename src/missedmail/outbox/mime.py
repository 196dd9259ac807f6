"""Freezing a draft into the bytes we send (contract §5).

The bytes are built once, at enqueue time, and stored: every delivery attempt sends exactly
the same message, with the same Message-ID and Date, so a repeat after a crash is one that
mail clients and servers can recognise as a duplicate.

The message is assembled here as text, not through `email.message.EmailMessage`: building
and flattening the object tree cost about 5 ms per email, a fifth of a batcher pass. The
headers are what the `email` package wrote with our policy (`headers.outgoing_policy`),
byte for byte: the same headers in the same order, folded the same way, the same
multipart/alternative structure and boundary form. (One exception: a value too long for
SMTP's 998-character line, which it wrote on one line anyway, is now folded as encoded
words.) The bodies are quoted-printable as before, written by `binascii.b2a_qp` (lines of
at most 76 characters, where `email` wrote 78); they decode to the same text. Every header
value still comes from the helpers in `headers.py`, which are what make header injection
impossible; this module only joins their results.
"""

from __future__ import annotations

import random
import re
import sys
import uuid
from binascii import b2a_qp
from datetime import UTC, datetime, tzinfo
from email.headerregistry import BaseHeader
from email.utils import format_datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.drafts import EmailDraft
from missedmail.outbox.headers import (
    FOLD_AT,
    ascii_domain,
    fold_verbatim,
    header_text,
    list_id,
    mailbox,
    one_line,
    outgoing_policy,
)
from missedmail.outbox.unsubscribe import unsubscribe_url

CRLF = "\r\n"
# For the rare values the fast paths do not take (a non-ASCII or over-long value in a
# verbatim header, an over-long language tag): the `email` package folds those as before.
POLICY = outgoing_policy()
# RFC 5646 language tags, the simple form we write (`en`, `de`, `pt-BR`).
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")

# The headers that never change, after Date and before the message's Content-Type.
FIXED_HEADERS = (
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    "Auto-Submitted: auto-generated\r\n"
    "X-Auto-Response-Suppress: All\r\n"
)
PART_HEADERS = {
    subtype: (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n"
    )
    for subtype in ("plain", "html")
}
QP_LINE = 76  # RFC 2045 §6.7's limit for quoted-printable lines, the soft break's "=" included
EQUALS = ord("=")


def new_message_id(config: OutboxConfig) -> str:
    return f"<{uuid.uuid4().hex}@{ascii_domain(config.noreply_domain)}>"


@lru_cache(maxsize=1024)
def recipient_zone(name: str) -> tzinfo:
    """The user's zone; an empty or unknown one is UTC (a bad value never stops an email).
    Cached: an unknown name would otherwise be looked up on disk for every email."""
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
    # In the order the headers appear, so that the first bad value raises as it always did.
    head = [
        _sender(headers_config.from_name, headers_config.noreply_email),
        _verbatim("To", mailbox(draft.to_name, draft.to_email)),
        _verbatim("Subject", header_text(draft.subject)),
        _verbatim("Reply-To", mailbox("", reply_to)),
        _verbatim("Message-ID", one_line(message_id_header)),
        _verbatim("In-Reply-To", one_line(draft.thread_root)),
        _verbatim("References", one_line(draft.thread_root)),
        _verbatim("List-Id", list_id(draft.realm_name, draft.realm_host)),
        _verbatim(
            "List-Unsubscribe",
            f"<{one_line(unsubscribe_url(headers_config.public_url, draft.user_id))}>",
        ),
        FIXED_HEADERS,
        f"Date: {format_datetime(now.astimezone(recipient_zone(draft.timezone)))}\r\n",
        "MIME-Version: 1.0\r\n",
    ]
    boundary = _boundary()
    head.append(f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n')
    language = draft.language if LANGUAGE_TAG.fullmatch(draft.language) else None
    language_header = "" if language is None else _content_language(language)
    # Plain text first: RFC 2046 orders alternatives from the simplest to the richest.
    delimiter = f"--{boundary}\r\n".encode("ascii")
    return b"".join(
        (
            "".join(head).encode("ascii"),  # ASCII by construction; anything else must fail
            delimiter,
            _body_part(draft.text, "plain", language_header),
            b"\r\n",
            delimiter,
            _body_part(draft.html, "html", language_header),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        )
    )


@lru_cache(maxsize=16)
def _sender(from_name: str, noreply_email: str) -> str:
    # The same for every email of an installation.
    return _verbatim("From", mailbox(from_name, noreply_email))


def _verbatim(name: str, value: str) -> str:
    folded = fold_verbatim(name, value)
    # Not ASCII, or a word too long for any line: folded as the email package does.
    return _folded_by_email_package(name, value) if folded is None else folded


def _content_language(language: str) -> str:
    header = f"Content-Language: {language}\r\n"
    if len(header) - len(CRLF) <= FOLD_AT:
        return header
    return _folded_by_email_package("Content-Language", language)


def _folded_by_email_package(name: str, value: str) -> str:
    header: BaseHeader = POLICY.header_factory(name, value)
    return header.fold(policy=POLICY)


def _boundary() -> str:
    # The email package's form (15 "=", 19 random digits, "=="). It needs no check against
    # the bodies: quoted-printable escapes every "=", so no body line can contain it.
    return f"==============={random.randrange(sys.maxsize):019d}=="  # noqa: S311 -- not a secret


def _body_part(content: str, subtype: str, language_header: str) -> bytes:
    # Quoted-printable keeps the text readable in the raw message and the lines under
    # SMTP's 998-character limit, whatever the composer produced. RFC 3282 Content-Language
    # on each part: the HTML part says it with `lang` too, the text part only here (screen
    # readers and translation offers use it).
    headers = f"{PART_HEADERS[subtype]}{language_header}\r\n".encode("ascii")
    return headers + _quoted_printable(content)


def _quoted_printable(text: str) -> bytes:
    """`text` in UTF-8, quoted-printable (RFC 2045 §6.7), CRLF line endings, ending with one.

    As `EmailMessage.set_content` took it, a CR, LF or CRLF in `text` is a line break and a
    final line break is added when missing. `binascii.b2a_qp` escapes every byte other than
    printable ASCII, space and tab, and "=" itself (so the boundary, which contains "=", can
    never appear in a body), escapes a space or tab at the end of a line, and breaks longer
    lines with soft breaks that never split an escape.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (or a pair, which UTF-16 joins)
        data = _encodable(text).encode("utf-8")
    # LF only: b2a_qp writes its soft breaks with the line ending it finds first.
    encoded = b2a_qp(b"\n".join(data.splitlines()) + b"\n", istext=True)
    # b2a_qp keeps its lines within 76 characters except where it escapes a space or tab at
    # the end of a line (see `_within_qp_line`), so only then are the lines measured.
    if b"=20\n" in encoded or b"=09\n" in encoded:
        lines = encoded.split(b"\n")
        if max(map(len, lines)) > QP_LINE:
            return b"\r\n".join(piece for line in lines for piece in _within_qp_line(line))
    return encoded.replace(b"\n", b"\r\n")


def _within_qp_line(line: bytes) -> list[bytes]:
    """`line` in pieces of at most 76 characters, joined by soft breaks.

    b2a_qp breaks lines at 76 characters, but escapes a space or tab at the end of a line
    after that, which can make the line 77 or 78 characters long.
    """
    pieces: list[bytes] = []
    while len(line) > QP_LINE:
        cut = QP_LINE - 1  # room for the "=" of the soft break
        if line[cut - 1] == EQUALS:  # never split an "=XX" escape
            cut -= 1
        elif line[cut - 2] == EQUALS:
            cut -= 2
        pieces.append(line[:cut] + b"=")
        line = line[cut:]
    pieces.append(line)
    return pieces


def _encodable(text: str) -> str:
    """`text` with lone surrogates (which UTF-8 cannot encode) replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
