"""`build_message` writes the bytes itself; the `email` package used to. These tests hold it
to that older output (`email_package_reference`): the same header bytes, and parsed back as
a mail client would, the same headers, parts and texts. And whatever the input, no header
can be injected and no line breaks SMTP's rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from missedmail.composing.languages import EMAIL_LANGUAGES
from missedmail.composing.samples import SampleKind, sample_email
from missedmail.outbox import mime
from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.drafts import EmailDraft
from missedmail.outbox.headers import one_line, outgoing_policy
from tests.outbox_helpers import EXPECTED_HEADERS, NOW, make_draft, outbox_config
from tests.unit.outbox import email_package_reference as reference

MESSAGE_ID = "<0123456789abcdef0123456789abcdef@missedmail.example.org>"
REPLY_TO = "noreply@missedmail.example.org"
BOUNDARY_LINE = re.compile(rb'\r\n boundary="(={15}[0-9]{19}==)"\r\n')


@dataclass(frozen=True)
class Case:
    draft: EmailDraft
    config: OutboxConfig
    message_id: str = MESSAGE_ID
    reply_to: str = REPLY_TO
    now: datetime = NOW


def fake_unsubscribe_url(public_url: str, user_id: int) -> str:
    # The real token carries the current second; both writers must see the same link.
    return f"{public_url.rstrip('/')}/unsubscribe/token-{user_id}"


@contextmanager
def same_unsubscribe_links() -> Iterator[None]:
    with (
        mock.patch.object(mime, "unsubscribe_url", fake_unsubscribe_url),
        mock.patch.object(reference, "unsubscribe_url", fake_unsubscribe_url),
    ):
        yield


def write(build: Callable[..., bytes], case: Case) -> bytes | Exception:
    try:
        raw = build(
            case.draft,
            message_id_header=case.message_id,
            reply_to=case.reply_to,
            headers_config=case.config,
            now=case.now,
        )
    except Exception as error:  # compared with the reference's
        return error
    return raw


def boundary_of(raw: bytes) -> bytes:
    match = BOUNDARY_LINE.search(raw)
    assert match is not None
    return match.group(1)


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def headers_of(message: MIMEPart) -> list[tuple[str, str, list[str]]]:
    return [
        (name, str(value), [str(defect) for defect in getattr(value, "defects", ())])
        for name, value in message.items()
    ]


def assert_safe(raw: bytes, case: Case) -> EmailMessage:
    """No header injected, nothing a transport could refuse or alter; the parsed message."""
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    head, _, body = raw.partition(b"\r\n\r\n")
    first, *sections, last = body.split(b"--" + boundary_of(raw))
    assert (first, last, len(sections)) == (b"", b"--\r\n", 2)
    heads = [head]
    for section in sections:
        part_head, _, quoted_printable = section.partition(b"\r\n\r\n")
        heads.append(part_head)
        # RFC 2045: quoted-printable lines of at most 76 characters.
        assert max(len(line) for line in quoted_printable.split(b"\r\n")) <= 76
    for line in b"\r\n".join(heads).split(b"\r\n"):
        # Longer than 78 only where there is no space to fold at: one long word.
        if len(line) > 78:
            assert len(line.split()) <= (1 if line.startswith(b" ") else 2), line
    message = parse(raw)
    assert list(message.keys()) == EXPECTED_HEADERS
    assert not message.defects
    for name, value in message.items():
        assert not {"\r", "\n"} & set(str(value)), name
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    tagged = mime.LANGUAGE_TAG.fullmatch(case.draft.language) is not None
    for part in parts:
        assert list(part.keys()) == [
            "Content-Type",
            "Content-Transfer-Encoding",
            *(["Content-Language"] if tagged else []),
        ]
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert not part.defects
    return message


def assert_as_before(case: Case) -> str:
    """The direct writer against the email package: the same bytes in the headers and the
    same message once parsed, or the same error. Which of those it was, for statistics."""
    with same_unsubscribe_links():
        new = write(mime.build_message, case)
        old = write(reference.reference_build_message, case)
    if isinstance(old, Exception) or isinstance(new, Exception):
        assert type(new) is type(old)
        assert str(new) == str(old)
        return f"refused: {type(new).__name__}"
    new_message = assert_safe(new, case)
    old = old.replace(boundary_of(old), boundary_of(new))  # the one random difference
    new_head, old_head = new.partition(b"\r\n\r\n")[0], old.partition(b"\r\n\r\n")[0]
    old_message = parse(old)
    outcome = "written as before"
    if max(len(line) for line in old_head.split(b"\r\n")) <= 998:
        assert new_head == old_head
        assert headers_of(new_message) == headers_of(old_message)
    else:
        # The email package wrote a value with a word or a run of spaces too long for any
        # line on one line, which SMTP forbids. It is now written as encoded words: the same
        # words read back (the old line's whitespace was not kept as written either, and a
        # parser may note that a Message-ID written so is no msg-id: no id of ours comes
        # near that length).
        assert [(name, value.split()) for name, value, _ in headers_of(new_message)] == [
            (name, value.split()) for name, value, _ in headers_of(old_message)
        ]
        outcome = "written, an over-long line folded"
    new_parts, old_parts = list(new_message.iter_parts()), list(old_message.iter_parts())
    assert [headers_of(part) for part in new_parts] == [headers_of(part) for part in old_parts]
    assert [part.get_content() for part in new_parts] == [part.get_content() for part in old_parts]
    return outcome


def test_one_line_replaces_exactly_the_characters_of_the_old_per_character_rule() -> None:
    # Every code point, surrogates included, against the categories the rule is made of.
    def old_rule(char: str) -> str:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            return " "
        return "\N{REPLACEMENT CHARACTER}" if category == "Cs" else char

    everything = "".join(map(chr, range(0x110000)))
    assert one_line(everything) == "".join(map(old_rule, everything))


@pytest.mark.parametrize("kind", list(SampleKind))
@pytest.mark.parametrize(
    ("language", "zone"),
    [("en", ""), ("de", "Europe/Berlin"), ("ja", "Asia/Tokyo"), ("pt-BR", "America/Sao_Paulo")],
)
@pytest.mark.parametrize("reply_by_email", [False, True])
def test_the_composers_emails_are_written_as_the_email_package_wrote_them(
    kind: SampleKind, language: str, zone: str, reply_by_email: bool
) -> None:
    draft = sample_email(kind, language=language, timezone=zone, reply_by_email=reply_by_email)
    assert_as_before(Case(draft, outbox_config(from_name="Zulip Dev notifications")))


LONG = "x" * 990  # with a header name, longer than SMTP's 998-character line
NASTY = [
    "\r\n",
    "\r",
    "\n",
    "\x00",
    "\t",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\ud800",
    "\udfff",
    "\ud83d\ude00",  # a surrogate pair, as two code points
    "Bcc: evil@example.com",
    "\r\nBcc: evil@example.com",
    "=?utf-8?q?x?=",
    "=?",
    "?=",
    "Zoë Ångström",
    "王小明",
    "مرحبا",
    "👩‍💻",
    "\u202e",
    '"',
    "\\",
    "<",
    ">",
    ",",
    ";",
    ":",
    "(",
    ")",
    "@",
    " ",
    "  ",
    "x" * 75,
    "x" * 76,
    "é" * 40,
    LONG,
]


@pytest.mark.parametrize("value", NASTY + [f"a{nasty}b" for nasty in NASTY[:12]])
@pytest.mark.parametrize(
    "field", ["to_name", "subject", "thread_root", "realm_name", "timezone", "language"]
)
def test_no_nasty_header_input_writes_anything_else(field: str, value: str) -> None:
    assert_as_before(Case(make_draft(**{field: value}), outbox_config()))


@pytest.mark.parametrize(
    "address",
    [
        "hamlet@bücher.example",
        "hamlet@BÜCHER.example",
        "hamlet@xn--bcher-kva.example",
        "Hamlet@Example.COM",
        "hamlet@example.com\r\nBcc: evil@example.com",
        "hamlet@exa\x00mple.com",
        "hamlet@☃.example",
        "hamlet@" + "a" * 64 + ".example",
        "hamlet@" + "a." * 130 + "example",
        "x" * 65 + "@example.com",
        "jöe@example.com",
        "",
    ],
)
def test_recipient_addresses_are_refused_or_written_as_before(address: str) -> None:
    assert_as_before(Case(make_draft(to_email=address), outbox_config()))


@pytest.mark.parametrize("host", ["bücher.example", "-bad.example", "exa mple.com", "a" * 254])
def test_realm_hosts_are_refused_or_written_as_before(host: str) -> None:
    assert_as_before(Case(make_draft(realm_host=host), outbox_config()))


@pytest.mark.parametrize(
    "config",
    [
        outbox_config(from_name=""),
        outbox_config(from_name="Chat, Inc. notifications"),
        outbox_config(from_name="Zülip notifications " * 8),
        outbox_config(from_name="line\r\nBcc: evil@example.com"),
        outbox_config(public_url="https://chat.example.com/mm/"),
        outbox_config(public_url="https://bücher.example/ä"),
        outbox_config(public_url="https://chat.example.com/" + "p" * 1000),
        outbox_config(public_url="https://chat.example.com/a b\r\nBcc: x"),
    ],
)
def test_installation_settings_are_written_as_before(config: OutboxConfig) -> None:
    assert_as_before(Case(make_draft(), config))


@pytest.mark.parametrize(
    "message_id", ["<ab c@x.org>", "<é@x.org>", "<a@b>\r\nBcc: x@y", "<" + "a" * 1000 + "@x>"]
)
def test_odd_message_ids_are_written_as_before(message_id: str) -> None:
    assert_as_before(Case(make_draft(), outbox_config(), message_id=message_id))


@pytest.mark.parametrize(
    "reply_to", ["mm" + "0" * 32 + "@Chat.Example", "x@bücher.example", "x@y\r\nBcc: z@y", "x"]
)
def test_reply_addresses_are_refused_or_written_as_before(reply_to: str) -> None:
    assert_as_before(Case(make_draft(), outbox_config(), reply_to=reply_to))


BODIES = [
    "",
    "\n",
    "\r\n",
    "\r",
    "no final line break",
    "a\r\nb\rc\nd",
    "trailing space \ntrailing tab\t\n \n\t\n",
    ".\n..\n.x\nFrom the start\n>From\n",
    "=\n==\n=3D\n=?utf-8?q?x?=\n",
    "\x00\x01\x0b\x0c\x1c\x1d\x1e\x7f\x85\u2028\u2029\n",
    "broken \ud800 text \udfff\n",
    "paired \ud83d\ude00 surrogates\n",
    "--" + "=" * 15 + "1234567890123456789==\n--" + "=" * 15 + "1234567890123456789==--\n",
    "Grüße 王小明 مرحبا 👩‍💻\n" * 50,
    *("x" * n + "\n" for n in (74, 75, 76, 77, 78, 79, 153, 154, 155)),
    *("x" * n + " \n" for n in (73, 74, 75, 76, 77, 78)),
    *("x" * n + "é" * 3 + "\n" for n in (70, 71, 72, 73, 74, 75, 76)),
    "é" * 3000 + "\n" + "x" * 5000,
    "<p>" + "ü" * 4000 + "</p>",
]


@pytest.mark.parametrize("body", BODIES)
def test_bodies_decode_to_the_same_text_as_before(body: str) -> None:
    assert_as_before(Case(make_draft(text=body, html=body), outbox_config()))


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=-3, seconds=-17))),
        datetime(1890, 1, 1, tzinfo=ZoneInfo("Europe/Amsterdam")),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
    ],
)
@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Kolkata", "Pacific/Kiritimati", ""])
def test_the_date_is_written_as_before(now: datetime, zone: str) -> None:
    assert_as_before(Case(make_draft(timezone=zone), outbox_config(), now=now))


@pytest.mark.parametrize(
    "root",
    [
        "<3." + "dGVzdA==" * 150 + "@chat.example.com>",
        "\n" * 1500 + "<3.dGVzdA==@chat.example.com>",
        "<3.dGVzdA==@chat.example.com>" + " " * 1000,
    ],
)
def test_an_over_long_header_value_is_folded_within_the_smtp_line_limit(root: str) -> None:
    # A thread root from a very long topic (or a broken one): the email package wrote it on
    # one line of more than 998 characters. It is now written as encoded words, and reads
    # back as the same words.
    case = Case(make_draft(thread_root=root), outbox_config())
    raw = mime.build_message(
        case.draft,
        message_id_header=MESSAGE_ID,
        reply_to=REPLY_TO,
        headers_config=case.config,
        now=NOW,
    )

    assert_safe(raw, case)
    assert str(parse(raw)["In-Reply-To"]).split() == root.split()
    assert_as_before(case)


def test_every_message_has_its_own_boundary() -> None:
    boundaries = set()
    for _ in range(20):
        raw = mime.build_message(
            make_draft(),
            message_id_header=MESSAGE_ID,
            reply_to=REPLY_TO,
            headers_config=outbox_config(),
            now=NOW,
        )
        match = BOUNDARY_LINE.search(raw)
        assert match is not None
        boundaries.add(match.group(1))

    assert len(boundaries) == 20


# Hypothesis: every field at once, from every code point and from the fragments above.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60)
FRAGMENTS = st.lists(
    st.one_of(st.sampled_from(NASTY), ANY_TEXT, st.integers(60, 1000).map("y".__mul__)),
    max_size=8,
).map("".join)
TEXT = st.one_of(ANY_TEXT, FRAGMENTS)


def parsable_message_id(value: str) -> bool:
    """Whether the standard library's header parser, this test's oracle, can read `value` as
    a Message-ID at all: Python 3.11's raises IndexError on some (`"<"`), a bug of the
    parser, not of either writer. Ours are always `<hex@domain>` (`mime.new_message_id`).
    Asked of the value as both writers write it (on one line)."""
    try:
        str(policy.default.header_factory("Message-ID", one_line(value)))
    except IndexError:
        return False
    except Exception:  # any other outcome is the test's to compare
        return True
    return True


GOOD_ADDRESS = st.sampled_from(
    ["hamlet@example.com", "hamlet@bücher.example", "Iago@Example.COM", "a.b+c@sub.example.org"]
)
ADDRESS = st.one_of(GOOD_ADDRESS, st.emails(), TEXT)
GOOD_HOST = st.sampled_from(["chat.example.com", "bücher.example", "x", "A-B.example"])
HOST = st.one_of(GOOD_HOST, st.from_regex(r"[a-z0-9.-]{1,80}", fullmatch=True), TEXT)
ZONE = st.one_of(
    st.sampled_from(["", "UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns"]), TEXT
)
LANGUAGE = st.one_of(
    st.sampled_from([*EMAIL_LANGUAGES, "pt-BR", "en-" + "-".join(["abcdefgh"] * 12)]), TEXT
)
BODY = st.lists(
    st.one_of(
        st.sampled_from(BODIES),
        st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200),
        st.integers(0, 200).map("z".__mul__),
        st.sampled_from([" ", "\t", "\n", "\r", "\r\n", "=", ".", "é", "\ud800"]),
    ),
    max_size=10,
).map("".join)
NOW_VALUES = st.datetimes(
    min_value=datetime(1800, 1, 1),  # noqa: DTZ001 -- hypothesis adds the zone
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from(
        [UTC, ZoneInfo("Europe/Berlin"), timezone(timedelta(hours=5, minutes=30))]
    ),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    to_name=TEXT,
    to_email=st.one_of(GOOD_ADDRESS, st.emails()),
    subject=TEXT,
    thread_root=TEXT,
    realm_name=TEXT,
    realm_host=GOOD_HOST,
    zone=ZONE,
    language=LANGUAGE,
    text=BODY,
    html=BODY,
    user_id=st.integers(1, 2**63),
    from_name=TEXT,
    public_url=st.one_of(st.just("https://mm.example.org"), TEXT.map("https://x.org/".__add__)),
    message_id=st.one_of(st.just(MESSAGE_ID), TEXT.filter(parsable_message_id)),
    reply_to=GOOD_ADDRESS,
    now=NOW_VALUES,
)
@example(  # every field carrying an attempted header, a long word and a surrogate at once
    **dict.fromkeys(
        ["to_name", "subject", "thread_root", "realm_name", "zone", "language", "text", "html"],
        "a\r\nBcc: evil@example.com\u2028" + LONG + "\ud800",
    ),
    to_email="hamlet@example.com",
    realm_host="chat.example.com",
    user_id=1,
    from_name="x\r\nBcc: y",
    public_url="https://mm.example.org",
    message_id=MESSAGE_ID + "\r\nBcc: y",
    reply_to=REPLY_TO,
    now=NOW,
)
def test_any_input_is_written_as_before_and_injects_nothing(
    to_name: str,
    to_email: str,
    subject: str,
    thread_root: str,
    realm_name: str,
    realm_host: str,
    zone: str,
    language: str,
    text: str,
    html: str,
    user_id: int,
    from_name: str,
    public_url: str,
    message_id: str,
    reply_to: str,
    now: datetime,
) -> None:
    draft = make_draft(
        to_name=to_name,
        to_email=to_email,
        subject=subject,
        thread_root=thread_root,
        realm_name=realm_name,
        realm_host=realm_host,
        timezone=zone,
        language=language,
        text=text,
        html=html,
        user_id=user_id,
    )
    config = outbox_config(from_name=from_name, public_url=public_url)
    event(assert_as_before(Case(draft, config, message_id=message_id, reply_to=reply_to, now=now)))


@settings(max_examples=100, deadline=None)
@given(to_email=ADDRESS, realm_host=HOST, reply_to=ADDRESS, to_name=TEXT, subject=TEXT)
def test_any_address_is_refused_or_written_as_before(
    to_email: str, realm_host: str, reply_to: str, to_name: str, subject: str
) -> None:
    draft = make_draft(to_email=to_email, realm_host=realm_host, to_name=to_name, subject=subject)
    event(assert_as_before(Case(draft, outbox_config(), reply_to=reply_to)))


@settings(max_examples=200, deadline=None)
@given(value=TEXT.map(one_line), name=st.sampled_from(["Subject", "In-Reply-To", "From"]))
def test_the_policys_verbatim_headers_fold_as_before_within_the_line_limit(
    value: str, name: str
) -> None:
    # `outgoing_policy` still writes the test email of the operations page.
    new_policy, old_policy = outgoing_policy(), reference.POLICY
    new = new_policy.header_factory(name, value).fold(policy=new_policy)
    old = old_policy.header_factory(name, value).fold(policy=old_policy)

    assert max(len(line) for line in new.split("\r\n")) <= 998
    if max(len(line) for line in old.split("\r\n")) <= 998:
        assert new == old
