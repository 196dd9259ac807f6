"""The text/html part: a small document assembled here, then its CSS inlined (mail
clients drop or ignore `<style>` unevenly). The dark-mode media query cannot be inlined
and stays in `<head>` (`keep_at_rules`), where clients that support it apply it.

The document is written by `document`, not by a template engine: its shape is fixed and
small, and Django's template machinery (variable lookups, autoescaping, context stacks)
cost more per email than the rest of the page (docs/performance.md). The rules a template
would have enforced are kept by hand and tested against the template this replaced
(tests/unit/composing/test_html_document.py): every value is escaped with `escape` except
the message fragments, which come out of the sanitiser; the page's own links are written
only when they are http(s) URLs (a realm URL is the host's input, and `javascript:` must
not become a button).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import css_inline

from missedmail.composing.content import message_html, prepend_sender_html
from missedmail.composing.languages import text_direction
from missedmail.composing.sections import EmailSections, MessageBlock
from missedmail.composing.wellformed import well_formed

# The page's stylesheet, shipped beside this module; read once.
STYLESHEET = (Path(__file__).resolve().parent / "email.css").read_text(encoding="utf-8")


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
    """`url` when it is an http(s) URL, None otherwise (the page then writes the text
    without a link). `escape` takes care of quotes and angle brackets in it."""
    return url if url.lower().startswith(("https://", "http://")) else None


def escape(value: str) -> str:
    """Text as HTML, safe in element content and in double-quoted attributes: `&`, `<`,
    `>`, `"` and `'` become references (what Django's autoescaping did)."""
    return html.escape(value, quote=True)


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
    inlined: str = css_inliner().inline(well_formed(document(page)))
    return inlined


def document(page: HtmlPage) -> str:
    """The page before its CSS is inlined."""
    sections = page.sections
    parts = [
        "<!DOCTYPE html>\n",
        f'<html lang="{escape(sections.language)}" dir="{escape(page.direction)}">\n',
        "<head>\n",
        '<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta name="color-scheme" content="light dark">\n',
        '<meta name="supported-color-schemes" content="light dark">\n',
        f"<title>{escape(sections.subject)}</title>\n",
        f"<style>\n{STYLESHEET}</style>\n",
        "</head>\n",
        "<body>\n",
        '<div class="mm-wrapper">\n',
        '<div class="mm-card">\n',
        f'<h1 class="mm-heading">{_linked(page.link, sections.heading)}</h1>\n',
        f'<p class="mm-summary">{escape(sections.summary)}</p>\n',
    ]
    if sections.hidden_notice:
        parts.append(f'\n<p class="mm-notice">{escape(sections.hidden_notice)}</p>\n')
    parts.append("\n")
    for block in page.blocks:
        parts.append('\n<div class="mm-block">\n')
        # Fragments are sanitised HTML (the content package's output): written as they are.
        parts.extend(f'<div class="mm-message" dir="auto">{fragment}</div>\n' for fragment in block)
        parts.append("</div>\n")
    parts.append('\n<div class="mm-footer">\n')
    if sections.reason:
        parts.append(f'<p class="mm-reason">{escape(sections.reason)}</p>')
    parts.append(f'\n<p class="mm-action">{escape(sections.action)}</p>\n')
    if page.link:
        label = escape(sections.link_label)
        parts.append(f'<p><a class="mm-button" href="{escape(page.link)}">{label}</a></p>')
    parts.append("\n")
    if sections.replies_not_read:
        parts.append(f'<p class="mm-note">{escape(sections.replies_not_read)}</p>')
    parts.append("\n")
    if page.settings_url:
        label = escape(sections.settings_link_label)
        parts.append(
            f'<p class="mm-settings"><a href="{escape(page.settings_url)}">{label}</a></p>'
        )
    parts.append("\n</div>\n</div>\n</div>\n</body>\n</html>\n")
    return "".join(parts)


def _linked(url: str | None, text: str) -> str:
    if url:
        return f'<a href="{escape(url)}">{escape(text)}</a>'
    return escape(text)
