"""Spoilers in an email: the header stays, the hidden part is not sent (a mail client
cannot hide it, and a notification must not spoil what the sender chose to hide)."""

from __future__ import annotations

import html

from django.utils.translation import gettext

from missedmail.composing.content.context import READS_LANGUAGE, reads_reader


def spoiler_note() -> str:
    """The note that replaces a spoiler's body, in the active language."""
    reads_reader(READS_LANGUAGE)
    return gettext("(Open the conversation to see the spoiler content)")


def spoiler_note_html() -> str:
    return f'<span class="spoiler-title">{html.escape(spoiler_note(), quote=False)}</span>'


def collapsed_spoiler_html(header_html: str) -> str:
    """The email form of a spoiler block; `header_html` is the header's inline HTML,
    already escaped (may be empty)."""
    lead = f"{header_html} " if header_html.strip() else ""
    return f'<div class="spoiler-block"><p>{lead}{spoiler_note_html()}</p></div>\n'
