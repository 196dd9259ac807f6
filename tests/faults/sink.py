"""The SMTP server of the fault tests: a real aiosmtpd server that can be stopped and
started again on its port, answer chosen codes, slow down, or hold one DATA command
until the test lets it go (to kill a worker in the middle of an SMTP transaction).

It records each accepted message's Message-ID, so a test counts duplicates the way a
mailbox that deduplicates by Message-ID would see them.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller

from tests.smtp_sink import free_port

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class Accepted:
    message_id: str
    recipients: tuple[str, ...]
    content: bytes


@dataclass
class Hold:
    """Hold the next DATA: `held` is set when it arrives; the server answers once
    `release` is set. With `deliver` the message counts as accepted from the moment it
    arrived (the server stored it, its answer is what gets lost); without, it is dropped."""

    deliver: bool
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class FaultSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.accepted: list[Accepted] = []
        self.data_commands = 0
        # recipient -> how many more DATA commands to refuse for it, and with what reply
        self._refuse: dict[str, tuple[int, str]] = {}
        self._hold: Hold | None = None
        self.data_delay_seconds = 0.0
        self._changed = threading.Condition()
        self._controller: Any = None

    # -- life ---------------------------------------------------------------------------

    def start(self) -> FaultSink:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until `start()` again."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def env(self) -> dict[str, str]:
        # A short timeout: a held DATA is ended by killing the worker, never by the timeout.
        return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port), "EMAIL_TIMEOUT": "30"}

    # -- scripting ------------------------------------------------------------------------

    def refuse(self, recipient: str, reply: str, times: int = 1_000_000) -> None:
        """Answer DATA for `recipient` with `reply` the next `times` times."""
        with self._changed:
            self._refuse[recipient] = (times, reply)

    def stop_refusing(self, recipient: str) -> None:
        with self._changed:
            self._refuse.pop(recipient, None)

    def hold_next(self, *, deliver: bool) -> Hold:
        hold = Hold(deliver)
        with self._changed:
            self._hold = hold
        return hold

    # -- reading --------------------------------------------------------------------------

    def message_ids(self) -> Counter[str]:
        with self._changed:
            return Counter(accepted.message_id for accepted in self.accepted)

    def wait_for_distinct(self, count: int, timeout: float = WAIT_SECONDS) -> Counter[str]:
        """Block until `count` different messages were accepted."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: len({a.message_id for a in self.accepted}) >= count, timeout
            ):
                distinct = len({a.message_id for a in self.accepted})
                raise AssertionError(f"expected {count} emails, {distinct} arrived")
            return Counter(accepted.message_id for accepted in self.accepted)

    def wait_for_data_commands(self, count: int, timeout: float = WAIT_SECONDS) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.data_commands >= count, timeout):
                raise AssertionError(f"expected {count} DATA commands, got {self.data_commands}")

    # -- called by the handler, on the server's thread ------------------------------------

    def _take_hold(self) -> Hold | None:
        with self._changed:
            hold, self._hold = self._hold, None
            return hold

    def _reply_for(self, recipients: tuple[str, ...]) -> str | None:
        with self._changed:
            self.data_commands += 1
            self._changed.notify_all()
            for recipient in recipients:
                times, reply = self._refuse.get(recipient, (0, ""))
                if times > 0:
                    self._refuse[recipient] = (times - 1, reply)
                    return reply
            return None

    def _accept(self, content: bytes, recipients: tuple[str, ...]) -> None:
        head = content.split(b"\r\n\r\n", 1)[0]
        match = _MESSAGE_ID.search(head)
        message_id = match.group(1).decode("ascii", "replace") if match else "-"
        with self._changed:
            self.accepted.append(Accepted(message_id, recipients, content))
            self._changed.notify_all()


class _Handler:
    def __init__(self, sink: FaultSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipients = tuple(str(r) for r in envelope.rcpt_tos)
        content: bytes = envelope.original_content or envelope.content or b""
        reply = self._sink._reply_for(recipients)
        if reply is not None:
            return reply
        if self._sink.data_delay_seconds:
            await asyncio.sleep(self._sink.data_delay_seconds)
        hold = self._sink._take_hold()
        if hold is None:
            self._sink._accept(content, recipients)
            return "250 2.0.0 Ok"
        # A server that keeps the message has stored it before it answers; the answer is
        # what the killed client never reads. (aiosmtpd cancels this coroutine when the
        # client goes away, so anything after the wait may never run.)
        if hold.deliver:
            self._sink._accept(content, recipients)
        hold.held.set()
        await asyncio.get_running_loop().run_in_executor(None, hold.release.wait, WAIT_SECONDS)
        return "250 2.0.0 Ok" if hold.deliver else "451 4.3.0 dropped by the test"
