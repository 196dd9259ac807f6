"""A real SMTP server (aiosmtpd) for tests: records what it accepts, or answers with a
chosen error code, so the SMTP paths are tested against a real protocol peer."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    # aiosmtpd's Controller(port=0) cannot report the port it got; find one first.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    # When set, DATA is answered with this line instead of accepting (e.g. "451 try later").
    reply: str | None = None
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.reply is not None:
            return self.reply
        content = envelope.original_content or envelope.content or b""
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.arrived:
            self.received.append(
                Received(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], message)
            )
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Block until `count` messages arrived (or fail after `timeout` seconds)."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"expected {count} emails, got {len(self.received)}")
            return list(self.received)


class SmtpSink:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self._controller: Any = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def env(self) -> dict[str, str]:
        return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port)}
