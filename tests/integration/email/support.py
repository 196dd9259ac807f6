"""The whole path of an email, for end-to-end tests: events are scheduled as the API and
the queue schedule them, the batcher's pass composes and enqueues them, the sender delivers
them by SMTP to a real SMTP server (aiosmtpd) in this process, and tests read what arrived.
"""

from __future__ import annotations

import email
import email.policy
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from missedmail.clock import ManualClock
from missedmail.composing.batch import CompositionOptions
from missedmail.conf import EmailSettings
from missedmail.core.models import Message, UserProfile
from missedmail.outbox.sender import DeliveryReport, send_once
from missedmail.outbox.transports import SmtpTransport
from missedmail.scheduling.ingest import raw_events_from_objects, schedule_events
from missedmail.scheduling.models import EventSource
from missedmail.worker.batching import BatcherConfig, send_due_batches
from tests.outbox_helpers import outbox_config
from tests.smtp_sink import free_port

GATEWAY_PATTERN = "%s@reply.chat.example.com"
PUBLIC_URL = "https://mm.example.org"
BATCHING_PERIOD_SECONDS = 120  # the users' default


@dataclass
class Delivery:
    """One DATA transaction the server saw, with the exact bytes it received."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class MailServer:
    """Records every message offered; answers the next DATA commands with scripted
    replies (e.g. "451 ...") after recording them, so a refused attempt is seen too."""

    port: int = 0
    offered: list[Delivery] = field(default_factory=list)
    accepted: list[Delivery] = field(default_factory=list)
    data_replies: deque[str] = field(default_factory=deque)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        delivery = Delivery(
            str(envelope.mail_from),
            [str(address) for address in envelope.rcpt_tos],
            bytes(envelope.original_content),
        )
        self.offered.append(delivery)
        if self.data_replies:
            return self.data_replies.popleft()
        self.accepted.append(delivery)
        return "250 2.0.0 Ok: queued"


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    handler = MailServer(port=free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def transport(mail_server: MailServer) -> Iterator[SmtpTransport]:
    settings = EmailSettings(
        host="127.0.0.1",
        port=mail_server.port,
        user="",
        password="",
        use_tls=False,
        use_ssl=False,
        timeout_seconds=5.0,
    )
    transport = SmtpTransport(settings)
    yield transport
    transport.close()


def schedule(
    clock: ManualClock,
    user: UserProfile,
    message: Message,
    trigger: str,
    group_id: int | None = None,
) -> None:
    event = {
        "user_profile_id": user.id,
        "message_id": message.id,
        "trigger": trigger,
        "mentioned_user_group_id": group_id,
    }
    result = schedule_events(
        raw_events_from_objects([event]), source=EventSource.API, now=clock.now()
    )
    assert [outcome.status for outcome in result.outcomes] == ["scheduled"]


def send_due(
    clock: ManualClock, transport: SmtpTransport, *, gateway: bool = False
) -> DeliveryReport:
    """Let the batching period pass, run the batcher's pass, then one sender round."""
    clock.advance(BATCHING_PERIOD_SECONDS)
    config = BatcherConfig(
        composition=CompositionOptions(reply_by_email=gateway),
        outbox=outbox_config(
            public_url=PUBLIC_URL, gateway_pattern=GATEWAY_PATTERN if gateway else ""
        ),
    )
    send_due_batches(clock.now(), config)
    return send_once(clock.now(), transport, owner="e2e", clock=clock)


def html_part(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def text_part(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")
