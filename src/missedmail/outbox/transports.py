"""How composed emails leave: one small interface, three implementations.

- `SmtpTransport`: a real mail server (contract §2, `EMAIL_HOST` and friends).
- `FileTransport`: one `.eml` file per email under the data dir, when no server is set.
- `MemoryTransport`: keeps the messages; tests drive it (make it fail the next sends) and
  read what was sent. A real implementation, not a mock.

A transport answers with the server's response text, or raises:
- `TransientDeliveryError`: this email, try again later (a 4xx reply, a connection lost
  mid-transaction);
- `ServiceUnavailableError` (a kind of transient error): nothing can be delivered right
  now, whatever the email (the server cannot be reached, greets or logs us in with an
  error, the outbox folder cannot be written). The sender puts the round back without
  using the emails' attempts (docs/reliability.md);
- `PermanentDeliveryError`: this email will never go through (a 5xx reply);
- `PartiallyDeliveredError`: some recipients accepted the message and others refused it.
Which is which is decided here, once. A transport logs one line when it becomes
unavailable and one when it is back, however many emails wait meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import ssl
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from missedmail.clock import Clock, SystemClock
from missedmail.conf import EmailSettings, Settings

logger = logging.getLogger(__name__)

# Without a timeout a hung server would block the sender past its lease, and another
# sender would send the same email again. Django's default is no timeout; ours is not.
DEFAULT_SMTP_TIMEOUT_SECONDS = 30.0
EML_FILE_MODE = 0o640
OUTBOX_DIR_MODE = 0o750


class DeliveryError(Exception):
    def __init__(self, response: str, *, code: int | None = None) -> None:
        super().__init__(response)
        self.response = response
        self.code = code


class TransientDeliveryError(DeliveryError):
    """Worth another attempt later: a 4xx reply, a refused, reset or timed-out connection."""


class PermanentDeliveryError(DeliveryError):
    """A 5xx reply to this email: retrying would get the same answer."""


class ServiceUnavailableError(TransientDeliveryError):
    """No email can be delivered now, and this is not about the email: the server refused or
    dropped the connection before any command of a mail transaction, or the outbox folder
    cannot be written. `failures` counts the consecutive times this transport found itself
    unavailable (1 at the start of an outage), so the sender can back off."""

    def __init__(self, response: str, *, code: int | None = None, failures: int = 1) -> None:
        super().__init__(response, code=code)
        self.failures = failures


@dataclass(frozen=True)
class Refusal:
    """One recipient the server refused, with its reply."""

    recipient: str
    code: int
    reply: str

    @property
    def response(self) -> str:
        return f"{self.code} {self.reply}".strip()

    def __str__(self) -> str:
        return f"{self.recipient}: {self.response}"


class PartiallyDeliveredError(DeliveryError):
    """The message was accepted for some recipients and refused for others.

    Neither a success nor a failure to retry: sending again would deliver a second copy to
    every recipient who accepted. `response` is the server's answer to the message,
    `refusals` says who refused and why.
    """

    def __init__(self, response: str, *, accepted: Sequence[str], refusals: Sequence[Refusal]):
        super().__init__(response)
        self.accepted = tuple(accepted)
        self.refusals = tuple(refusals)


class _Outage:
    """Consecutive failures of one transport to deliver anything, logged once per outage:
    a warning when it starts, an info line when it ends, debug lines in between."""

    def __init__(self, transport: str) -> None:
        self._transport = transport
        self._lock = threading.Lock()
        self._failures = 0
        self._since = 0.0  # time.monotonic() of the first failure

    def failed(self, response: str, code: int | None = None) -> ServiceUnavailableError:
        with self._lock:
            self._failures += 1
            failures = self._failures
            if failures == 1:
                self._since = time.monotonic()
        # The response is the server's or the operating system's text: never content.
        log = logger.warning if failures == 1 else logger.debug
        log(
            "action=mail_transport_unavailable transport=%s failures=%d detail=%r",
            self._transport,
            failures,
            response[:200],
        )
        return ServiceUnavailableError(response, code=code, failures=failures)

    def succeeded(self) -> None:
        with self._lock:
            failures, self._failures = self._failures, 0
            since = self._since
        if failures:
            logger.info(
                "action=mail_transport_available transport=%s failures=%d down_seconds=%.1f",
                self._transport,
                failures,
                time.monotonic() - since,
            )


class Transport(Protocol):
    def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        message_bytes: bytes,
        *,
        email_id: int,
    ) -> str:
        """Deliver `message_bytes` as is; return the server's response. `email_id` names
        the outbox row (file names, test records), never the content."""
        ...

    def close(self) -> None: ...


def transport_from_settings(settings: Settings) -> Transport:
    """SMTP when `EMAIL_HOST` is set, else `.eml` files under `<data dir>/outbox/`."""
    if settings.email.smtp_enabled:
        return SmtpTransport(settings.email)
    return FileTransport(settings.outbox_dir)


def error_for_reply(code: int, reply: str) -> DeliveryError:
    text = f"{code} {reply}".strip()
    if 500 <= code <= 599:
        return PermanentDeliveryError(text, code=code)
    # 4xx, and anything unexpected: a server that answers oddly today may answer well later.
    return TransientDeliveryError(text, code=code)


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())  # multi-line replies on one line, for the record


# An address that smtplib's `quoteaddr` gives back unchanged between angle brackets: a
# dot-atom local part at a domain of letters, digits and hyphens -- every address the
# outbox sends to (they are checked when enqueued). Quoting those here skips the RFC 2822
# parser smtplib runs on each MAIL and RCPT address: 5 µs an address, measured.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def smtp_path(address: str) -> str:
    """`address` as MAIL FROM and RCPT TO carry it: exactly what `smtplib.quoteaddr`
    writes, without its parser for the plain addresses the outbox sends."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def dot_stuffed(message: bytes) -> bytes:
    """What follows DATA for `message`, byte for byte what `smtplib.SMTP.data` sends: a
    line that starts with "." gets a second one (RFC 5321 §4.5.2), a final CRLF when
    missing, then the lone "." that ends the message. `bytes.replace` instead of smtplib's
    regular expression, which scans every byte in Python's regex engine: 17 µs for a
    5 kB message against 4 µs, measured."""
    if message.startswith(b"."):
        message = b"." + message
    stuffed = message.replace(b"\n.", b"\n..")
    return stuffed + (b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n")


def _command(connection: smtplib.SMTP, verb: str, argument: str = "") -> tuple[int, bytes]:
    # `putcmd` and `getreply` are what smtplib's `mail`, `rcpt` and `data` call. `putcmd`
    # refuses a CR or LF in the command (ValueError), so an address cannot inject one.
    connection.putcmd(verb, argument)
    return connection.getreply()


def _send_data(connection: smtplib.SMTP, message: bytes) -> tuple[int, bytes]:
    """`smtplib.SMTP.data(message)` for bytes, with the faster dot-stuffing: the same
    commands, the same bytes, the same `SMTPDataError` when DATA is refused."""
    code, reply = _command(connection, "data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    connection.send(dot_stuffed(message))
    return connection.getreply()


class _StaleConnection(Exception):
    """A kept-open connection turned out closed before this email's first command."""


class SmtpTransport:
    """Sends through one SMTP connection kept open across emails, reconnecting when the
    server has dropped it.

    Errors while connecting (refused, TLS, greeting, login) are `ServiceUnavailableError`
    whatever their code: they are about the server or our settings, not about this email,
    and an operator can fix them while the emails wait. Replies to MAIL, RCPT and DATA are
    classified by code: 4xx transient, 5xx permanent. With several recipients, the message
    goes to those the server accepted, and a refusal of some is `PartiallyDeliveredError`;
    the outbox sends one recipient per email, so there a refused recipient is the email's
    outcome.

    Safe to share between threads (a lock serialises sends), though each sender thread
    should have its own for throughput.
    """

    def __init__(
        self,
        settings: EmailSettings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self._settings = settings
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._local_hostname = local_hostname
        self._lock = threading.Lock()
        self._connection: smtplib.SMTP | None = None
        self._outage = _Outage("smtp")

    def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        message_bytes: bytes,
        *,
        email_id: int,
    ) -> str:
        with self._lock:
            try:
                return self._send(envelope_from, recipients, message_bytes)
            except DeliveryError:
                raise
            except smtplib.SMTPResponseException as error:
                self._discard()
                raise error_for_reply(error.smtp_code, _reply_text(error.smtp_error)) from error
            except (smtplib.SMTPException, OSError) as error:
                # Disconnected, reset or timed out mid-transaction: the server did not
                # confirm the message, so it is not delivered as far as we know.
                self._discard()
                raise TransientDeliveryError(_describe(error)) from error

    def another_connection(self) -> SmtpTransport:
        """A transport with a connection of its own to the same server, for another sender
        thread. They share one outage record, so a server that is down is logged once, not
        once per connection."""
        twin = SmtpTransport(
            self._settings, ssl_context=self._ssl_context, local_hostname=self._local_hostname
        )
        twin._outage = self._outage
        return twin

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                # Closing anyway: a server that is gone cannot hear QUIT.
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    self._connection.quit()
            self._discard()

    def _send(self, envelope_from: str, recipients: Sequence[str], message_bytes: bytes) -> str:
        if self._connection is not None:
            try:
                return self._transaction(
                    self._connection, envelope_from, recipients, message_bytes, reused=True
                )
            except _StaleConnection:
                self._discard()
        self._connection = self._connect()
        self._outage.succeeded()
        return self._transaction(
            self._connection, envelope_from, recipients, message_bytes, reused=False
        )

    def _transaction(
        self,
        connection: smtplib.SMTP,
        envelope_from: str,
        recipients: Sequence[str],
        message_bytes: bytes,
        *,
        reused: bool,
    ) -> str:
        # Only the first command can tell a connection the server closed while it sat idle
        # from a failure of this email; nothing of the email has been sent at that point,
        # so trying once more on a new connection cannot send it twice.
        try:
            code, reply = _command(connection, "mail", f"FROM:{smtp_path(envelope_from)}")
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            if reused:
                raise _StaleConnection from error
            raise
        if code == 421 and reused:
            raise _StaleConnection  # the server timed the idle connection out
        if code != 250:
            raise self._refused(connection, code, reply)
        accepted: list[str] = []
        refusals: list[Refusal] = []
        for recipient in recipients:
            code, reply = _command(connection, "rcpt", f"TO:{smtp_path(recipient)}")
            if code in (250, 251):
                accepted.append(recipient)
            elif code == 421:  # the server is closing the connection: nothing more goes
                raise self._refused(connection, code, reply)
            else:
                refusals.append(Refusal(recipient, code, _reply_text(reply)))
        if not accepted:
            raise self._reset(connection, _all_refused(refusals))
        code, reply = _send_data(connection, message_bytes)
        if code != 250:
            raise self._refused(connection, code, reply)
        response = f"{code} {_reply_text(reply)}".strip()
        if refusals:
            raise PartiallyDeliveredError(response, accepted=accepted, refusals=refusals)
        return response

    def _refused(self, connection: smtplib.SMTP, code: int, reply: bytes) -> DeliveryError:
        """The error for a refusal; the connection stays usable unless the server is
        closing it (421) or the reset fails."""
        error = error_for_reply(code, _reply_text(reply))
        if code == 421:
            self._discard()
            return error
        return self._reset(connection, error)

    def _reset(self, connection: smtplib.SMTP, error: DeliveryError) -> DeliveryError:
        try:
            connection.rset()
        except (smtplib.SMTPException, OSError):
            self._discard()
        return error

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        timeout = settings.timeout_seconds or DEFAULT_SMTP_TIMEOUT_SECONDS
        try:
            connection = (
                smtplib.SMTP_SSL(
                    settings.host,
                    settings.port,
                    local_hostname=self._local_hostname,
                    timeout=timeout,
                    context=self._ssl_context,
                )
                if settings.use_ssl
                else smtplib.SMTP(
                    settings.host,
                    settings.port,
                    local_hostname=self._local_hostname,
                    timeout=timeout,
                )
            )
        except (smtplib.SMTPException, OSError) as error:
            raise self._unavailable(error) from error
        try:
            connection.ehlo_or_helo_if_needed()
            if settings.use_tls:
                connection.starttls(context=self._ssl_context)
                connection.ehlo()
            if settings.user:
                connection.login(settings.user, settings.password)
        except (smtplib.SMTPException, OSError) as error:
            connection.close()
            raise self._unavailable(error) from error
        return connection

    def _unavailable(self, error: BaseException) -> ServiceUnavailableError:
        code = error.smtp_code if isinstance(error, smtplib.SMTPResponseException) else None
        return self._outage.failed(f"cannot use the mail server: {_describe(error)}", code)

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_reply_text(error.smtp_error)}"
    return f"{type(error).__name__}: {error}"


def _all_refused(refusals: Sequence[Refusal]) -> DeliveryError:
    """Every recipient refused, so nothing was delivered: permanent only when every refusal
    is, since trying again is harmless and may get the others through."""
    if len(refusals) == 1:
        [refusal] = refusals
        return error_for_reply(refusal.code, refusal.reply)
    text = "; ".join(str(refusal) for refusal in refusals)
    if all(500 <= refusal.code <= 599 for refusal in refusals):
        return PermanentDeliveryError(text, code=refusals[0].code)
    transient = next(r for r in refusals if not 500 <= r.code <= 599)
    return TransientDeliveryError(text, code=transient.code)


class FileTransport:
    """Writes each email to `<directory>/<UTC time>-<email id>.eml`.

    The file appears whole or not at all (written to a hidden temporary file in the same
    directory, synced, then renamed), so a reader watching the folder never sees half an
    email. Mode 0640: emails are private.
    """

    def __init__(self, directory: Path, *, clock: Clock | None = None) -> None:
        self.directory = directory
        self._clock = clock or SystemClock()
        self._outage = _Outage("file")

    def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        message_bytes: bytes,
        *,
        email_id: int,
    ) -> str:
        stamp = self._clock.now().astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{email_id}.eml"
        try:
            self._write(name, message_bytes)
        except OSError as error:
            # A full disk or a permission problem is an operator's to fix, and would fail
            # every email the same way: they all wait.
            raise self._outage.failed(f"cannot write {name}: {error.strerror}") from error
        self._outage.succeeded()
        return f"250 written {name}"

    def close(self) -> None:
        pass  # nothing is kept open

    def _write(self, name: str, data: bytes) -> None:
        self.directory.mkdir(mode=OUTBOX_DIR_MODE, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, EML_FILE_MODE)
            os.replace(temporary, self.directory / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        # The rename is durable only once the directory is synced; the email is recorded
        # as sent right after this returns.
        directory_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)


@dataclass(frozen=True)
class SentMessage:
    envelope_from: str
    recipients: tuple[str, ...]
    message_bytes: bytes
    email_id: int

    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.message_bytes, policy=email_policy.default)
        assert isinstance(message, EmailMessage)  # noqa: S101 -- policy.default makes one
        return message


@dataclass
class _FailureRule:
    remaining: int
    recipient: str | None
    permanent: bool
    response: str
    code: int

    def error(self) -> DeliveryError:
        kind = PermanentDeliveryError if self.permanent else TransientDeliveryError
        return kind(self.response, code=self.code)


class MemoryTransport:
    """Keeps every message in memory; can be told to fail the next sends.

    `attempts` records every call (failed ones included), `sent` only the accepted ones.
    Like an SMTP server, a failure told for one recipient refuses only that recipient: the
    others of the same send still get the message (`PartiallyDeliveredError`).
    `unavailable` makes every send fail as an unreachable server would, until it is reset.
    """

    def __init__(self) -> None:
        self.attempts: list[SentMessage] = []
        self.sent: list[SentMessage] = []
        self.closed = False
        self.unavailable: str | None = None
        self._rules: list[_FailureRule] = []
        self._lock = threading.Lock()
        self._outage = _Outage("memory")

    def fail_next(
        self,
        count: int = 1,
        *,
        permanent: bool = False,
        code: int | None = None,
        response: str | None = None,
        recipient: str | None = None,
    ) -> None:
        """Fail the next `count` sends (only those to `recipient`, when given)."""
        code = code or (550 if permanent else 451)
        default = "5.1.1 mailbox unavailable" if permanent else "4.3.0 try again later"
        rule = _FailureRule(count, recipient, permanent, response or f"{code} {default}", code)
        with self._lock:
            self._rules.append(rule)

    def send(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        message_bytes: bytes,
        *,
        email_id: int,
    ) -> str:
        record = SentMessage(envelope_from, tuple(recipients), bytes(message_bytes), email_id)
        with self._lock:
            self.attempts.append(record)
            if self.unavailable is not None:
                raise self._outage.failed(self.unavailable)
            self._outage.succeeded()
            rule = self._matching_rule(recipients)
            if rule is None:
                self.sent.append(record)
                return f"250 2.0.0 Ok: queued as memory-{len(self.sent)}"
            accepted = tuple(r for r in recipients if r != rule.recipient)
            if rule.recipient is None or not accepted:
                raise rule.error()
            self.sent.append(SentMessage(envelope_from, accepted, record.message_bytes, email_id))
            raise PartiallyDeliveredError(
                f"250 2.0.0 Ok: queued as memory-{len(self.sent)}",
                accepted=accepted,
                refusals=[Refusal(rule.recipient, rule.code, rule.response.partition(" ")[2])],
            )

    def _matching_rule(self, recipients: Sequence[str]) -> _FailureRule | None:
        for rule in self._rules:
            if rule.remaining > 0 and (rule.recipient is None or rule.recipient in recipients):
                rule.remaining -= 1
                return rule
        return None

    def close(self) -> None:
        self.closed = True
