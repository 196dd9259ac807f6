"""Hostile and broken input: every path answers clearly, stores safely, and never crashes.

Hypothesis drives the event parser, ingest, every API body, and whole emails built from
hostile names, topics, content and time zones. Invariants: the parser returns an event or
an `EventError`, nothing else; ingest stores one outcome per event and records every
rejection; the API answers a JSON envelope with a 2xx or 4xx status, never a 500; an email
has exactly the contract's headers (no header injection) and no active content. (Poison
messages on the real queue: test_poison_messages.py.) These tests need no server: `make
test` runs them on SQLite and on PostgreSQL, which refuses what SQLite stores (NUL bytes).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, assume, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from missedmail.clock import ManualClock
from missedmail.composing.batch import CompositionOptions
from missedmail.core.models import Realm
from missedmail.events import MAX_EVENT_BYTES, EventError, MissedMessageEvent, parse_event
from missedmail.outbox.models import OutboundEmail
from missedmail.outbox.sender import send_once
from missedmail.outbox.transports import MemoryTransport
from missedmail.scheduling.ingest import raw_event_from_body, schedule_events
from missedmail.scheduling.models import EventSource, RejectedEvent, ScheduledNotification
from missedmail.worker.batching import BatcherConfig, send_due_batches
from tests.factories import make_org
from tests.outbox_helpers import EXPECTED_HEADERS, outbox_config
from tests.unit.composing.content.test_safety_properties import HOSTILE_PIECES

EXAMPLES = 60
fuzz = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CONTROL = "".join(chr(c) for c in range(32)) + "\x7f\x85\u2028\u2029\ufeff"
hostile_pieces = st.sampled_from(
    [*HOSTILE_PIECES, "\r\n", "\r\nBcc: victim@example.com", "\x00", "\ud7ff", "=?utf-8?q?x?="]
)
hostile_text = st.lists(st.one_of(hostile_pieces, st.text(max_size=6)), max_size=12).map("".join)
ids = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 10, 11, 2**63 - 1, 2**63, -1]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    ids,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20),
    hostile_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=12,
)
EVENT_KEYS = ("user_profile_id", "message_id", "trigger", "mentioned_user_group_id")
event_like = st.dictionaries(
    st.one_of(st.sampled_from(EVENT_KEYS), st.text(max_size=10)), json_values, max_size=6
)


class _Undo(Exception):
    """Raised at the end of an example to roll its writes back."""


def isolated(work: Any) -> None:
    """Run one hypothesis example's database work in a savepoint, then undo it, so every
    example starts from the fixture's data."""
    try:
        with transaction.atomic():
            work()
            raise _Undo
    except _Undo:
        pass


# -- the event parser (no database) --------------------------------------------------------


def parse_or_error(body: bytes | str) -> MissedMessageEvent | EventError:
    try:
        return parse_event(body)
    except EventError as error:
        return error


@given(body=st.binary(max_size=300))
def test_any_bytes_parse_to_an_event_or_a_clear_error(body: bytes) -> None:
    outcome = parse_or_error(body)

    assert isinstance(outcome, MissedMessageEvent) or outcome.reason


@given(value=st.one_of(json_values, event_like))
def test_any_json_value_parses_to_an_event_or_an_error_naming_the_field(value: Any) -> None:
    outcome = parse_or_error(json.dumps(value))

    if isinstance(outcome, EventError):
        assert outcome.field is None or outcome.field in EVENT_KEYS
    else:
        assert 1 <= outcome.user_profile_id <= 2**63 - 1
        assert 1 <= outcome.message_id <= 2**63 - 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "exceeds"),
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"user_profile_id": 1e400, "message_id": 1, "trigger": "mentioned"}', "integer id"),
        (b'{"user_profile_id": NaN, "message_id": 1, "trigger": "mentioned"}', "integer id"),
        (b'"' + b"x" * (MAX_EVENT_BYTES + 1) + b'"', "exceeds"),
    ],
)
def test_pathological_bodies_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(EventError, match=reason):
        parse_event(body)


# -- ingest (database) ---------------------------------------------------------------------


@pytest.mark.django_db
@fuzz
@given(
    bodies=st.lists(
        st.one_of(st.binary(max_size=80), event_like.map(lambda v: json.dumps(v).encode())),
        min_size=1,
        max_size=12,
    )
)
def test_any_batch_of_queue_bodies_is_stored_or_recorded_as_rejected(bodies: list[bytes]) -> None:
    make_org_once()
    now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)

    def work() -> None:
        result = schedule_events(
            [raw_event_from_body(body) for body in bodies], source=EventSource.QUEUE, now=now
        )
        assert len(result.outcomes) == len(bodies)
        assert RejectedEvent.objects.count() == result.count("rejected")
        assert ScheduledNotification.objects.count() == result.count("scheduled")

    isolated(work)


def make_org_once() -> None:
    """The factories' organisation, made once per test (hypothesis calls the test body
    many times inside one database transaction)."""
    if not Realm.objects.filter(id=1).exists():
        make_org()


# -- the HTTP API --------------------------------------------------------------------------

ALLOWED_STATUSES = {200, 400, 404, 405, 409, 413, 415}
ENDPOINTS = [
    ("POST", "notifications"),
    ("POST", "messages"),
    ("POST", "messages/flags"),
    ("PUT", "users/10"),
    ("PUT", "users/99"),
    ("PUT", "realms/1"),
    ("PUT", "streams/3"),
    ("PUT", "user_groups/5"),
    ("PATCH", "messages/1001"),
]


def call(client: Client, method: str, path: str, data: bytes) -> tuple[int, dict[str, Any]]:
    response = client.generic(
        method,
        f"/api/v1/{path}",
        data=data,
        content_type="application/json",
        headers={"Authorization": f"Bearer {settings.MISSEDMAIL.api_token}"},
    )
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert response.status_code in ALLOWED_STATUSES, (response.status_code, body)
    if response.status_code == 200:
        assert body["result"] == "success"
    else:
        assert body["result"] == "error"
        assert set(body) == {"result", "msg", "code"}
        assert body["msg"]
    return response.status_code, body


@pytest.mark.django_db
@fuzz
@given(endpoint=st.sampled_from(ENDPOINTS), value=json_values)
def test_any_json_body_gets_an_envelope_never_a_crash(
    client: Client, endpoint: tuple[str, str], value: Any
) -> None:
    make_org_once()
    method, path = endpoint
    isolated(lambda: call(client, method, path, json.dumps(value).encode()))


@pytest.mark.django_db
@fuzz
@given(endpoint=st.sampled_from(ENDPOINTS), data=st.binary(max_size=200))
def test_any_bytes_as_a_body_get_an_envelope_never_a_crash(
    client: Client, endpoint: tuple[str, str], data: bytes
) -> None:
    make_org_once()
    method, path = endpoint
    isolated(lambda: call(client, method, path, data))


USER_FIELDS = (
    "realm_id",
    "email",
    "full_name",
    "is_active",
    "timezone",
    "default_language",
    "email_notifications_batching_period_seconds",
    "realm_name_in_email_notifications_policy",
)


@pytest.mark.django_db
@fuzz
@given(fields=st.dictionaries(st.sampled_from(USER_FIELDS), json_values, min_size=1))
def test_a_user_upsert_is_stored_whole_or_refused_naming_a_field(
    client: Client, fields: dict[str, Any]
) -> None:
    make_org_once()

    def work() -> None:
        status, body = call(client, "PUT", "users/10", json.dumps(fields).encode())
        if status == 400:
            assert body["msg"].split(":")[0].split(".")[0].split("[")[0] in {*USER_FIELDS, "body"}

    isolated(work)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "period", [0, -1, 604_801, 10**30, 1.5, "120", True, [], {"s": 1}, 1e308, math.pi]
)
def test_an_absurd_batching_period_is_refused_naming_the_field(client: Client, period: Any) -> None:
    make_org()
    body = {"email_notifications_batching_period_seconds": period}

    status, answer = call(client, "PUT", "users/10", json.dumps(body).encode())

    assert status == 400
    assert answer["msg"].startswith("email_notifications_batching_period_seconds")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "UTC\r\nBcc: victim@example.com", "../../etc/passwd", "x" * 65]
)
def test_an_absurd_time_zone_is_refused_naming_the_field(client: Client, zone: str) -> None:
    make_org()

    status, answer = call(client, "PUT", "users/10", json.dumps({"timezone": zone}).encode())

    assert status == 400
    assert answer["msg"].startswith("timezone")


@pytest.mark.django_db
def test_a_body_over_10_mib_is_refused_before_it_is_read(client: Client) -> None:
    data = b'{"events": ["' + b"x" * (10 * 1024 * 1024) + b'"]}'

    status, body = call(client, "POST", "notifications", data)

    assert (status, body["code"]) == (413, "REQUEST_TOO_LARGE")


@pytest.mark.django_db
def test_a_deeply_nested_body_is_refused(client: Client) -> None:
    data = b"[" * 50_000 + b"]" * 50_000

    status, body = call(client, "POST", "notifications", data)

    assert (status, body["code"]) == (400, "INVALID_JSON")


# -- whole emails from hostile data ------------------------------------------------------------


names = st.one_of(hostile_text, st.text(min_size=1, max_size=30)).filter(
    lambda name: name.strip() != "" and len(name) <= 200
)


@pytest.mark.django_db
@fuzz
@given(content=hostile_text, topic=hostile_text, sender_name=names, reader_name=names)
def test_an_email_from_hostile_names_topics_and_content_is_well_formed_and_inert(
    client: Client, content: str, topic: str, sender_name: str, reader_name: str
) -> None:
    """Invariant: stored through the API (or refused there), the email built from it has
    exactly the contract's headers, one line each, and HTML with no active content."""
    make_org_once()
    clock = ManualClock(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))

    def work() -> None:
        for user_id, name in ((11, sender_name), (10, reader_name)):
            status, _ = call(client, "PUT", f"users/{user_id}", _name_body(name))
            assume(status == 200)
        message = {
            "id": 5001,
            "realm_id": 1,
            "sender_id": 11,
            "type": "stream",
            "stream_id": 3,
            "topic": topic,
            "content": content,
            "date_sent": "2026-11-28T09:59:00Z",
            "recipients": [{"user_id": 10, "flags": ["mentioned"]}, {"user_id": 11, "flags": []}],
        }
        status, _ = call(client, "POST", "messages", json.dumps(message).encode())
        assume(status == 200)
        notification = {"user_profile_id": 10, "message_id": 5001, "trigger": "mentioned"}
        schedule_events(
            [raw_event_from_body(json.dumps(notification).encode())],
            source=EventSource.API,
            now=clock.now(),
        )
        config = BatcherConfig(
            composition=CompositionOptions(reply_by_email=False), outbox=outbox_config()
        )
        send_due_batches(clock.now() + timedelta(days=8), config)
        transport = MemoryTransport()
        send_once(clock.now() + timedelta(days=8), transport, owner="fuzz", clock=clock)
        assert OutboundEmail.objects.count() == len(transport.sent) <= 1
        event(f"emails sent: {len(transport.sent)}")
        for sent in transport.sent:
            check_email(sent.message_bytes)

    isolated(work)


ACTIVE_TAGS = {"script", "iframe", "object", "embed", "form", "input", "button", "base", "link"}
URL_ATTRIBUTES = {"href", "src", "action", "background", "poster", "formaction"}


class _DocumentAudit(HTMLParser):
    """What a mail client could run or load from the email's HTML: nothing, except
    links and images over http(s)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE_TAGS:
            self.problems.append(f"tag {tag}")
        for name, value in attrs:
            url = "".join((value or "").split()).lower()
            if name.startswith("on"):
                self.problems.append(f"attribute {name}")
            if name in URL_ATTRIBUTES and not url.startswith(("http://", "https://", "mailto:")):
                self.problems.append(f"{name}={url[:40]}")
            if name == "style" and ("expression(" in url or "url(" in url):
                self.problems.append(f"style {url[:40]}")


def assert_inert_document(html: str) -> None:
    audit = _DocumentAudit()
    audit.feed(html)
    audit.close()
    assert audit.problems == []


def _name_body(name: str) -> bytes:
    return json.dumps({"full_name": name}).encode()


def check_email(raw: bytes) -> None:
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    raw.decode("ascii")  # 7-bit clean: every header encoded, every body quoted-printable
    message = message_from_bytes(raw, policy=email_policy.default)
    assert isinstance(message, EmailMessage)
    assert list(message.keys()) == EXPECTED_HEADERS
    for name, value in message.items():
        assert not any(char in str(value) for char in "\r\n"), name
    text_part, html_part = message.iter_parts()
    assert isinstance(html_part, EmailMessage)
    assert_inert_document(html_part.get_content())
    assert isinstance(text_part, EmailMessage)
    assert "\x00" not in text_part.get_content()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "email",
    ["hamlet@example.com\r\nBcc: victim@example.com", "ham\nlet@example.com", "a\x00@b.example"],
)
def test_an_email_address_with_line_breaks_or_controls_is_refused(
    client: Client, email: str
) -> None:
    make_org()

    status, answer = call(client, "PUT", "users/10", json.dumps({"email": email}).encode())

    assert status == 400
    assert answer["msg"].startswith("email")
