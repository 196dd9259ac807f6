"""The text/html part: a small document rendered from one template, then its CSS inlined
(mail clients drop or ignore `<style>` unevenly). The dark-mode media query cannot be
inlined and stays in `<head>` (`keep_at_rules`), where clients that support it apply it.

The template engine is our own, not the project's TEMPLATES setting: autoescaping is on
whatever the web app configures, and only our templates directory is searched. Message
fragments are the only values marked safe, and they come out of the sanitiser; every
other value is escaped, and the template's own links are written only when they are
http(s) URLs (a realm URL is the host's input, and `javascript:` must not become a
button).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import css_inline
from django.template import Context, Engine

from missedmail.composing.content import message_html, prepend_sender_html
from missedmail.composing.languages import text_direction
from missedmail.composing.sections import EmailSections, MessageBlock
from missedmail.composing.wellformed import well_formed

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "missedmail/missed_message.html"


@dataclass(frozen=True)
class HtmlPage:
    sections: EmailSections
    # Per block, its messages as sanitised fragments (from the content package); the
    # first one starts with the bold sender name when the email names senders.
    blocks: tuple[tuple[str, ...], ...]
    direction: str  # "ltr" or "rtl", from the language
    link: str | None  # the conversation, when it is a web URL
    settings_url: str | None


def web_url(url: str) -> str | None:
    """`url` when it is an http(s) URL, None otherwise (the template then writes the text
    without a link). Autoescaping takes care of quotes and angle brackets in it."""
    return url if url.lower().startswith(("https://", "http://")) else None


@cache
def template_engine() -> Engine:
    return Engine(dirs=[str(TEMPLATES_DIR)], autoescape=True)


@cache
def css_inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)


def block_fragments(block: MessageBlock, sections: EmailSections) -> tuple[str, ...]:
    fragments = [
        message_html(message.content, message.rendered_content, sections.render)
        for message in block.messages
    ]
    if block.sender_name is not None and fragments:
        fragments[0] = prepend_sender_html(fragments[0], block.sender_name)
    return tuple(fragments)


def html_body(sections: EmailSections) -> str:
    page = HtmlPage(
        sections=sections,
        blocks=tuple(block_fragments(block, sections) for block in sections.blocks),
        direction=text_direction(sections.language),
        link=web_url(sections.link),
        settings_url=web_url(sections.settings_url),
    )
    document = template_engine().get_template(TEMPLATE_NAME).render(Context({"page": page}))
    inlined: str = css_inliner().inline(well_formed(document))
    return inlined
