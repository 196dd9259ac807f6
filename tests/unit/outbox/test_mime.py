from __future__ import annotations

import re
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.drafts import EmailDraft
from missedmail.outbox.headers import InvalidAddressError, one_line
from missedmail.outbox.mime import build_message, new_message_id
from missedmail.outbox.unsubscribe import user_id_from_token
from tests.outbox_helpers import EXPECTED_HEADERS, NOW, THREAD_ROOT, make_draft, outbox_config

MESSAGE_ID = "<0123456789abcdef0123456789abcdef@missedmail.example.org>"


def build(
    draft: EmailDraft | None = None,
    *,
    reply_to: str = "noreply@missedmail.example.org",
    headers_config: OutboxConfig | None = None,
    now: datetime = NOW,
) -> bytes:
    return build_message(
        draft or make_draft(),
        message_id_header=MESSAGE_ID,
        reply_to=reply_to,
        headers_config=headers_config or outbox_config(),
        now=now,
    )


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(message: EmailMessage, subtype: str) -> str:
    """A part's text, line endings as the composer wrote them (the wire has CRLF)."""
    part = message.get_body((subtype,))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def test_the_message_is_plain_text_then_html_both_utf8() -> None:
    draft = make_draft(text="Grüße\n> héllo\n", html="<p>Grüße</p>")
    message = parse(build(draft))

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert [part.get_content_charset() for part in parts] == ["utf-8", "utf-8"]
    assert body(message, "plain") == "Grüße\n> héllo\n"
    assert body(message, "html") == "<p>Grüße</p>\n"
    assert "MIME-Version" not in parts[1]  # only on the message itself


def test_every_header_of_the_contract_is_set() -> None:
    config = outbox_config(from_name="Zulip notifications")
    message = parse(build(headers_config=config, reply_to="mm" + "a" * 32 + "@chat.example.com"))

    assert list(message.keys()) == EXPECTED_HEADERS
    assert message["From"] == "Zulip notifications <noreply@missedmail.example.org>"
    assert message["To"] == "King Hamlet <hamlet@example.com>"
    assert message["Subject"] == "#Denmark > test"
    assert message["Reply-To"] == "mm" + "a" * 32 + "@chat.example.com"
    assert message["Message-ID"] == MESSAGE_ID
    assert message["In-Reply-To"] == THREAD_ROOT
    assert message["References"] == THREAD_ROOT
    assert message["List-Id"] == "Zulip Dev <chat.example.com>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["Date"] == "Sat, 28 Nov 2026 10:00:00 +0000"


def test_the_unsubscribe_link_is_a_signed_one_click_link_for_the_recipient() -> None:
    message = parse(build(make_draft(user_id=13)))

    match = re.fullmatch(
        r"<https://mm\.example\.org/unsubscribe/([^>]+)>", message["List-Unsubscribe"]
    )
    assert match is not None
    assert user_id_from_token(match.group(1)) == 13


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/Berlin", "Sat, 28 Nov 2026 11:00:00 +0100"),
        ("America/New_York", "Sat, 28 Nov 2026 05:00:00 -0500"),
        ("Asia/Kolkata", "Sat, 28 Nov 2026 15:30:00 +0530"),
        ("", "Sat, 28 Nov 2026 10:00:00 +0000"),
        ("Not/AZone", "Sat, 28 Nov 2026 10:00:00 +0000"),
        ("../../etc/passwd", "Sat, 28 Nov 2026 10:00:00 +0000"),
    ],
)
def test_the_date_is_now_in_the_recipients_timezone_or_utc(zone: str, expected: str) -> None:
    message = parse(build(make_draft(timezone=zone)))

    assert message["Date"] == expected
    assert message["Date"].datetime == NOW


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build(now=datetime(2026, 11, 28, 10, 0))  # noqa: DTZ001 -- the point of the test


@pytest.mark.parametrize(
    "name",
    [
        "Othello, the Moor of Venice",
        'Iago "the honest"',
        "Cordelia, Lear's daughter",
        "Zoë Ångström",
        "王小明",
        "O'Brien; (admin) <root@example.com>",
    ],
)
def test_a_display_name_needing_quotes_or_encoding_round_trips(name: str) -> None:
    message = parse(build(make_draft(to_name=name)))

    [address] = message["To"].addresses
    assert address.display_name == name
    assert address.addr_spec == "hamlet@example.com"


def test_an_internationalised_domain_is_written_in_idna() -> None:
    message = parse(build(make_draft(to_email="hamlet@bücher.example")))

    assert message["To"].addresses[0].addr_spec == "hamlet@xn--bcher-kva.example"


@pytest.mark.parametrize(
    "address",
    [
        "",
        "hamlet",
        "hamlet@",
        "@example.com",
        "ham let@example.com",
        "hamlet@exa mple.com",
        "jöe@example.com",
        "hamlet(comment)@example.com",
        "<hamlet@example.com>",
        "hamlet@example.com, iago@example.com",
        "a@b@example.com",
    ],
)
def test_an_unusable_recipient_address_is_refused(address: str) -> None:
    with pytest.raises(InvalidAddressError):
        build(make_draft(to_email=address))


@pytest.mark.parametrize(
    ("realm_name", "raw_header", "decoded"),
    [
        ("Zulip Dev", "List-Id: Zulip Dev <chat.example.com>", "Zulip Dev <chat.example.com>"),
        (
            "Zulip, Dev",
            'List-Id: "Zulip, Dev" <chat.example.com>',
            '"Zulip, Dev" <chat.example.com>',
        ),
        ("Zülip", "List-Id: =?utf-8?b?WsO8bGlw?= <chat.example.com>", "Zülip <chat.example.com>"),
        ("", "List-Id: <chat.example.com>", "<chat.example.com>"),
    ],
)
def test_list_id_is_the_realm_name_then_its_host_in_angle_brackets(
    realm_name: str, raw_header: str, decoded: str
) -> None:
    raw = build(make_draft(realm_name=realm_name))

    assert f"\r\n{raw_header}\r\n".encode() in raw
    assert parse(raw)["List-Id"] == decoded


def test_long_header_values_stay_verbatim_instead_of_becoming_encoded_words() -> None:
    # The default folding would write a long message id as =?utf-8?q?...?=, which no mail
    # client recognises as a thread root.
    root = "<3." + "dGVzdA==" * 20 + "@chat.example.com>"
    raw = build(make_draft(thread_root=root, realm_name="The " + "Very " * 30 + "Long Realm"))

    assert f"\r\nIn-Reply-To: {root}\r\n".encode() in raw
    assert f"\r\nReferences: {root}\r\n".encode() in raw
    assert b"=?" not in raw.split(b"\r\n\r\n")[0].replace(b"=?utf-8?", b"")
    assert parse(raw)["List-Id"] == "The " + "Very " * 30 + "Long Realm <chat.example.com>"


def test_the_bytes_are_7bit_with_crlf_lines_under_the_smtp_limit() -> None:
    draft = make_draft(text="é" * 3000 + "\n" + "x" * 5000, html="<p>" + "ü" * 4000 + "</p>")
    raw = build(draft)

    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert body(parse(raw), "plain") == draft.text + "\n"


def test_a_lone_surrogate_in_a_body_becomes_a_replacement_character() -> None:
    message = parse(build(make_draft(text="broken \ud800 text")))

    assert body(message, "plain") == "broken \ufffd text\n"


def test_a_message_id_is_a_fresh_random_id_at_the_noreply_domain() -> None:
    config = outbox_config(noreply_email="noreply@Mail.Example.org")
    first, second = new_message_id(config), new_message_id(config)

    assert re.fullmatch(r"<[0-9a-f]{32}@mail\.example\.org>", first)
    assert first != second


HEADER_TEXT = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()),  # every code point, surrogates too
    max_size=120,
)
ADVERSARIAL_TEXT = st.one_of(
    HEADER_TEXT,
    st.lists(
        st.sampled_from(
            [
                "\r\n",
                "\n",
                "\r",
                "\x0b",
                "\x0c",
                "\x1c",
                "\x85",
                "\u2028",
                "\u2029",
                "\x00",
                "Bcc: evil@example.com",
                ": ",
                "=?utf-8?q?x?=",
                " ",
                "é",
                "\t",
                "<",
                ">",
                '"',
                ",",
            ]
        ),
        max_size=12,
    ).map("".join),
)


def _words(text: str) -> list[str]:
    return one_line(text).split()


def _letters(text: str) -> str:
    # Python's parser puts a space between adjacent encoded words of a display name
    # (RFC 2047 §6.2 says to drop it; mail clients do), so names compare without spaces.
    return "".join(one_line(text).split())


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=ADVERSARIAL_TEXT,
    to_name=ADVERSARIAL_TEXT,
    realm_name=ADVERSARIAL_TEXT,
    thread_root=ADVERSARIAL_TEXT,
    timezone=ADVERSARIAL_TEXT,
    to_email=st.one_of(st.emails(), ADVERSARIAL_TEXT),
)
def test_no_header_value_can_inject_a_header_or_break_the_message(
    subject: str, to_name: str, realm_name: str, thread_root: str, timezone: str, to_email: str
) -> None:
    draft = make_draft(
        subject=subject,
        to_name=to_name,
        realm_name=realm_name,
        thread_root=thread_root,
        timezone=timezone,
        to_email=to_email,
    )
    try:
        raw = build(draft)
    except InvalidAddressError:
        return  # refusing an address is fine; writing a broken one is not

    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    message = parse(raw)
    assert list(message.keys()) == EXPECTED_HEADERS
    assert not message.defects
    assert _words(str(message["Subject"])) == _words(subject)
    [address] = message["To"].addresses
    assert _letters(address.display_name) == _letters(to_name)
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


def test_the_config_supplies_the_from_name_and_the_unsubscribe_base() -> None:
    config = OutboxConfig(
        from_name="Chat, Inc. notifications",
        noreply_email="noreply@chat.example.com",
        gateway_pattern="",
        public_url="https://chat.example.com/mm",
    )
    message = parse(build(headers_config=config))

    [sender] = message["From"].addresses
    assert sender.display_name == "Chat, Inc. notifications"
    assert message["List-Unsubscribe"].startswith("<https://chat.example.com/mm/unsubscribe/")
