"""The plain-text part of one message, from its Markdown source (not from the HTML).

Markdown is meant to be read as it is, so the source is kept line for line, with the
dialect's markup that does not read well turned into words: mentions, stream links,
times, link targets, upload paths. Spoiler bodies are dropped. Code (fenced or indented)
is left exactly as written; markdown-it's block parser says where it is, so a `@**…**`
inside code is not taken for a mention.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from missedmail.composing.content.context import RenderContext
from missedmail.composing.content.dialect import (
    FENCE_QUOTE,
    FENCE_SPOILER,
    MAX_QUOTE_NESTING,
    TOO_DEEP,
    fence_kind,
    mention_name,
    stream_link_label,
)
from missedmail.composing.content.links import absolute_url
from missedmail.composing.content.markdown import HTML_RULES, cached_tokens, is_plain_paragraph
from missedmail.composing.content.spoilers import spoiler_note
from missedmail.composing.content.timefmt import format_time, parse_time_value

# Block structure only: the inline rules would cost time and their result is not used.
# The HTML renderer's parser (markdown.py) has the same block rules (its extensions are
# inline), so when it has parsed the same text lately its top-level tokens are these, and
# are used instead of parsing again.
_BLOCKS = MarkdownIt("commonmark", {"html": False}).enable("table")
_BLOCKS.core.ruler.disable(["inline", "text_join"])
_BLOCKS.disable(list(HTML_RULES), ignoreInvalid=True)

# One pass, leftmost match first, so a construct inside an inline code span or a link is
# not rewritten on its own. Link texts and time values exclude their own opening
# character, so that a line of unclosed `[` or `<time:` is scanned in linear time.
_INLINE = re.compile(
    r"(?P<code>(?P<ticks>`+).+?(?P=ticks))"
    r"|(?P<link>!?\[[^\[\]\n]*\]\((?P<url>(?:[^()\s]|\([^()\s]*\))+)(?:[ \t]+\"[^\"\n]*\")?\))"
    r"|(?<![^\s'\"({\[/<])@_?(?:\*\*(?P<user>[^*\n]+)\*\*|\*(?P<group>[^*\n]+)\*)"
    r"|#\*\*(?P<stream>[^*>\n]+)(?:>(?P<topic>[^*\n]*?)(?:@(?P<message>\d+))?)?\*\*"
    r"|<time:(?P<time>[^<>\n]*)>"
    r"|(?<![^\s(<\[])(?P<upload>/user_uploads/)"
)
# Every match of `_INLINE` contains one of these (each alternative begins with one, but for
# a link's optional `!`, which a `[` follows).
_INLINE_STARTS = re.compile(r"[`\[@#</]")
_TEXT_URL_SCHEMES = ("http://", "https://", "mailto:")


def plain_text(content: str, ctx: RenderContext) -> str:
    if is_plain_paragraph(content):  # nothing to rewrite, nor to parse
        return content
    source = content.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(_plain_lines(source, ctx, 0)).rstrip().lstrip("\n")


def _plain_lines(source: str, ctx: RenderContext, depth: int) -> list[str]:
    lines = source.split("\n")
    out: list[str] = []
    done = 0
    tokens = cached_tokens(source)
    for token in _BLOCKS.parse(source) if tokens is None else tokens:
        if token.type not in ("fence", "code_block") or token.map is None:
            continue
        start, end = token.map
        out.extend(_inline_text(lines[done:start], ctx))
        out.extend(_block_text(token, lines[start:end], ctx, depth))
        done = end
    out.extend(_inline_text(lines[done:], ctx))
    return out


def _block_text(token: Token, lines: list[str], ctx: RenderContext, depth: int) -> list[str]:
    kind, header = fence_kind(token.info)
    if token.type == "code_block":
        return lines
    # What precedes the fence marker on its line (a list's indentation, a `> `) precedes
    # every line written in its place.
    prefix = lines[0][: max(lines[0].find(token.markup), 0)]
    if kind == FENCE_SPOILER:
        kept = _inline_text([header], ctx) if header else []
        return [prefix + line for line in [*kept, spoiler_note()]]
    if kind == FENCE_QUOTE:
        closed = len(lines) > 1 + token.content.count("\n")
        inner = (
            _plain_lines(token.content.removesuffix("\n"), ctx, depth + 1)
            if depth < MAX_QUOTE_NESTING
            else [TOO_DEEP]
        )
        closing = lines[-1:] if closed else []
        return [lines[0], *(prefix + line for line in inner), *closing]
    return lines


def _inline_text(lines: list[str], ctx: RenderContext) -> list[str]:
    if not lines:
        return []
    text = "\n".join(lines)
    if _INLINE_STARTS.search(text) is None:  # nothing to rewrite: skip the slower scan
        return text.split("\n")
    return _INLINE.sub(lambda match: _replacement(match, ctx), text).split("\n")


def _replacement(match: re.Match[str], ctx: RenderContext) -> str:
    if url := match["url"]:
        target = absolute_url(url, ctx.realm_url)
        # Other schemes (javascript:, data:, …) are no link in the HTML part either.
        return target if target.startswith(_TEXT_URL_SCHEMES) else match[0]
    if user := match["user"]:
        name = mention_name(user)
        return f"@{name}" if name.strip() else match[0]
    if group := match["group"]:
        return f"@{group}"
    if stream := match["stream"]:
        message = match["message"]
        return stream_link_label(stream, match["topic"], int(message) if message else None)
    if match["time"] is not None:
        when = parse_time_value(match["time"])
        shown = when and format_time(when, ctx.timezone, ctx.twenty_four_hour_time)
        return shown or match[0]
    if match["upload"]:
        return f"{ctx.realm_url}/user_uploads/"
    return match[0]  # inline code
