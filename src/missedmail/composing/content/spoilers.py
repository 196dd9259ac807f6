"""Spoilers in an email: the header stays, the hidden part is not sent (a mail client
cannot hide it, and a notification must not spoil what the sender chose to hide)."""

from __future__ import annotations

SPOILER_NOTE = "(Open the conversation to see the spoiler content)"
SPOILER_NOTE_HTML = f'<span class="spoiler-title">{SPOILER_NOTE}</span>'


def collapsed_spoiler_html(header_html: str) -> str:
    """The email form of a spoiler block; `header_html` is the header's inline HTML,
    already escaped (may be empty)."""
    lead = f"{header_html} " if header_html.strip() else ""
    return f'<div class="spoiler-block"><p>{lead}{SPOILER_NOTE_HTML}</p></div>\n'
