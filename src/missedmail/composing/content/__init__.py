"""One message's content, made safe and email-ready (behaviour §4.7).

STUB: the interface is final; the implementation is being written (chat Markdown dialect,
sanitising, email-safe transformations). Callers may rely on the signatures below.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RenderContext:
    realm_url: str  # e.g. "https://chat.example.com" (no trailing slash)
    timezone: str  # the reader's IANA zone; "" = UTC
    twenty_four_hour_time: bool
    # Lower-cased stream name → id, for `#**stream**` links; see referenced_stream_names.
    stream_ids: Mapping[str, int] = field(default_factory=dict)


def referenced_stream_names(content: str) -> set[str]:
    """Lower-cased names of the streams `content` links to, so the caller can look their
    ids up for a whole batch in one query."""
    return set()


def message_html(content: str, rendered_content: str | None, ctx: RenderContext) -> str:
    """A sanitised, email-safe HTML fragment for one message (block-level elements)."""
    return "".join(f"<p>{html.escape(line)}</p>" for line in content.splitlines() if line)


def message_text(content: str, ctx: RenderContext) -> str:
    """The plain-text rendering of one message's Markdown, without any `> ` quoting."""
    return content


def prepend_sender_html(fragment: str, sender_name: str) -> str:
    """Write `<b>Name</b>: ` at the start of the fragment's first paragraph."""
    bold = f"<b>{html.escape(sender_name)}</b>: "
    if fragment.startswith("<p>"):
        return "<p>" + bold + fragment[3:]
    return f"<p>{bold}</p>{fragment}"
