"""Property tests on whole emails, headers included: whatever names, topics, realm names
and message content the host sends, the email that goes out carries no script, no event
handler, no `javascript:` link, no remote resource, and no header an input could inject.

The emails are composed in memory (`missedmail.composing.samples`) and frozen into bytes
by the outbox exactly as the batcher does, then parsed back as a mail client would.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from missedmail.composing.entries import NotifiedMessage
from missedmail.composing.languages import EMAIL_LANGUAGES
from missedmail.composing.samples import (
    READER_ID,
    SAMPLE_REALM_URL,
    SampleOrg,
    compose_conversation,
    direct_message,
    sample_org,
    stream_message,
)
from missedmail.core.models import UserMessageFlag
from missedmail.events import Trigger
from missedmail.outbox.drafts import EmailDraft
from missedmail.outbox.mime import build_message
from tests.outbox_helpers import EXPECTED_HEADERS, NOW, outbox_config

HOSTILE = [
    "<script>alert(1)</script>", "</script>", "<img src=x onerror=alert(1)>", "<svg onload=x>",
    "javascript:alert(1)", "JaVaScRiPt:", "&#106;avascript:", "data:text/html,x", " onclick=",
    '"', "'", "`", "<", ">", "&", "=", "\\", "\r", "\n", "\r\n", "\x00", "\x0b", "\x0c", "\x85",
    "\u2028", "\u2029", "\u202e", "\ud800", "=?utf-8?b?PHNjcmlwdD4=?=", "=?", "?=", ":", ";", ",",
    "@", "<x@evil.example>", "Bcc: x@evil.example", "\nBcc: x@evil.example", "Subject: x",
    "[x](javascript:alert(1))", "![x](https://evil.example/p.png)", "<https://evil.example>",
    '<a href="javascript:x">', '<div class="spoiler-block">', "```spoiler ", "```quote", "```",
    "@**", "#**", "**", ">", "<time:", "$$", ":smile:", "😀", "مرحبا", "王", "x" * 80,
    "{{ page }}", "{% if %}", "%(realm)s", "%s", "</style>", "<style>", "expression(", "url(",
]  # fmt: skip
hostile = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=6)), max_size=12).map(
    "".join
)
name = hostile.filter(lambda text: text.strip() != "")


class Audit(HTMLParser):
    """What a mail client would act on: tags, attributes, URLs, style blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.style_blocks = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "iframe", "object", "embed", "form", "input", "svg", "math", "link"}:
            self.problems.append(f"tag {tag}")
        if tag == "style":
            self.style_blocks += 1
        for attribute, value in attrs:
            url = re.sub(r"\s", "", value or "").lower()
            if attribute.startswith("on"):
                self.problems.append(f"attribute {attribute}")
            if attribute == "href" and not url.startswith(("http://", "https://", "mailto:")):
                self.problems.append(f"href {url}")
            if attribute == "src" and not url.startswith(SAMPLE_REALM_URL + "/"):
                self.problems.append(f"src {url}")
            if attribute == "style" and ("url(" in url or "expression" in url):
                self.problems.append(f"style {url}")


def assert_safe_document(document: str) -> None:
    audit = Audit()
    audit.feed(document)
    audit.close()
    assert audit.problems == []
    assert audit.style_blocks == 1  # the template's own dark-mode block, nothing else


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def frozen(draft: EmailDraft) -> EmailMessage:
    raw = build_message(
        draft,
        message_id_header="<0123456789abcdef0123456789abcdef@missedmail.example.org>",
        reply_to="noreply@missedmail.example.org",
        headers_config=outbox_config(),
        now=NOW,
    )
    return parse(raw)


def compose(
    org: SampleOrg, kind: str, topic: str, content: str, rendered: str | None
) -> EmailDraft:
    if kind == "stream":
        message = stream_message(org, 7001, 11, "denmark", topic, content)
        trigger, flags = Trigger.MENTIONED, UserMessageFlag.MENTIONED
    else:
        others = [READER_ID] if kind == "dm" else [READER_ID, 12, 13]
        message = direct_message(org, 7001, 11, others, content)
        trigger, flags = Trigger.DIRECT_MESSAGE, 0
    message.rendered_content = rendered
    return compose_conversation(
        org, [NotifiedMessage(message, trigger, None, flags)], realm_name_in_subject=True
    )


@settings(max_examples=75, deadline=None)
@given(
    sender=name,
    reader=name,
    realm=name,
    stream=name,
    topic=hostile,
    content=hostile,
    rendered=st.none() | hostile,
    kind=st.sampled_from(["stream", "dm", "group"]),
    language=st.sampled_from(EMAIL_LANGUAGES),
    hidden=st.booleans(),
)
def test_no_input_makes_an_email_with_active_content_or_an_injected_header(
    sender: str,
    reader: str,
    realm: str,
    stream: str,
    topic: str,
    content: str,
    rendered: str | None,
    kind: str,
    language: str,
    hidden: bool,
) -> None:
    org = sample_org(language=language, timezone="Europe/Berlin")
    org.realm.name = realm
    org.people[11].full_name = sender
    org.reader.full_name = reader
    org.reader.message_content_in_email_notifications = not hidden
    org.streams["denmark"].name = stream

    draft = compose(org, kind, topic, content, rendered)
    received = frozen(draft)

    assert list(received.keys()) == EXPECTED_HEADERS
    for header, value in received.items():
        assert not {"\r", "\n"} & set(str(value)), header
    assert not {"\r", "\n"} & set(draft.subject)
    assert received["To"].addresses[0].addr_spec == "hamlet@example.com"
    assert received["From"].addresses[0].addr_spec == "noreply@missedmail.example.org"
    parts = list(received.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert_safe_document(str(parts[1].get_content()))


def test_a_realm_url_that_is_not_a_web_url_makes_no_link() -> None:
    """The API refuses such URLs; should one reach the database anyway (the admin), the
    email's own links are left out rather than written with another scheme."""
    org = sample_org()
    org.realm.url = "javascript:alert(1)//"

    draft = compose(org, "stream", "walls", "see [docs](/help)", None)

    assert "javascript:" not in draft.html
    assert_safe_document(draft.html)
