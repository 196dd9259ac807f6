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

The inliner does not run over every email: its output for the page around the messages is
computed once per shape of page, and for each message fragment once (`composing.inlining`
says how, and why the bytes are the same; tests/unit/composing/test_inlined_html.py
compares them with the whole-page inliner). `whole_page_inlined` is that inliner, still
used for a page with a fragment that cannot be taken apart from it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

import css_inline

from missedmail.composing.content import RenderContext, message_html, prepend_sender_html
from missedmail.composing.inlining import (
    CACHE_CHARACTERS,
    InlinedFragments,
    Skeleton,
    context_free,
    marker,
    skeleton,
)
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
    return inlined_page(page)


def whole_page_inlined(page: HtmlPage) -> str:
    """The page with its CSS inlined by running the inliner over all of it."""
    inlined: str = css_inliner().inline(well_formed(document(page)))
    return inlined


def inlined_page(page: HtmlPage) -> str:
    """`whole_page_inlined(page)`, written from pieces inlined before (see
    `composing.inlining`)."""
    values = page_values(page)
    shape = page_shape(tuple(True if value else value for value in values), bool(page.blocks))
    fragments = inlined_fragments(page.blocks, shape)
    if fragments is None:
        return whole_page_inlined(page)
    return shape.page.written(values, fragments)


# The values `document` writes: every text of the sections (`blocks` become fragments,
# `render` is not written), then the page's own. A value's number is its place here; the
# marker with that number stands for it in a page's skeleton.
SECTION_VALUES = tuple(
    field.name for field in fields(EmailSections) if field.name not in {"blocks", "render"}
)
PAGE_VALUES = ("direction", "link", "settings_url")
# Markers for the messages of a skeleton (the first two in one block, the third in the
# next) and of a probe (from PROBE_MARKS on, one after each fragment probed).
FRAGMENT_MARKS = (1000, 1001, 1002)
PROBE_MARKS = 2000
# What `document` decides on, for each value: written (True), or the false value it has
# (None or ""; `document` tests values for truth, never for one or the other).
_Presence = tuple[Literal[True] | str | None, ...]


def page_values(page: HtmlPage) -> list[str | None]:
    sections = [getattr(page.sections, name) for name in SECTION_VALUES]
    return [*sections, page.direction, page.link, page.settings_url]


@dataclass(frozen=True)
class PageShape:
    page: Skeleton  # the inlined page, cut at its values and its messages (one slot)
    within: str  # between two messages of a block
    between: str  # between the last message of a block and the first of the next


@lru_cache(maxsize=256)
def page_shape(presence: _Presence, has_blocks: bool) -> PageShape:
    """The inliner's output for pages with these values present, computed once: a page
    written with markers for its values (and messages), cut at the markers."""
    first, second, third = FRAGMENT_MARKS
    blocks = ((marker(first), marker(second)), (marker(third),)) if has_blocks else ()
    cut = skeleton(whole_page_inlined(_marked_page(presence, blocks)), fragments=first)
    numbers = [slot.number for slot in cut.slots]
    if not has_blocks:
        return PageShape(cut, "", "")
    # The three messages' slots are consecutive: the pieces between them are the
    # separators, and the three become the one slot the messages are written in.
    at = numbers.index(first)
    if numbers[at : at + 3] != list(FRAGMENT_MARKS):
        raise ValueError(f"the messages of a page are not where they were written: {numbers}")
    pieces = (*cut.pieces[: at + 1], *cut.pieces[at + 3 :])
    slots = (*cut.slots[: at + 1], *cut.slots[at + 3 :])
    return PageShape(Skeleton(pieces, slots), within=cut.pieces[at + 1], between=cut.pieces[at + 2])


_PROBE_SECTIONS = EmailSections(
    language="",
    subject="",
    heading="",
    summary="",
    blocks=(),
    hidden_notice=None,
    reason=None,
    action="",
    link="",
    link_label="",
    replies_not_read=None,
    settings_label="",
    settings_link_label="",
    settings_url="",
    render=RenderContext(realm_url="", timezone="", twenty_four_hour_time=False),
)


def _marked_page(presence: _Presence, blocks: tuple[tuple[str, ...], ...]) -> HtmlPage:
    """A page with a marker for each value present, the false value for the others."""
    values = [
        marker(number) if present is True else present for number, present in enumerate(presence)
    ]
    # Typed as Any: `replace` checks each keyword against its field, and these are the
    # sections' text fields by construction (SECTION_VALUES).
    texts: dict[str, Any] = dict(zip(SECTION_VALUES, values, strict=False))
    direction, link, settings_url = values[len(SECTION_VALUES) :]
    return HtmlPage(replace(_PROBE_SECTIONS, **texts), blocks, direction or "", link, settings_url)


INLINED_FRAGMENTS = InlinedFragments(CACHE_CHARACTERS)


def inlined_fragments(blocks: tuple[tuple[str, ...], ...], shape: PageShape) -> str | None:
    """The page's messages as the whole-page inliner writes them, or None when one of them
    cannot be taken apart from its page (or a block has none)."""
    if not all(blocks):
        return None if blocks else ""
    wanted = [fragment for block in blocks for fragment in block]
    done = INLINED_FRAGMENTS.known(wanted)
    new = list(dict.fromkeys(fragment for fragment in wanted if fragment not in done))
    if new:
        fresh = probed(new)
        INLINED_FRAGMENTS.remember(fresh)
        done.update(fresh)
    inlined_blocks = []
    for block in blocks:
        pieces = [done[fragment] for fragment in block]
        written = [piece for piece in pieces if piece is not None]
        if len(written) < len(pieces):
            return None  # a fragment that cannot be taken apart: the page is inlined whole
        inlined_blocks.append(shape.within.join(written))
    return shape.between.join(inlined_blocks)


def probed(fragments: Sequence[str]) -> dict[str, str | None]:
    """Each fragment inlined inside a page, at a message's place; None for one that cannot
    be taken apart from it. The context-free ones are inlined together, in one page, each
    followed by a marker message that shows where it ends; when that page is not what
    was expected, one by one."""
    done: dict[str, str | None] = dict.fromkeys(fragments)
    free = [fragment for fragment in fragments if context_free(fragment)]
    together = inlined_in_page(free)
    if together is not None:
        done.update(zip(free, together, strict=True))
    else:
        for fragment in free:
            alone = inlined_in_page([fragment])
            done[fragment] = None if alone is None else alone[0]
    return done


def inlined_in_page(fragments: Sequence[str]) -> list[str] | None:
    """The fragments inlined in one page, each its own message in its own block followed
    by a marker message; None unless the output is the probe page's with each fragment's
    own output in its place (the marker after it where it should be, the rest of the page
    unchanged), which a fragment that leaks an open element or formatting into what
    follows does not give."""
    if not fragments:
        return []
    head, within, between, rest = _probe_parts()
    blocks = tuple((fragment, marker(PROBE_MARKS + n)) for n, fragment in enumerate(fragments))
    try:
        inlined = whole_page_inlined(_marked_page(_BARE, blocks))
    except css_inline.InlineError:
        return None
    if not inlined.startswith(head):
        return None
    found = []
    start = len(head)
    for n in range(len(fragments)):
        last = n == len(fragments) - 1
        after = within + marker(PROBE_MARKS + n) + ("" if last else between)
        end = inlined.find(after, start)
        if end < 0:
            return None
        found.append(inlined[start:end])
        start = end + len(after)
    return found if inlined[start:] == rest else None


# The probe page: every value empty (`document` writes what it must, with nothing in it),
# which makes it the cheapest page to inline. The parser reads a context-free fragment
# the same after any page head, and the selectors see the same ancestors.
_BARE: _Presence = tuple("" for _ in (*SECTION_VALUES, *PAGE_VALUES))


@cache
def _probe_parts() -> tuple[str, str, str, str]:
    """The probe page's output before its first message, between two messages of a
    block, between blocks, and after its last message."""
    first, second, third = (marker(number) for number in FRAGMENT_MARKS)
    page = _marked_page(_BARE, ((first, second), (third,)))
    head, _, rest = whole_page_inlined(page).partition(first)
    within, _, rest = rest.partition(second)
    between, _, rest = rest.partition(third)
    return head, within, between, rest


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
