"""Chat Markdown → email-ready HTML (not yet sanitised; see sanitize.py).

The renderer writes the email form directly (emoji as images, spoilers collapsed, math
as TeX, times in the reader's zone, absolute links) rather than writing Zulip's HTML and
transforming it like a host's `rendered_content` (emailsafe.py): it saves parsing the HTML
a second time for every message, and both paths share the helpers that decide the output.

One parser serves every call and every thread: markdown-it keeps no state between
renders (each builds its own state objects) and the reader-specific context travels in
`env`. Parsing depends on nothing of the reader, so a message's tokens are parsed once and
kept (`parsed`): the renderer never changes a token, so every reader's rendering, and the
plain-text part (plaintext.py), read the same token list.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, cast

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from missedmail.composing.content.context import RenderContext
from missedmail.composing.content.dialect import (
    FENCE_QUOTE,
    FENCE_SPOILER,
    FENCES_MATH,
    MAX_QUOTE_NESTING,
    TOO_DEEP,
    MentionKind,
    fence_kind,
    stream_link_label,
    use_chat_dialect,
)
from missedmail.composing.content.emojis import emoji_image_html, text_with_emoji_html
from missedmail.composing.content.fastlinks import QuickLinksMarkdownIt
from missedmail.composing.content.links import absolute_title, absolute_url
from missedmail.composing.content.spoilers import collapsed_spoiler_html
from missedmail.composing.content.tex import tex_html
from missedmail.composing.content.timefmt import format_time, utc_iso
from missedmail.composing.narrow import stream_narrow, topic_narrow

logger = logging.getLogger(__name__)

_BLANK_LINES = re.compile(r"\n[ \t]*\n")
_MENTION_CLASSES = {
    MentionKind.USER: "user-mention",
    MentionKind.STREAM_WILDCARD: "user-mention",
    MentionKind.GROUP: "user-group-mention",
    MentionKind.TOPIC_WILDCARD: "topic-mention",
}


def _context(env: EnvType) -> RenderContext:
    return cast(RenderContext, env["ctx"])


class EmailRenderer(RendererHTML):
    """Methods named after token types render those tokens (markdown-it's convention)."""

    def __init__(self, parser: Any = None) -> None:
        super().__init__(parser)
        self._md = cast(MarkdownIt, parser)

    def chat_mention(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        token = tokens[idx]
        css_class = _MENTION_CLASSES[cast(MentionKind, token.meta["kind"])]
        return f'<span class="{css_class}">@{escapeHtml(token.content)}</span>'

    def chat_stream_link(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        ctx = _context(env)
        meta = tokens[idx].meta
        stream = cast(str, meta["stream"])
        topic = cast("str | None", meta["topic"])
        message_id = cast("int | None", meta["message_id"])
        label = stream_link_label(stream, topic, message_id)
        stream_id = ctx.stream_ids.get(stream.lower())
        # Labels are names, written as they are (a topic's `✔` is not an emoji image).
        if stream_id is None:  # not a stream the reader's realm knows: plain text
            return escapeHtml(label)
        if topic is None:
            css_class, url = "stream", stream_narrow(ctx.realm_url, stream_id, stream)
        else:
            css_class = "stream-topic" if message_id is None else "message-link"
            url = topic_narrow(ctx.realm_url, stream_id, stream, topic, message_id)
        return f'<a class="{css_class}" href="{escapeHtml(url)}">{escapeHtml(label)}</a>'

    def chat_time(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        ctx = _context(env)
        raw = tokens[idx].content
        when = tokens[idx].meta["when"]
        shown = when and format_time(when, ctx.timezone, ctx.twenty_four_hour_time)
        if not shown:
            logger.warning("action=bad_time_value")
            return escapeHtml(f"<time:{raw}>")
        return f'<time datetime="{utc_iso(when)}">{escapeHtml(shown)}</time>'

    def text(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return text_with_emoji_html(tokens[idx].content, _context(env).realm_url)

    def chat_emoji(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        token = tokens[idx]
        return emoji_image_html(_context(env).realm_url, token.meta["code"], token.content)

    def chat_math(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return tex_html(tokens[idx].content)

    def link_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        # The tokens are shared by every reader's rendering (see `parsed`): the absolute
        # link goes on a copy, never on the parsed token.
        token = tokens[idx].copy(attrs=dict(tokens[idx].attrs))
        realm_url = _context(env).realm_url
        href = str(token.attrGet("href") or "")
        token.attrSet("href", absolute_url(href, realm_url))
        if title := token.attrGet("title"):
            token.attrSet("title", absolute_title(str(title), href, realm_url))
        # renderToken may look at the neighbours of the token, so it gets the whole list
        # (an inline token's children: short) with the copy in its place.
        patched = list(tokens)
        patched[idx] = token
        return self.renderToken(patched, idx, options, env)

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        # No inline images in an email (behaviour §4.7): an image becomes a link to it.
        token = tokens[idx]
        url = absolute_url(str(token.attrGet("src") or ""), _context(env).realm_url)
        alt = self.renderInlineAsText(token.children or [], options, env)
        return f'<a href="{escapeHtml(url)}">{escapeHtml(alt or url)}</a>'

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        kind, header = fence_kind(token.info)
        if kind == FENCE_SPOILER:
            return collapsed_spoiler_html(self._md.renderInline(header, env) if header else "")
        if kind in FENCES_MATH:
            blocks = _BLANK_LINES.split(token.content.strip())
            return "".join(f"<p>{tex_html(block)}</p>\n" for block in blocks if block.strip())
        if kind == FENCE_QUOTE:
            depth: int = env["depth"]
            inner = {**env, "depth": depth + 1}
            if depth >= MAX_QUOTE_NESTING:
                body = f"<p>{TOO_DEEP}</p>\n"
            elif "references" in env:
                # The quote's body is parsed seeing (and adding to) the link reference
                # definitions of the Markdown around it: not a parse that can be shared.
                body = self._md.render(token.content, inner)
            else:
                body = _render_parsed(token.content, inner)
            return f"<blockquote>\n{body}</blockquote>\n"
        return super().fence(tokens, idx, options, env)


# markdown-it tries every enabled rule at each place it could apply; these return at once
# when `html` is off, as it is here, so they are not tried at all.
HTML_RULES = ("html_block", "html_inline")


def _build_parser() -> QuickLinksMarkdownIt:
    # Link detection and URL normalisation answered sooner, with the same results: see
    # fastlinks.py.
    md = QuickLinksMarkdownIt(
        "commonmark",
        # html=False: raw HTML in a message is text, escaped, never markup.
        # breaks=True: a single newline is a line break in chat messages.
        {"html": False, "linkify": True, "breaks": True, "typographer": False},
        renderer_cls=EmailRenderer,
    )
    md.enable(["linkify", "strikethrough", "table"])
    md.disable(list(HTML_RULES))
    md.use(use_chat_dialect)
    return md


_PARSER = _build_parser()

# (tokens, what the parse added to a fresh `env`: the link reference definitions)
_Parsed = tuple[list[Token], dict[str, Any]]
_CACHED_PARSES = 1024


class _Parses:
    """The last parses, by source text; thread-safe (the worker's threads share it). A
    message is rendered as HTML and as plain text, and once per reader: one parse serves
    them all. The token lists are shared, so nothing may change them."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._done: OrderedDict[str, _Parsed] = OrderedDict()

    def cached(self, source: str) -> _Parsed | None:
        with self._lock:
            done = self._done.get(source)
            if done is not None:
                self._done.move_to_end(source)
            return done

    def parsed(self, source: str) -> _Parsed:
        done = self.cached(source)
        if done is not None:
            return done
        # A fresh env, as markdown-it's own `render` of a top-level text would start with;
        # the context of the reader plays no part in parsing.
        env: dict[str, Any] = {}
        done = (_PARSER.parse(source, env), env)
        with self._lock:
            self._done[source] = done
            while len(self._done) > self._size:
                self._done.popitem(last=False)
        return done

    def clear(self) -> None:
        with self._lock:
            self._done.clear()


_PARSES = _Parses(_CACHED_PARSES)


def cached_tokens(source: str) -> list[Token] | None:
    """The tokens of `source` if it was parsed lately (by `render_markdown`), else None.
    Read-only: they are shared."""
    done = _PARSES.cached(source)
    return None if done is None else done[0]


def _render_parsed(source: str, env: dict[str, Any]) -> str:
    """`_PARSER.render(source, env)` for an `env` that holds no link reference
    definitions yet, from the shared parse of `source`."""
    tokens, added = _PARSES.parsed(source)
    # The parse's additions to env, copied: a nested quote's parse may add to them.
    env = {**env, **{key: copy.copy(value) for key, value in added.items()}}
    rendered: str = _PARSER.renderer.render(tokens, _PARSER.options, env)
    return rendered


# Many messages are a plain sentence: letters, digits, spaces and punctuation that starts no
# Markdown. Such a line, starting with a letter (so with no block marker: no list number
# either), holds none of markdown-it's inline terminator characters, so its parse is one
# paragraph of one text token; without a link in it (linkify's pretest), that paragraph is
# written here directly. tests/unit/composing/content/test_plain_messages.py checks it
# against the full path.
PLAIN_PUNCTUATION = " ,.?'\"();"
_PLAIN_PARAGRAPH = re.compile(rf"[^\W\d_](?:[^\W_]|[{re.escape(PLAIN_PUNCTUATION)}])*")


def is_plain_paragraph(source: str) -> bool:
    """Whether `source` renders as one paragraph of its own text (see above)."""
    return (
        _PLAIN_PARAGRAPH.fullmatch(source) is not None
        and not source.endswith(" ")  # a paragraph's text is stripped
        and not _PARSER.may_link(source)  # `example.com` is a link
    )


def render_markdown(content: str, ctx: RenderContext) -> str:
    """Email-ready HTML for one message's Markdown; every user-controlled string in it is
    escaped, and it still goes through the sanitiser."""
    if is_plain_paragraph(content):
        return f"<p>{text_with_emoji_html(content, ctx.realm_url)}</p>\n"
    return _render_parsed(content, {"ctx": ctx, "depth": 0})
