"""One message's content, made safe and email-ready (behaviour §4.7).

`message_html` renders the chat Markdown (or takes the host's `rendered_content`), applies
the email transformations (absolute links, no image previews, emoji as images, collapsed
spoilers, math as TeX, times for the reader) and sanitises the result with an allow-list,
always last. `message_text` is the plain-text counterpart, from the Markdown source.
docs/content-rendering.md describes the whole mapping.
"""

from __future__ import annotations

import html
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache

from django.utils import translation

from missedmail.composing.content.context import (
    READS_LANGUAGE,
    READS_TIME,
    RenderContext,
    recording_reader_reads,
)
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
    return _HTML.rendering(("html", content, rendered), ctx, lambda c: _html(content, rendered, c))


def message_text(content: str, ctx: RenderContext) -> str:
    """The plain-text rendering of one message's Markdown, without any `> ` quoting."""
    content = well_formed(content)
    return _TEXT.rendering(("text", content, None), ctx, lambda c: plain_text(content, c))


def prepend_sender_html(fragment: str, sender_name: str) -> str:
    """Write `<b>Name</b>: ` at the start of the fragment's first paragraph.

    `dir="auto"` isolates the name from the text around it (HTML gives an element with a
    `dir` attribute `unicode-bidi: isolate`), so a name in a right-to-left script, or one
    ending in punctuation, does not reorder the colon and the message after it."""
    bold = f'<b dir="auto">{html.escape(sender_name)}</b>: '
    if fragment.startswith("<p>"):
        return "<p>" + bold + fragment[3:]
    return f"<p>{bold}</p>{fragment}"


# A message mentioned to a whole stream is rendered once per reader, yet most renderings
# depend on nothing of the reader but the realm and the ids of the streams the content
# links to: only a `<time>` reads the timezone, clock and language, and only a spoiler the
# language (each says so, see `content.context.reads_reader`). So a rendering is cached
# under the content, the realm and those stream ids, plus whatever of the reader it read;
# what it read is remembered per content, so the next reader's key is known before
# rendering. A consequence: a bad `<time>` value is logged once per distinct rendering
# rather than once per reader.
#
# The cache is bounded by the characters it holds, not by a count of entries: a stream
# message's readers fall due over minutes to hours (each reader's own batching period), so
# the cache pays when it holds every message a busy organisation wrote in that time, and a
# count cannot say what that costs (a message is 1 to 10,000 characters). 24 Mi characters
# per part, each entry charged its content, its rendering and `ENTRY_OVERHEAD` for the
# objects around them: about 50 MB per worker process at most, both parts together.
CACHE_CHARACTERS = 24 * 1024 * 1024
ENTRY_OVERHEAD = 400  # characters' worth of keys, tuples and dictionary slots per entry
_Content = tuple[str, str, str | None]  # (part, content, host's rendered_content)
_StreamIds = tuple[tuple[str, int | None], ...]
_ContentKey = tuple[_Content, str, _StreamIds]  # + realm URL, linked streams' ids
_ReaderPart = tuple[str | None, bool | None, str | None]  # timezone, 24-hour, language


def _content_key(content: _Content, ctx: RenderContext) -> _ContentKey:
    streams = tuple((name, ctx.stream_ids.get(name)) for name in _linked_streams(content[1]))
    # Links are built as realm_url + "/…": a trailing slash would double it.
    return content, ctx.realm_url.rstrip("/"), streams


@lru_cache(maxsize=4096)
def _linked_streams(content: str) -> tuple[str, ...]:
    """The sorted stream names `content` links to. Remembered: every lookup in the cache
    needs them, and a stream message is looked up once per reader."""
    return tuple(sorted(_stream_names(content)))


def _reader_part(reads: frozenset[str], ctx: RenderContext) -> _ReaderPart:
    time = READS_TIME in reads
    return (
        ctx.timezone if time else None,
        ctx.twenty_four_hour_time if time else None,
        ctx.language if time or READS_LANGUAGE in reads else None,
    )


def _content_size(key: _ContentKey) -> int:
    _part, content, rendered = key[0]
    return len(content) + len(rendered or "") + ENTRY_OVERHEAD


class _Renderings:
    """Least recently used renderings, keyed by what they depend on, holding at most
    `characters` (see CACHE_CHARACTERS); thread-safe (the worker's threads share it)."""

    def __init__(self, characters: int) -> None:
        self._budget = characters
        self._lock = threading.Lock()
        self._reads: OrderedDict[_ContentKey, frozenset[str]] = OrderedDict()
        self._done: OrderedDict[tuple[_ContentKey, _ReaderPart], str] = OrderedDict()
        self._held = 0  # characters charged for the entries of both dictionaries

    def rendering(
        self, content: _Content, ctx: RenderContext, render: Callable[[RenderContext], str]
    ) -> str:
        key = _content_key(content, ctx)
        with self._lock:
            reads = self._reads.get(key)
            if reads is not None:
                self._reads.move_to_end(key)
                done = self._done.get((key, _reader_part(reads, ctx)))
                if done is not None:
                    self._done.move_to_end((key, _reader_part(reads, ctx)))
                    return done
        # Rendered with nothing of the reader but what the key holds: the realm URL without
        # its trailing slash, and the linked streams only.
        realm_url, streams = key[1], key[2]
        stream_ids = {name: stream_id for name, stream_id in streams if stream_id is not None}
        keyed = RenderContext(
            realm_url, ctx.timezone, ctx.twenty_four_hour_time, stream_ids, ctx.language
        )
        # The renderers translate through Django's active language: the reader's, here.
        with recording_reader_reads() as recorded, _reader_language(ctx.language):
            done = render(keyed)
        reads = frozenset(recorded)
        with self._lock:
            self._remember(key, reads, done, ctx)
        return done

    def _remember(
        self, key: _ContentKey, reads: frozenset[str], done: str, ctx: RenderContext
    ) -> None:
        if key not in self._reads:
            self._held += _content_size(key)
        self._reads[key] = reads
        self._reads.move_to_end(key)
        entry = (key, _reader_part(reads, ctx))
        if entry not in self._done:
            self._held += len(done) + ENTRY_OVERHEAD
        self._done[entry] = done
        self._done.move_to_end(entry)
        # Least recently used first, from whichever dictionary holds more entries: a
        # content usually has one rendering, so the two shrink together, and an entry of
        # either is never kept for long once nothing refers to it.
        while self._held > self._budget and (self._done or self._reads):
            if len(self._done) >= len(self._reads):
                _entry, evicted = self._done.popitem(last=False)
                self._held -= len(evicted) + ENTRY_OVERHEAD
            else:
                old_key, _reads = self._reads.popitem(last=False)
                self._held -= _content_size(old_key)

    def held(self) -> int:
        """Characters charged for what the cache holds (for tests and diagnostics)."""
        with self._lock:
            return self._held

    def clear(self) -> None:
        with self._lock:
            self._reads.clear()
            self._done.clear()
            self._held = 0


def _reader_language(language: str) -> AbstractContextManager[object]:
    """`translation.override(language)`, or nothing when that is the active language
    already, as it is while composing an email (`compose_email` runs under the reader's
    language): switching costs more than some renderings do."""
    if translation.get_language() == language:
        return nullcontext()
    return translation.override(language)


_HTML = _Renderings(CACHE_CHARACTERS)
_TEXT = _Renderings(CACHE_CHARACTERS)


def _html(content: str, rendered_content: str | None, ctx: RenderContext) -> str:
    if rendered_content is None:
        unsafe = render_markdown(content, ctx)
    else:
        unsafe = email_safe_html(rendered_content, ctx)
    return sanitize_html(unsafe, ctx.realm_url)
