"""One message's content, made safe and email-ready (behaviour §4.7).

`message_html` renders the chat Markdown (or takes the host's `rendered_content`), applies
the email transformations (absolute links, no image previews, emoji as images, collapsed
spoilers, math as TeX, times for the reader) and sanitises the result with an allow-list,
always last. `message_text` is the plain-text counterpart, from the Markdown source.
docs/content-rendering.md describes the whole mapping.
"""

from __future__ import annotations

import functools
import html

from django.utils import translation

from missedmail.composing.content.context import RenderContext
from missedmail.composing.content.dialect import referenced_stream_names as _stream_names
from missedmail.composing.content.emailsafe import email_safe_html
from missedmail.composing.content.markdown import render_markdown
from missedmail.composing.content.plaintext import plain_text
from missedmail.composing.content.sanitize import sanitize_html
from missedmail.composing.wellformed import well_formed

__all__ = [
    "RenderContext",
    "message_html",
    "message_text",
    "prepend_sender_html",
    "referenced_stream_names",
]


def referenced_stream_names(content: str) -> set[str]:
    """Lower-cased names of the streams `content` links to, so the caller can look their
    ids up for a whole batch in one query."""
    return _stream_names(content)


def message_html(content: str, rendered_content: str | None, ctx: RenderContext) -> str:
    """A sanitised, email-safe HTML fragment for one message (block-level elements)."""
    content = well_formed(content)
    rendered = None if rendered_content is None else well_formed(rendered_content)
    return _cached_html(content, rendered, *_reader_key(content, ctx))


def message_text(content: str, ctx: RenderContext) -> str:
    """The plain-text rendering of one message's Markdown, without any `> ` quoting."""
    content = well_formed(content)
    return _cached_text(content, *_reader_key(content, ctx))


def prepend_sender_html(fragment: str, sender_name: str) -> str:
    """Write `<b>Name</b>: ` at the start of the fragment's first paragraph.

    `dir="auto"` isolates the name from the text around it (HTML gives an element with a
    `dir` attribute `unicode-bidi: isolate`), so a name in a right-to-left script, or one
    ending in punctuation, does not reorder the colon and the message after it."""
    bold = f'<b dir="auto">{html.escape(sender_name)}</b>: '
    if fragment.startswith("<p>"):
        return "<p>" + bold + fragment[3:]
    return f"<p>{bold}</p>{fragment}"


# A message mentioned to a whole stream is rendered once per reader, and readers differ
# only in timezone, clock preference and language. The rendering depends on nothing but the
# content and these keys (the stream ids reduced to those the content links to), so it is
# computed once per distinct key. A consequence: a bad `<time>` value is logged once per
# distinct rendering rather than once per reader.
_CACHED_RENDERINGS = 1024
_StreamIds = tuple[tuple[str, int | None], ...]
_ReaderKey = tuple[str, str, bool, _StreamIds, str]


def _reader_key(content: str, ctx: RenderContext) -> _ReaderKey:
    streams = tuple((name, ctx.stream_ids.get(name)) for name in sorted(_stream_names(content)))
    # Links are built as realm_url + "/…": a trailing slash would double it.
    realm_url = ctx.realm_url.rstrip("/")
    return realm_url, ctx.timezone, ctx.twenty_four_hour_time, streams, ctx.language


def _context(
    realm_url: str, timezone: str, twenty_four_hour_time: bool, streams: _StreamIds, language: str
) -> RenderContext:
    stream_ids = {name: stream_id for name, stream_id in streams if stream_id is not None}
    return RenderContext(realm_url, timezone, twenty_four_hour_time, stream_ids, language)


# The renderers translate through Django's active language; it is set here from the key,
# so that a cached rendering is always the one of its own language.
@functools.lru_cache(maxsize=_CACHED_RENDERINGS)
def _cached_html(
    content: str,
    rendered_content: str | None,
    realm_url: str,
    timezone: str,
    twenty_four_hour_time: bool,
    streams: _StreamIds,
    language: str,
) -> str:
    ctx = _context(realm_url, timezone, twenty_four_hour_time, streams, language)
    with translation.override(language):
        if rendered_content is None:
            unsafe = render_markdown(content, ctx)
        else:
            unsafe = email_safe_html(rendered_content, ctx)
    return sanitize_html(unsafe, ctx.realm_url)


@functools.lru_cache(maxsize=_CACHED_RENDERINGS)
def _cached_text(
    content: str,
    realm_url: str,
    timezone: str,
    twenty_four_hour_time: bool,
    streams: _StreamIds,
    language: str,
) -> str:
    ctx = _context(realm_url, timezone, twenty_four_hour_time, streams, language)
    with translation.override(language):
        return plain_text(content, ctx)
