from __future__ import annotations

import io
import smtplib
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missedmail.clock import ManualClock
from missedmail.conf import EmailSettings, load_settings
from missedmail.outbox.transports import (
    FileTransport,
    MemoryTransport,
    PartiallyDeliveredError,
    PermanentDeliveryError,
    ServiceUnavailableError,
    SmtpTransport,
    TransientDeliveryError,
    dot_stuffed,
    error_for_reply,
    smtp_path,
    transport_from_settings,
)

MESSAGE = b"Subject: hi\r\n\r\nhello\r\n"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (421, TransientDeliveryError),
        (450, TransientDeliveryError),
        (451, TransientDeliveryError),
        (452, TransientDeliveryError),
        (550, PermanentDeliveryError),
        (552, PermanentDeliveryError),
        (554, PermanentDeliveryError),
        (354, TransientDeliveryError),
    ],
)
def test_replies_are_transient_when_4xx_and_permanent_when_5xx(code: int, kind: type) -> None:
    error = error_for_reply(code, "5.1.1 <iago@example.com>: no such user")

    assert type(error) is kind
    assert error.code == code
    assert error.response == f"{code} 5.1.1 <iago@example.com>: no such user"


def test_the_file_transport_writes_one_private_eml_file_named_by_time_and_id(
    tmp_path: Path,
) -> None:
    clock = ManualClock(datetime(2026, 11, 28, 10, 0, 1, 250000, tzinfo=UTC))
    transport = FileTransport(tmp_path / "outbox", clock=clock)

    response = transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=42)

    written = tmp_path / "outbox" / "20261128T100001.250000Z-42.eml"
    assert response == f"250 written {written.name}"
    assert written.read_bytes() == MESSAGE
    assert stat.S_IMODE(written.stat().st_mode) == 0o640
    assert sorted(p.name for p in written.parent.iterdir()) == [written.name]  # no temp left


def test_file_names_sort_in_the_order_emails_were_written(tmp_path: Path) -> None:
    clock = ManualClock()
    transport = FileTransport(tmp_path, clock=clock)
    for email_id in (9, 10, 11):
        transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=email_id)
        clock.advance(0.5)

    names = sorted(p.name for p in tmp_path.glob("*.eml"))
    assert [name.rsplit("-", 1)[1] for name in names] == ["9.eml", "10.eml", "11.eml"]


def test_an_unwritable_outbox_folder_makes_the_transport_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    transport = FileTransport(blocker)

    with pytest.raises(ServiceUnavailableError, match=r"cannot write .*-7\.eml") as first:
        transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=7)
    with pytest.raises(ServiceUnavailableError) as second:
        transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=8)

    assert isinstance(first.value, TransientDeliveryError)
    assert (first.value.failures, second.value.failures) == (1, 2)


def test_a_transport_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="missedmail.outbox")
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    transport = FileTransport(blocker)
    for email_id in range(5):
        with pytest.raises(ServiceUnavailableError):
            transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=email_id)

    blocker.unlink()
    transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=9)
    transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=10)

    loud = [r.getMessage() for r in caplog.records if r.levelname != "DEBUG"]
    assert len(loud) == 2
    assert loud[0].startswith("action=mail_transport_unavailable transport=file failures=1 ")
    assert loud[1].startswith("action=mail_transport_available transport=file failures=5 ")


def test_the_memory_transport_keeps_what_it_accepted() -> None:
    transport = MemoryTransport()

    response = transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=3)

    assert response.startswith("250 ")
    [sent] = transport.sent
    assert (sent.envelope_from, sent.recipients, sent.email_id) == (
        "noreply@x.org",
        ("iago@example.com",),
        3,
    )
    assert sent.parsed()["Subject"] == "hi"


def test_the_memory_transport_fails_the_next_sends_as_told() -> None:
    transport = MemoryTransport()
    transport.fail_next(2)
    transport.fail_next(1, permanent=True, response="550 5.1.1 gone")

    outcomes = []
    for _ in range(4):
        try:
            transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=1)
            outcomes.append("sent")
        except TransientDeliveryError as error:
            outcomes.append(f"transient {error.code}")
        except PermanentDeliveryError as error:
            outcomes.append(f"permanent {error.response}")

    assert outcomes == ["transient 451", "transient 451", "permanent 550 5.1.1 gone", "sent"]
    assert len(transport.attempts) == 4
    assert len(transport.sent) == 1


def test_the_memory_transport_can_fail_one_recipient_only() -> None:
    transport = MemoryTransport()
    transport.fail_next(1, recipient="iago@example.com")

    transport.send("noreply@x.org", ["hamlet@example.com"], MESSAGE, email_id=1)
    with pytest.raises(TransientDeliveryError):
        transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=2)
    transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=3)

    assert [sent.email_id for sent in transport.sent] == [1, 3]


def test_the_memory_transport_refuses_one_recipient_and_delivers_to_the_others() -> None:
    transport = MemoryTransport()
    transport.fail_next(1, permanent=True, recipient="gone@example.com")

    with pytest.raises(PartiallyDeliveredError) as partial:
        transport.send(
            "noreply@x.org", ["iago@example.com", "gone@example.com"], MESSAGE, email_id=4
        )

    assert partial.value.accepted == ("iago@example.com",)
    [refusal] = partial.value.refusals
    assert (refusal.recipient, refusal.code) == ("gone@example.com", 550)
    assert [sent.recipients for sent in transport.sent] == [("iago@example.com",)]


def test_an_unavailable_memory_transport_counts_its_failures_until_it_is_back() -> None:
    transport = MemoryTransport()
    transport.unavailable = "cannot use the mail server: connection refused"

    failures = []
    for email_id in range(3):
        with pytest.raises(ServiceUnavailableError) as error:
            transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=email_id)
        failures.append(error.value.failures)
    transport.unavailable = None
    transport.send("noreply@x.org", ["iago@example.com"], MESSAGE, email_id=3)

    assert failures == [1, 2, 3]
    assert [sent.email_id for sent in transport.sent] == [3]


def test_without_an_email_host_emails_go_to_files_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"MISSEDMAIL_DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40})

    transport = transport_from_settings(settings)

    assert isinstance(transport, FileTransport)
    assert transport.directory == tmp_path.resolve() / "outbox"


def test_with_an_email_host_emails_go_by_smtp(tmp_path: Path) -> None:
    settings = load_settings(
        {"MISSEDMAIL_DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40, "EMAIL_HOST": "mx.test"}
    )

    assert isinstance(transport_from_settings(settings), SmtpTransport)


# -- the SMTP exchange, byte for byte ---------------------------------------------------


class ScriptedServer:
    """A socket to an SMTP server that accepts everything, keeping every byte written to
    it: what goes on the wire, without a network."""

    def __init__(self) -> None:
        self.written = bytearray()
        self._replies = io.BytesIO()
        self._in_data = False
        self._reply(b"220 test ESMTP")

    def sendall(self, data: bytes) -> None:
        self.written += data
        if self._in_data:
            if self.written.endswith(b"\r\n.\r\n"):
                self._in_data = False
                self._reply(b"250 2.0.0 Ok: queued")
            return
        verb = bytes(data[:4]).upper()
        if verb == b"DATA":
            self._in_data = True
            self._reply(b"354 go ahead")
        elif verb == b"EHLO":
            self._reply(b"250-test\r\n250 8BITMIME")
        elif verb != b"QUIT":
            self._reply(b"250 2.1.0 Ok")

    def makefile(self, mode: str) -> io.BytesIO:
        return self._replies

    def close(self) -> None:
        pass

    def _reply(self, line: bytes) -> None:
        position = self._replies.tell()
        self._replies.seek(0, io.SEEK_END)
        self._replies.write(line + b"\r\n")
        self._replies.seek(position)


class ScriptedSMTP(smtplib.SMTP):
    """smtplib's own client, talking to a `ScriptedServer`."""

    def _get_socket(self, host: str, port: int, timeout: float) -> ScriptedServer:
        self.server = ScriptedServer()
        return self.server


# What the outbox sends (dot-atom addresses), and the text smtplib quotes some other way.
_LOCAL_CHARS = "abcXYZ019!#$%&'*+/=?^_`{|}~-."
plain_addresses = st.one_of(
    st.from_regex(r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,20}@[a-z0-9.-]{1,20}", fullmatch=True),
    st.builds(
        "{}@{}".format,
        st.text(_LOCAL_CHARS, min_size=1, max_size=12),
        st.text("ab9-.", min_size=1, max_size=12),
    ),
)
# Anything smtplib can write on the wire (ASCII, no line breaks), and near misses: an
# address with the characters RFC 2822 gives a meaning (comments, quotes, routes...).
near_misses = st.builds(
    "{}@{}".format,
    st.text(_LOCAL_CHARS + '()<>[]:;@\\,". \t', min_size=1, max_size=12),
    st.text('ab9-.()<>[]:;@\\,". ', min_size=1, max_size=12),
)
ascii_addresses = st.one_of(
    plain_addresses,
    near_misses,
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)
addresses = st.one_of(ascii_addresses, st.text(max_size=30))
messages = st.lists(
    st.sampled_from([b".", b"..", b".x", b"a", b"\r\n", b"\n", b"\r", b" ", b"x.y"]), max_size=30
).map(b"".join)


@given(addresses)
def test_addresses_are_quoted_as_smtplib_quotes_them(address: str) -> None:
    assert smtp_path(address) == smtplib.quoteaddr(address)


@given(messages)
def test_the_message_is_dot_stuffed_and_ended_as_smtplib_does_it(message: bytes) -> None:
    reference = ScriptedSMTP("mx.test", 25)
    reference.data(message)
    payload = reference.server.written.split(b"data\r\n", 1)[1]

    assert dot_stuffed(message) == payload


@given(envelope_from=ascii_addresses, recipient=ascii_addresses, message=messages)
def test_the_smtp_transport_writes_the_bytes_smtplib_would(
    envelope_from: str, recipient: str, message: bytes
) -> None:
    """The transport's own MAIL, RCPT and DATA put on the wire exactly what smtplib's
    `mail`, `rcpt` and `data` would, for any addresses and any message."""
    reference = ScriptedSMTP("mx.test", 25)
    reference.ehlo()
    reference.mail(envelope_from)
    reference.rcpt(recipient)
    reference.data(message)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(smtplib, "SMTP", ScriptedSMTP)
        transport = SmtpTransport(EmailSettings("mx.test", 25, "", "", False, False, None))
        transport.send(envelope_from, [recipient], message, email_id=1)
        connection = transport._connection

    assert isinstance(connection, ScriptedSMTP)
    assert bytes(connection.server.written) == bytes(reference.server.written)
