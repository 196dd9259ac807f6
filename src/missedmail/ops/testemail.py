"""A test email to an address an operator types in: does mail leave this installation?

It goes straight through the service's transport (SMTP, or the outbox folder), not through
the outbox table: the operator wants the server's answer now, and a test email is nobody's
notification. It carries the same From, Message-ID domain and auto-reply headers as real
emails, so it meets the same filters on the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.headers import (
    InvalidAddressError,
    envelope_address,
    header_text,
    mailbox,
    outgoing_policy,
)
from missedmail.outbox.mime import new_message_id
from missedmail.outbox.transports import DeliveryError, Transport

SUBJECT = "missedmail test email"
BODY = (
    "This is a test email from {installation}, sent by an operator from the operations "
    "page at {when} UTC.\n\n"
    "If you can read it, missed-message emails can reach this address.\n"
)


@dataclass(frozen=True)
class TestEmailResult:
    sent: bool
    response: str  # the server's answer (or why nothing was sent)
    code: int | None = None


def build_test_message(address: str, config: OutboxConfig, now: datetime) -> bytes:
    """The message's bytes; `InvalidAddressError` when `address` cannot be used."""
    message = EmailMessage(policy=outgoing_policy())
    message["From"] = mailbox(config.from_name, config.noreply_email)
    message["To"] = mailbox("", address)
    message["Subject"] = header_text(SUBJECT)
    message["Message-ID"] = new_message_id(config)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["Date"] = now
    installation = config.from_name.removesuffix(" notifications")
    message.set_content(
        BODY.format(installation=installation, when=now.strftime("%Y-%m-%d %H:%M:%S")),
        charset="utf-8",
        cte="quoted-printable",
    )
    return message.as_bytes()


def send_test_email(
    address: str, transport: Transport, config: OutboxConfig, now: datetime
) -> TestEmailResult:
    """Send one test email and report the outcome; never raises for a delivery problem.
    Closes `transport`, a new one per test email."""
    try:
        return _send(address, transport, config, now)
    finally:
        transport.close()


def _send(
    address: str, transport: Transport, config: OutboxConfig, now: datetime
) -> TestEmailResult:
    try:
        recipient = envelope_address(address)
        message = build_test_message(address, config, now)
    except InvalidAddressError as error:
        return TestEmailResult(
            sent=False, response=f"not sent: the address cannot be used ({error})"
        )
    try:
        # email_id 0: no outbox row (transports use it to name files and records only).
        response = transport.send(config.noreply_email, [recipient], message, email_id=0)
    except DeliveryError as error:
        return TestEmailResult(sent=False, response=error.response, code=error.code)
    return TestEmailResult(sent=True, response=response)
