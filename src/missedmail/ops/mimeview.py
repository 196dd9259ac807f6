"""An outbox email's stored MIME, taken apart for the email page: headers, text, HTML.

The bytes are exactly what is (or was) sent; nothing here changes or re-renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

# A huge part would make the page unusable; the admin shows the raw source in full.
MAX_PART_CHARS = 500_000


@dataclass(frozen=True)
class EmailParts:
    headers: list[tuple[str, str]]  # in order, decoded (RFC 2047) to text
    text: str | None
    html: str | None
    size_bytes: int


def email_parts(mime: bytes) -> EmailParts:
    if not mime:
        return EmailParts(headers=[], text=None, html=None, size_bytes=0)
    message = message_from_bytes(mime, policy=email_policy.default)
    assert isinstance(message, EmailMessage)  # noqa: S101 -- policy.default makes one
    headers = [(name, " ".join(str(value).split())) for name, value in message.items()]
    return EmailParts(
        headers=headers,
        text=_body(message, "plain"),
        html=_body(message, "html"),
        size_bytes=len(mime),
    )


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    assert isinstance(part, EmailMessage)  # noqa: S101 -- parts of an EmailMessage are
    content = part.get_content()
    if not isinstance(content, str):
        return None
    return content[:MAX_PART_CHARS]
