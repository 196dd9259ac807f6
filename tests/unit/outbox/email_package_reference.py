"""The message as the `email` package wrote it before `build_message` assembled the bytes
itself: a frozen copy of that code, the reference the direct writer is compared against.

The value rules (`mailbox`, `header_text`, `one_line`, `list_id`) are shared with the direct
writer on purpose; what is frozen here is everything the `email` package did with those
values: header folding, the multipart structure, quoted-printable, the Date format.
`ReferenceVerbatimHeader` is `VerbatimHeader` as it was, which wrote an ASCII value on one
line however long it was.
"""

from __future__ import annotations

import re
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy, Policy

from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.drafts import EmailDraft
from missedmail.outbox.headers import VERBATIM_HEADERS, header_text, list_id, mailbox, one_line
from missedmail.outbox.mime import recipient_zone
from missedmail.outbox.unsubscribe import unsubscribe_url

LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")


class ReferenceVerbatimHeader(UnstructuredHeader, BaseHeader):
    max_count = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, object]) -> None:
        super().parse(value, kwds)
        kwds["decoded"] = value

    def fold(self, *, policy: Policy) -> str:
        value = str(self)
        if not value.isascii():
            return super().fold(policy=policy)
        lines: list[str] = []
        current = f"{self.name}:"
        for number, word in enumerate(value.split(" ")):
            if number and word and len(current) + 1 + len(word) > 78:
                lines.append(current)
                current = ""
            current += f" {word}"
        lines.append(current)
        return policy.linesep.join(lines) + policy.linesep


def _reference_policy() -> EmailPolicy[EmailMessage]:
    registry = HeaderRegistry()
    for name in VERBATIM_HEADERS:
        registry.map_to_type(name, ReferenceVerbatimHeader)
    return email_policy.SMTP.clone(header_factory=registry, cte_type="7bit")


POLICY = _reference_policy()


def reference_build_message(
    draft: EmailDraft,
    *,
    message_id_header: str,
    reply_to: str,
    headers_config: OutboxConfig,
    now: datetime,
) -> bytes:
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
    language = draft.language if LANGUAGE_TAG.fullmatch(draft.language) else None
    message.attach(_body_part(draft.text, "plain", language))
    message.attach(_body_part(draft.html, "html", language))
    return message.as_bytes(policy=POLICY)


def _body_part(content: str, subtype: str, language: str | None) -> EmailMessage:
    part = EmailMessage(policy=POLICY)
    part.set_content(_encodable(content), subtype=subtype, charset="utf-8", cte="quoted-printable")
    del part["MIME-Version"]
    if language is not None:
        part["Content-Language"] = language
    return part


def _encodable(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
