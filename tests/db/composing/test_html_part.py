"""The text/html part: the same information as the text part, in a small document with
inlined CSS that also reads well in dark mode."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.db.composing.batches import entry, only_email
from tests.factories import Org, direct_message, make_user, stream_message

pytestmark = pytest.mark.django_db


class Outline(HTMLParser):
    """Tags with their attributes, and the document's text, for structural assertions."""

    def __init__(self, document: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.style_blocks: list[str] = []
        self._in_style = False
        self.feed(document)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style_blocks.append(data)
        elif data.strip():
            self.text.append(data.strip())

    def links(self) -> list[str]:
        return [attrs["href"] or "" for tag, attrs in self.tags if tag == "a" and "href" in attrs]


def denmark_email(org: Org) -> str:
    readers = [org.hamlet, org.othello, org.iago]
    messages = [
        stream_message(org.othello, org.denmark, "test", "first words", readers),
        stream_message(org.othello, org.denmark, "test", "second words", readers),
        stream_message(org.iago, org.denmark, "test", "third words", readers),
    ]
    return only_email(org.hamlet, *(entry(m, "stream_email_notify") for m in messages)).html


def test_the_document_declares_its_language_and_both_colour_schemes(org: Org) -> None:
    html = denmark_email(org)
    outline = Outline(html)

    assert html.startswith("<!DOCTYPE html>")
    assert ("html", {"lang": "en", "dir": "ltr"}) in outline.tags
    assert ("meta", {"name": "color-scheme", "content": "light dark"}) in outline.tags
    # Only the dark-mode media query stays in <head>; everything else is inlined.
    assert len(outline.style_blocks) == 1
    assert "@media (prefers-color-scheme: dark)" in outline.style_blocks[0]
    body_tags = outline.tags[[tag for tag, _ in outline.tags].index("body") :]
    assert all("style" in attrs for tag, attrs in body_tags if tag in {"body", "p", "div"})


def test_the_html_part_shows_the_conversation_senders_content_reason_and_links(
    org: Org,
) -> None:
    outline = Outline(denmark_email(org))

    text = outline.text
    assert text[0] == "#Denmark > test"
    assert text.index("Othello, the Moor of Venice") < text.index("Iago")
    for words in ("first words", "second words", "third words"):
        assert any(words in chunk for chunk in text)
    assert (
        "You are receiving this because you have email notifications enabled for #Denmark." in text
    )
    topic_link = outline.links()[0]
    assert topic_link.startswith("https://chat.example.com/#narrow/channel/3-Denmark/topic/test/")
    assert outline.links().count(topic_link) == 2  # the heading and the button
    assert "https://chat.example.com/#settings/notifications" in outline.links()


def test_senders_are_bold_once_per_block(org: Org) -> None:
    html = denmark_email(org)

    assert re.findall(r"<b dir=\"auto\">(.*?)</b>", html) == ["Othello, the Moor of Venice", "Iago"]


def test_names_are_escaped_in_the_html_part(org: Org) -> None:
    mallory = make_user(org.realm, 20, "<script>alert(1)</script> & co")
    message = direct_message(mallory, [org.hamlet, org.othello], "hi")

    email = only_email(org.hamlet, entry(message, "direct_message"))

    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in email.html


def test_the_hidden_content_html_part_explains_itself_and_shows_no_content(org: Org) -> None:
    org.realm.message_content_allowed_in_email_notifications = False
    org.realm.save()
    message = stream_message(org.othello, org.denmark, "hush", "private words", [org.hamlet])

    email = only_email(org.hamlet, entry(message, "stream_email_notify"))

    outline = Outline(email.html)
    assert outline.text[0] == "New messages"
    assert any("your organization has disabled message content" in t for t in outline.text)
    for secret in ("hush", "private words", "Othello"):
        assert secret not in email.html
