"""Emails end to end: scheduled notifications → batcher → outbox → SMTP → a real server,
then the received bytes parsed as a mail client would (contract §5, behaviour §4.9)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.headerregistry import Address

import pytest

from missedmail.clock import ManualClock
from missedmail.outbox.models import EmailStatus, OutboundEmail, ReplyAddress
from missedmail.outbox.sender import send_once
from missedmail.outbox.transports import SmtpTransport
from missedmail.outbox.unsubscribe import user_id_from_token
from tests.factories import Org, direct_message, make_user, stream_message
from tests.integration.email.support import (
    GATEWAY_PATTERN,
    MailServer,
    html_part,
    schedule,
    send_due,
    text_part,
)
from tests.outbox_helpers import EXPECTED_HEADERS

pytestmark = pytest.mark.django_db


def test_a_mention_arrives_as_multipart_alternative_with_every_contract_header(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    org.hamlet.timezone = "Europe/Berlin"
    org.hamlet.save()
    readers = [org.hamlet, org.othello]
    message = stream_message(
        org.othello,
        org.denmark,
        "release plan",
        "@**King Hamlet** please look at :eyes: <time:2026-11-28T15:00:00Z>",
        readers,
        flags={10: ["mentioned"]},
    )
    schedule(clock, org.hamlet, message, "mentioned")

    report = send_due(clock, transport)

    assert report.count(EmailStatus.SENT) == 1
    [delivery] = mail_server.accepted
    assert delivery.mail_from == "noreply@missedmail.example.org"
    assert delivery.rcpt_tos == ["hamlet@example.com"]
    received = delivery.parsed()
    assert list(received.keys()) == EXPECTED_HEADERS
    assert received["From"] == "missedmail notifications <noreply@missedmail.example.org>"
    assert received["To"] == "King Hamlet <hamlet@example.com>"
    assert received["Subject"] == "#Denmark > release plan"
    assert received["Reply-To"] == "noreply@missedmail.example.org"
    assert re.fullmatch(r"<[0-9a-f]{32}@missedmail\.example\.org>", received["Message-ID"])
    root = "<3.cmVsZWFzZSBwbGFu@chat.example.com>"  # base64("release plan")
    assert (received["In-Reply-To"], received["References"]) == (root, root)
    assert received["List-Id"] == "Zulip Dev <chat.example.com>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (received["Auto-Submitted"], received["X-Auto-Response-Suppress"]) == (
        "auto-generated",
        "All",
    )
    # Sent at 10:02 UTC: the recipient's zone, Berlin, is one hour ahead in November.
    assert received["Date"] == "Sat, 28 Nov 2026 11:02:00 +0100"
    assert received["Date"].datetime == datetime(2026, 11, 28, 10, 2, tzinfo=UTC)

    assert received.get_content_type() == "multipart/alternative"
    parts = list(received.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert [part.get_content_charset() for part in parts] == ["utf-8", "utf-8"]
    assert [part["Content-Language"] for part in parts] == ["en", "en"]
    text = text_part(received)
    assert text.startswith(
        "Othello, the Moor of Venice:\n"
        "> @King Hamlet please look at :eyes: Sat, Nov 28, 2026, 4:00 PM CET\n"
    )
    assert "You are receiving this because you were personally mentioned." in text
    html = html_part(received)
    assert '<html lang="en" dir="ltr">' in html
    assert 'alt=":eyes:"' in html
    assert ">Sat, Nov 28, 2026, 4:00 PM CET</time>" in html


def test_the_unsubscribe_header_is_an_https_one_click_link_for_the_recipient(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    message = direct_message(org.othello, [org.iago], "hello")
    schedule(clock, org.iago, message, "direct_message")

    send_due(clock, transport)

    header = mail_server.accepted[0].parsed()["List-Unsubscribe"]
    match = re.fullmatch(r"<https://mm\.example\.org/unsubscribe/([^>\s]+)>", header)
    assert match is not None
    assert user_id_from_token(match[1]) == org.iago.id


def test_successive_emails_about_one_topic_thread_with_distinct_message_ids(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    readers = [org.hamlet, org.othello]
    for topic in ("Release Plan", "release plan"):  # topics group case-insensitively
        message = stream_message(org.othello, org.denmark, topic, "news", readers)
        schedule(clock, org.hamlet, message, "stream_email_notify")
        send_due(clock, transport)

    first, second = (delivery.parsed() for delivery in mail_server.accepted)
    assert first["Message-ID"] != second["Message-ID"]
    assert first["In-Reply-To"] == second["In-Reply-To"] == "<3.cmVsZWFzZSBwbGFu@chat.example.com>"
    assert first["References"] == second["References"] == first["In-Reply-To"]


def test_dm_and_group_dm_emails_thread_on_their_conversation(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    dm = direct_message(org.othello, [org.hamlet], "one to one")
    group = direct_message(org.iago, [org.hamlet, org.cordelia], "to three")
    schedule(clock, org.hamlet, dm, "direct_message")
    schedule(clock, org.hamlet, group, "direct_message")

    send_due(clock, transport)

    roots = [delivery.parsed()["In-Reply-To"] for delivery in mail_server.accepted]
    assert roots == [
        f"<{dm.conversation_id}.{org.othello.id}@chat.example.com>",
        f"<{group.conversation_id}@chat.example.com>",
    ]


def test_a_retried_email_is_the_same_message_with_the_same_message_id_and_date(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    mail_server.data_replies.append("451 4.3.0 try again later")
    message = direct_message(org.othello, [org.hamlet], "persistent")
    schedule(clock, org.hamlet, message, "direct_message")

    first = send_due(clock, transport)
    assert first.count(EmailStatus.RETRYING) == 1
    email = OutboundEmail.objects.get()
    clock.set(email.next_attempt_at)
    second = send_once(clock.now(), transport, owner="e2e", clock=clock)

    assert second.count(EmailStatus.SENT) == 1
    refused, accepted = mail_server.offered
    assert refused.raw == accepted.raw  # byte for byte: same Message-ID, same Date
    assert accepted.parsed()["Message-ID"] == email.message_id_header


def test_with_a_gateway_reply_to_is_a_fresh_reply_address_that_the_lookup_resolves(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    readers = [org.hamlet, org.othello]
    first = stream_message(org.othello, org.denmark, "walls", "one", readers)
    second = stream_message(org.othello, org.verona, "gates", "two", readers)
    schedule(clock, org.hamlet, first, "stream_email_notify")
    schedule(clock, org.hamlet, second, "stream_email_notify")

    send_due(clock, transport, gateway=True)

    reply_tos = [delivery.parsed()["Reply-To"] for delivery in mail_server.accepted]
    domain = GATEWAY_PATTERN.removeprefix("%s@")
    tokens = [re.fullmatch(rf"(mm[0-9a-f]{{32}})@{re.escape(domain)}", r) for r in reply_tos]
    assert all(tokens), reply_tos
    assert tokens[0][1] != tokens[1][1]  # type: ignore[index] -- checked just above
    bound = {a.token: (a.user_id, a.message_id) for a in ReplyAddress.objects.all()}
    assert bound == {
        tokens[0][1]: (org.hamlet.id, first.id),  # type: ignore[index] -- as above
        tokens[1][1]: (org.hamlet.id, second.id),  # type: ignore[index] -- as above
    }
    text = text_part(mail_server.accepted[0].parsed())
    assert "Reply to this email directly, or view it in Zulip Dev:" in text
    assert "Replies to this email are not read." not in text


def test_with_content_hidden_reply_to_is_noreply_even_with_a_gateway(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    org.hamlet.message_content_in_email_notifications = False
    org.hamlet.save()
    message = direct_message(org.othello, [org.hamlet], "secret words")
    schedule(clock, org.hamlet, message, "direct_message")

    send_due(clock, transport, gateway=True)

    received = mail_server.accepted[0].parsed()
    assert received["Reply-To"] == "noreply@missedmail.example.org"
    assert received["Subject"] == "New messages"
    assert ReplyAddress.objects.count() == 0
    for part in (text_part(received), html_part(received)):
        assert "secret words" not in part
        assert "Othello" not in part


@pytest.mark.parametrize(
    ("sender_name", "topic"),
    [
        ("مريم العربية", "خطة الإصدار"),  # Arabic, right to left
        ("王小明", "发布计划 🚀"),  # Chinese, with an emoji
        ("Ёлка Пушкина", "Релиз"),  # Cyrillic
        ("Zoë \u202eevil\u202c", "tab\there\u2028line"),  # bidi overrides, separators
    ],
)
def test_names_and_topics_in_any_script_arrive_intact_in_headers_and_parts(
    org: Org,
    clock: ManualClock,
    transport: SmtpTransport,
    mail_server: MailServer,
    sender_name: str,
    topic: str,
) -> None:
    sender = make_user(org.realm, 30, sender_name, "writer@example.com")
    org.hamlet.full_name = sender_name + " (reader)"
    org.hamlet.save()
    message = stream_message(sender, org.denmark, topic, "hello", [org.hamlet, sender])
    schedule(clock, org.hamlet, message, "stream_email_notify")

    send_due(clock, transport)

    received = mail_server.accepted[0].parsed()
    shown_topic = topic.replace("\t", " ").replace("\u2028", " ")
    assert received["Subject"] == f"#Denmark > {shown_topic}"
    assert "\n" not in received["Subject"]
    to = received["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == (sender_name + " (reader)", "hamlet@example.com")
    assert text_part(received).startswith(f"{sender_name}:\n> hello\n")
    assert f'<b dir="auto">{sender_name}</b>' in html_part(received)


def test_an_email_is_written_in_the_users_language(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    org.hamlet.default_language = "de"
    org.hamlet.save()
    message = direct_message(org.othello, [org.hamlet], "Hallo")
    schedule(clock, org.hamlet, message, "direct_message")

    send_due(clock, transport)

    received = mail_server.accepted[0].parsed()
    assert received["Subject"] == "Direktnachrichten mit Othello, the Moor of Venice"
    assert [part["Content-Language"] for part in received.iter_parts()] == ["de", "de"]
    assert '<html lang="de" dir="ltr">' in html_part(received)
    assert "In Zulip Dev antworten:" in text_part(received)


def test_an_address_with_an_internationalised_domain_is_sent_in_idna(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    org.hamlet.email = "hamlet@bücher.example"
    org.hamlet.save()
    message = direct_message(org.othello, [org.hamlet], "hi")
    schedule(clock, org.hamlet, message, "direct_message")

    send_due(clock, transport)

    [delivery] = mail_server.accepted
    assert delivery.rcpt_tos == ["hamlet@xn--bcher-kva.example"]
    to: Address = delivery.parsed()["To"].addresses[0]
    assert to.domain == "xn--bcher-kva.example"
