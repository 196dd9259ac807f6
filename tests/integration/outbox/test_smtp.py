"""The SMTP transport against a real SMTP server (aiosmtpd, in a thread of this process)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from missedmail.clock import ManualClock
from missedmail.conf import EmailSettings
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import EmailStatus
from missedmail.outbox.sender import send_once
from missedmail.outbox.transports import (
    PartiallyDeliveredError,
    PermanentDeliveryError,
    ServiceUnavailableError,
    SmtpTransport,
    TransientDeliveryError,
)
from tests.factories import make_org
from tests.outbox_helpers import EXPECTED_HEADERS, make_draft, outbox_config
from tests.services import require

MESSAGE = b"Subject: hello\r\nTo: iago@example.com\r\n\r\nhello\r\n.leading dot\r\n"


def free_port() -> int:
    # Controller(port=0) cannot report the port it got, so pick one first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Received:
    connection: int
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class RecordingHandler:
    """Accepts everything, except what a test scripts: replies to give to RCPT per address
    and to the next DATA commands, and a connection to drop at the next MAIL."""

    received: list[Received] = field(default_factory=list)
    # Session objects by id: holding them keeps an id from being reused by a later session.
    connections: dict[int, Any] = field(default_factory=dict)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: deque[str] = field(default_factory=deque)
    drop_at_next_mail: str | None = None  # "silently" or "421"

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.connections[id(session)] = session
        if self.drop_at_next_mail == "silently":
            self.drop_at_next_mail = None
            server.transport.abort()  # no reply at all: the client reads end-of-file
            return "421 unreachable"
        if self.drop_at_next_mail == "421":
            self.drop_at_next_mail = None
            return "421 4.4.2 idle timeout, closing connection"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.popleft()
        self.received.append(
            Received(
                id(session), envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
            )
        )
        return "250 2.0.0 Ok: queued as 42"


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


def start_server(handler: RecordingHandler, **kwargs: Any) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, port


@pytest.fixture
def port(handler: RecordingHandler) -> Iterator[int]:
    controller, port = start_server(handler)
    yield port
    controller.stop()


def smtp_settings(port: int, **changes: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "user": "",
        "password": "",
        "use_tls": False,
        "use_ssl": False,
        "timeout_seconds": 5.0,
    }
    values.update(changes)
    return EmailSettings(**values)


@pytest.fixture
def transport(port: int) -> Iterator[SmtpTransport]:
    transport = SmtpTransport(smtp_settings(port))
    yield transport
    transport.close()


def send(transport: SmtpTransport, to: str = "iago@example.com") -> str:
    return transport.send("noreply@missedmail.example.org", [to], MESSAGE, email_id=1)


@pytest.mark.django_db
def test_an_outbox_email_arrives_intact_at_a_real_smtp_server(
    handler: RecordingHandler, transport: SmtpTransport, clock: ManualClock
) -> None:
    make_org()
    draft = make_draft(
        to_name="Othello, the Moor of Vénice",
        to_email="othello@example.com",
        subject="#Denmark > café ✔",
        text="Iago:\n> Grüße\n.\n",
        html="<html><body><p>Grüße</p></body></html>",
        timezone="Europe/Berlin",
    )
    [email] = enqueue_drafts([draft], due_at=clock.now(), now=clock.now(), config=outbox_config())

    send_once(clock.now(), transport, owner="it", clock=clock)

    [received] = handler.received
    assert received.mail_from == "noreply@missedmail.example.org"
    assert received.rcpt_tos == ["othello@example.com"]
    assert received.content == bytes(email.mime)  # byte for byte, dot-stuffing undone
    message = received.parsed()
    assert list(message.keys()) == EXPECTED_HEADERS
    assert message["To"].addresses[0].display_name == "Othello, the Moor of Vénice"
    assert message["Subject"] == "#Denmark > café ✔"
    assert message["Message-ID"] == email.message_id_header
    assert message["Date"] == "Sat, 28 Nov 2026 11:00:00 +0100"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content().replace("\r\n", "\n") == "Iago:\n> Grüße\n.\n"
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.last_response == "250 2.0.0 Ok: queued as 42"


def test_one_connection_carries_several_emails(
    handler: RecordingHandler, transport: SmtpTransport
) -> None:
    for _ in range(3):
        send(transport)

    assert len(handler.received) == 3
    assert len(handler.connections) == 1


@pytest.mark.parametrize("how", ["silently", "421"])
def test_a_connection_the_server_dropped_is_reopened_for_the_next_email(
    handler: RecordingHandler, transport: SmtpTransport, how: str
) -> None:
    send(transport)
    handler.drop_at_next_mail = how

    assert send(transport) == "250 2.0.0 Ok: queued as 42"

    assert len(handler.received) == 2
    assert len({r.connection for r in handler.received}) == 2


@pytest.mark.parametrize("how", ["silently", "421"])
def test_a_new_connection_dropped_at_once_is_a_transient_failure_not_a_retry_loop(
    handler: RecordingHandler, transport: SmtpTransport, how: str
) -> None:
    handler.drop_at_next_mail = how

    with pytest.raises(TransientDeliveryError):
        send(transport)

    assert handler.received == []
    assert len(handler.connections) == 1
    send(transport)  # and the transport recovers for the next email
    assert len(handler.received) == 1


def test_a_refused_recipient_is_permanent_and_the_connection_stays_usable(
    handler: RecordingHandler, transport: SmtpTransport
) -> None:
    handler.rcpt_replies["gone@example.com"] = "550 5.1.1 <gone@example.com>: no such user"

    with pytest.raises(PermanentDeliveryError) as refused:
        send(transport, to="gone@example.com")
    send(transport)

    assert refused.value.code == 550
    assert refused.value.response == "550 5.1.1 <gone@example.com>: no such user"
    assert [r.rcpt_tos for r in handler.received] == [["iago@example.com"]]
    assert len(handler.connections) == 1


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("451 4.3.0 temporary local problem", TransientDeliveryError),
        ("452 4.3.1 insufficient system storage", TransientDeliveryError),
        ("554 5.7.1 rejected as spam", PermanentDeliveryError),
    ],
)
def test_a_refusal_of_the_message_is_classified_by_its_code(
    handler: RecordingHandler, transport: SmtpTransport, reply: str, kind: type
) -> None:
    handler.data_replies.append(reply)

    with pytest.raises(kind) as refused:
        send(transport)

    assert isinstance(refused.value, TransientDeliveryError | PermanentDeliveryError)
    assert refused.value.response == reply
    assert handler.received == []


def test_a_421_refusal_is_transient_and_the_next_email_uses_a_new_connection(
    handler: RecordingHandler, transport: SmtpTransport
) -> None:
    handler.rcpt_replies["busy@example.com"] = "421 4.3.2 service shutting down"

    with pytest.raises(TransientDeliveryError):
        send(transport, to="busy@example.com")
    send(transport)
    send(transport)

    assert len(handler.connections) == 2


def test_a_refused_connection_is_transient() -> None:
    transport = SmtpTransport(smtp_settings(free_port()))  # nothing listens there

    with pytest.raises(TransientDeliveryError, match="cannot use the mail server"):
        send(transport)


def test_a_partly_refused_send_goes_to_the_recipients_that_accepted_it(
    handler: RecordingHandler, transport: SmtpTransport
) -> None:
    handler.rcpt_replies["gone@example.com"] = "550 5.1.1 <gone@example.com>: no such user"
    recipients = ["iago@example.com", "gone@example.com", "hamlet@example.com"]

    with pytest.raises(PartiallyDeliveredError) as partial:
        transport.send("noreply@missedmail.example.org", recipients, MESSAGE, email_id=1)
    send(transport)

    assert partial.value.response == "250 2.0.0 Ok: queued as 42"
    assert partial.value.accepted == ("iago@example.com", "hamlet@example.com")
    [refusal] = partial.value.refusals
    assert str(refusal) == "gone@example.com: 550 5.1.1 <gone@example.com>: no such user"
    assert [r.rcpt_tos for r in handler.received] == [
        ["iago@example.com", "hamlet@example.com"],  # one copy each, the refused one left out
        ["iago@example.com"],
    ]
    assert len(handler.connections) == 1


@pytest.mark.parametrize(
    ("replies", "kind"),
    [
        (("550 5.1.1 no such user", "551 5.1.6 moved"), PermanentDeliveryError),
        (("550 5.1.1 no such user", "452 4.2.2 mailbox full"), TransientDeliveryError),
    ],
)
def test_a_send_refused_by_every_recipient_is_permanent_only_if_every_refusal_is(
    handler: RecordingHandler, transport: SmtpTransport, replies: tuple[str, str], kind: type
) -> None:
    handler.rcpt_replies = {"a@example.com": replies[0], "b@example.com": replies[1]}

    with pytest.raises(kind) as refused:
        transport.send(
            "noreply@missedmail.example.org",
            ["a@example.com", "b@example.com"],
            MESSAGE,
            email_id=1,
        )

    assert type(refused.value) is kind
    assert refused.value.response == f"a@example.com: {replies[0]}; b@example.com: {replies[1]}"
    assert handler.received == []
    send(transport)  # the connection was reset, not lost
    assert len(handler.connections) == 1


def test_an_unreachable_server_is_one_outage_logged_twice_however_many_sends_fail(
    handler: RecordingHandler, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="missedmail.outbox")
    port = free_port()
    transport = SmtpTransport(smtp_settings(port))
    failures = []
    for _ in range(4):
        with pytest.raises(ServiceUnavailableError) as error:
            send(transport)
        failures.append(error.value.failures)

    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        send(transport)
        send(transport)
    finally:
        transport.close()
        controller.stop()

    assert failures == [1, 2, 3, 4]
    assert len(handler.received) == 2
    loud = [r.getMessage() for r in caplog.records if r.levelname != "DEBUG"]
    assert [line.split(" ")[0] for line in loud] == [
        "action=mail_transport_unavailable",
        "action=mail_transport_available",
    ]
    assert "ConnectionRefusedError" in loud[0]
    assert "failures=4" in loud[1]


def test_a_server_that_never_answers_is_a_transient_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        transport = SmtpTransport(smtp_settings(silent.getsockname()[1], timeout_seconds=0.2))

        with pytest.raises(TransientDeliveryError, match="timed out"):
            send(transport)


@dataclass
class Authenticator:
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd sends the 235/535 reply itself.
        return AuthResult(success=auth_data.password == b"right", handled=False)


# TLS is tested below; login is tested on its own, in clear on the loopback interface.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize(("password", "delivered"), [("right", True), ("wrong", False)])
def test_a_configured_user_logs_in_and_a_refused_login_makes_the_server_unavailable(
    handler: RecordingHandler, password: str, delivered: bool
) -> None:
    authenticator = Authenticator()
    controller, port = start_server(
        handler,
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=True,
        auth_exclude_mechanism=["LOGIN"],  # one mechanism: one login attempt to assert on
    )
    transport = SmtpTransport(smtp_settings(port, user="mailer", password=password))
    try:
        if delivered:
            send(transport)
        else:
            with pytest.raises(ServiceUnavailableError, match="535"):
                send(transport)
    finally:
        transport.close()
        controller.stop()

    assert authenticator.logins == [(b"mailer", password.encode())]
    assert len(handler.received) == (1 if delivered else 0)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require(shutil.which("openssl") is not None, "openssl (to make a test certificate)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_mail_goes_over_tls_when_configured(
    handler: RecordingHandler, certificate: tuple[Path, Path], mode: str
) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server_kwargs: dict[str, Any] = (
        {"tls_context": server_context, "require_starttls": True}
        if mode == "starttls"
        else {"ssl_context": server_context}
    )
    controller, port = start_server(handler, **server_kwargs)
    client_context = ssl.create_default_context(cafile=str(cert))
    transport = SmtpTransport(
        smtp_settings(port, use_tls=mode == "starttls", use_ssl=mode == "ssl"),
        ssl_context=client_context,
    )
    try:
        send(transport)
    finally:
        transport.close()
        controller.stop()

    assert len(handler.received) == 1


def test_connections_of_one_server_share_one_outage_and_log_it_once(
    handler: RecordingHandler, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="missedmail.outbox")
    port = free_port()
    first = SmtpTransport(smtp_settings(port))
    second = first.another_connection()
    failures = []
    for transport in (first, second, first, second):
        with pytest.raises(ServiceUnavailableError) as error:
            send(transport)
        failures.append(error.value.failures)

    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        send(first)
        send(second)
    finally:
        first.close()
        second.close()
        controller.stop()

    assert failures == [1, 2, 3, 4]
    assert len(handler.connections) == 2  # a connection each
    loud = [r.getMessage().split(" ")[0] for r in caplog.records if r.levelname != "DEBUG"]
    assert loud == ["action=mail_transport_unavailable", "action=mail_transport_available"]
