"""`missedmail preview`: an email as a file a browser opens, to see what recipients see.

Two sources:
- a stored email from the outbox (by id, or a user's latest): its bytes exactly as they
  were (or will be) sent, so what you see is what went out;
- a built-in sample conversation (`samples.py`), composed in memory in any shipped
  language: no database, nothing written.

The command needs Django set up (the CLI does it first); only stored emails read the
database.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, TextIO

from django.db import DatabaseError

from missedmail.composing.languages import EMAIL_LANGUAGES
from missedmail.composing.samples import SampleKind, sample_email
from missedmail.outbox.models import OutboundEmail

Part = Literal["html", "plain"]


class PreviewError(Exception):
    """What cannot be previewed, said in one line."""


@dataclass(frozen=True)
class SampleSource:
    kind: SampleKind
    language: str = "en"
    timezone: str = ""
    twenty_four_hour_time: bool = False
    reply_by_email: bool = False


@dataclass(frozen=True)
class StoredSource:
    email_id: int | None = None  # this outbox email, or
    user_id: int | None = None  # the latest outbox email of this user


PreviewSource = SampleSource | StoredSource


def render_preview(source: PreviewSource, part: Part = "html") -> str:
    """The email's HTML (or plain-text) part; PreviewError when there is none."""
    if isinstance(source, SampleSource):
        draft = sample_email(
            source.kind,
            language=source.language,
            timezone=source.timezone,
            twenty_four_hour_time=source.twenty_four_hour_time,
            reply_by_email=source.reply_by_email,
        )
        return draft.html if part == "html" else draft.text
    return stored_part(_stored_mime(source), part)


def _stored_mime(source: StoredSource) -> bytes:
    emails = OutboundEmail.objects.only("id", "mime")
    if source.email_id is not None:
        email = emails.filter(id=source.email_id).first()
        missing = f"no outbox email {source.email_id}"
    else:
        email = emails.filter(user_id=source.user_id).order_by("-created_at", "-id").first()
        missing = f"no outbox email for user {source.user_id}"
    if email is None:
        raise PreviewError(missing)
    mime = bytes(email.mime)
    if not mime:
        raise PreviewError(f"outbox email {email.id} has no message (its address was unusable)")
    return mime


def stored_part(mime: bytes, part: Part) -> str:
    """One text part of a stored message, decoded."""
    message = message_from_bytes(mime, policy=email_policy.default)
    assert isinstance(message, EmailMessage)  # noqa: S101 -- the default policy's class
    body = message.get_body((part,))
    if body is None:
        raise PreviewError(f"the email has no text/{part} part")
    content = body.get_content()
    return str(content).replace("\r\n", "\n")


def preview_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="missedmail preview",
        description=(
            "Write an email's HTML (or text) part to a file or stdout: a stored email from "
            "the outbox, or a built-in sample conversation (no database needed)."
        ),
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--sample",
        choices=[kind.value for kind in SampleKind],
        help="a sample conversation (the default: stream)",
    )
    source.add_argument("--email-id", type=int, metavar="N", help="the outbox email N")
    source.add_argument("--user-id", type=int, metavar="U", help="user U's latest outbox email")
    parser.add_argument(
        "--language",
        choices=EMAIL_LANGUAGES,
        default="en",
        help="the sample's language (stored emails are in their recipient's)",
    )
    parser.add_argument("--timezone", default="", help="the sample reader's IANA timezone")
    parser.add_argument("--24-hour", dest="twenty_four_hour_time", action="store_true")
    parser.add_argument(
        "--reply-by-email", action="store_true", help="the sample as with an email gateway"
    )
    parser.add_argument("--text", action="store_true", help="the text/plain part instead")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here, not to stdout")
    return parser


def source_from_args(args: argparse.Namespace) -> PreviewSource:
    if args.email_id is not None or args.user_id is not None:
        return StoredSource(email_id=args.email_id, user_id=args.user_id)
    return SampleSource(
        kind=SampleKind(args.sample or SampleKind.STREAM),
        language=args.language,
        timezone=args.timezone,
        twenty_four_hour_time=args.twenty_four_hour_time,
        reply_by_email=args.reply_by_email,
    )


def preview_command(argv: Sequence[str], stdout: TextIO | None = None) -> int:
    """`missedmail preview [options]`; 0 on success, 1 with a one-line error otherwise.
    Call it after Django is set up."""
    args = preview_parser().parse_args(list(argv))
    try:
        rendered = render_preview(source_from_args(args), "plain" if args.text else "html")
    except PreviewError as error:
        print(f"missedmail: error: {error}", file=sys.stderr)
        return 1
    except DatabaseError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "error"
        print(f"missedmail: error: database unreachable: {first_line}", file=sys.stderr)
        return 1
    if args.out is None:
        (stdout or sys.stdout).write(rendered)
        return 0
    try:
        args.out.write_text(rendered, encoding="utf-8")
    except OSError as error:
        print(f"missedmail: error: cannot write {args.out}: {error.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
