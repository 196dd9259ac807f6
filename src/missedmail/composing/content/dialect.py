"""The chat dialect's inline syntax on top of CommonMark, as markdown-it rules.

Each rule turns its syntax into one token of its own type (`chat_*`) that the email
renderer (markdown.py) writes out; nothing here depends on the reader. The fenced blocks
of the dialect (spoiler, math, quote) are ordinary fences told apart when rendering.
The patterns are Zulip's, simplified where Zulip's only differ on malformed input.
"""

from __future__ import annotations

import re
from enum import StrEnum

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

from missedmail.composing.content.emojis import emoji_code
from missedmail.composing.content.timefmt import parse_time_value

USER_MENTION = re.compile(r"@_?\*\*([^*\n]+)\*\*")  # `@**Name**`, `@**Name|12**`, `@_**Name**`
GROUP_MENTION = re.compile(r"@_?\*([^*\n]+)\*")  # `@*group*`, `@_*group*`
# `#**stream>topic@123**` links one message (the id must end the topic part, as in Zulip).
MESSAGE_LINK = re.compile(r"#\*\*([^*>\n]+)>([^*\n]*)@(\d+)\*\*")
STREAM_TOPIC_LINK = re.compile(r"#\*\*([^*>\n]+)>([^*\n]*)\*\*")
STREAM_LINK = re.compile(r"#\*\*([^*>\n]+)\*\*")
ANY_STREAM_LINK = re.compile(r"#\*\*([^*>\n]+)(?:>[^*\n]*)?\*\*")
# No `<` in a value: each candidate's scan then ends at the next one, keeping a message made
# of unclosed `<time:` linear rather than quadratic.
TIME = re.compile(r"<time:([^<>\n]*)>")
EMOJI = re.compile(r":([\w+-]+):")
INLINE_MATH = re.compile(r"\$\$((?:\\\$|[^$\n])+?)\$\$")
_MENTION_ID_SUFFIX = re.compile(r"\|\d*$")
_WORD_CHAR = re.compile(r"\w")

STREAM_WILDCARDS = frozenset({"all", "everyone", "channel", "stream"})
TOPIC_WILDCARD = "topic"
# A mention starts a word (Zulip): after whitespace, an opening quote or bracket, or `/`.
_MENTION_PRECEDERS = frozenset("'\"({[/<")

FENCE_SPOILER = "spoiler"
FENCE_QUOTE = "quote"
FENCES_MATH = frozenset({"math", "tex", "latex"})
# A quote fence's body is Markdown again, parsed recursively; crafted input could nest
# quotes (each with a longer fence) until the stack gives out. Deeper than this, which no
# person writes, a quote's body is shown as an ellipsis: not as code, which could show a
# spoiler's body.
MAX_QUOTE_NESTING = 8
TOO_DEEP = "…"


def fence_kind(info: str) -> tuple[str, str]:
    """A fence's info string split into its kind (`spoiler`, `python`) and the rest (a
    spoiler's header)."""
    parts = info.split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


class MentionKind(StrEnum):
    USER = "user"
    GROUP = "group"
    STREAM_WILDCARD = "stream_wildcard"
    TOPIC_WILDCARD = "topic_wildcard"


def mention_name(inner: str) -> str:
    """`King Hamlet|10` → `King Hamlet` (the id disambiguates equal names in the app)."""
    return _MENTION_ID_SUFFIX.sub("", inner)


def user_mention_kind(name: str) -> MentionKind:
    if name in STREAM_WILDCARDS:
        return MentionKind.STREAM_WILDCARD
    if name == TOPIC_WILDCARD:
        return MentionKind.TOPIC_WILDCARD
    return MentionKind.USER


def stream_link_label(stream: str, topic: str | None, message_id: int | None) -> str:
    """How a stream, topic or message link reads: `#stream`, `#stream > topic`, and for a
    message `#stream > topic @ 💬` (Zulip's label)."""
    if topic is None:
        return f"#{stream}"
    label = f"#{stream} > {topic}"
    return label if message_id is None else f"{label} @ 💬"


def referenced_stream_names(content: str) -> set[str]:
    return {name.lower() for name in ANY_STREAM_LINK.findall(content)}


def _starts_word(src: str, pos: int) -> bool:
    return pos == 0 or src[pos - 1].isspace() or src[pos - 1] in _MENTION_PRECEDERS


def _mention(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if src[pos] != "@" or not _starts_word(src, pos):
        return False
    if match := USER_MENTION.match(src, pos, state.posMax):
        name = mention_name(match[1])
        kind = user_mention_kind(name)
    elif match := GROUP_MENTION.match(src, pos, state.posMax):
        name, kind = match[1], MentionKind.GROUP
    else:
        return False
    if not name.strip():  # `@**|12**` names a user by id only; we have no directory here
        return False
    if not silent:
        token = state.push("chat_mention", "span", 0)
        token.content = name
        token.meta = {"kind": kind}
    state.pos = match.end()
    return True


def _stream_link(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if src[pos] != "#":
        return False
    topic: str | None
    message_id: int | None = None
    if match := MESSAGE_LINK.match(src, pos, state.posMax):
        stream, topic, message_id = match[1], match[2], int(match[3])
    elif match := STREAM_TOPIC_LINK.match(src, pos, state.posMax):
        stream, topic = match[1], match[2]
    elif match := STREAM_LINK.match(src, pos, state.posMax):
        stream, topic = match[1], None
    else:
        return False
    if not silent:
        token = state.push("chat_stream_link", "a", 0)
        token.meta = {"stream": stream, "topic": topic, "message_id": message_id}
    state.pos = match.end()
    return True


def _time(state: StateInline, silent: bool) -> bool:
    # Before CommonMark's autolinks, which would read `<time:…>` as a URL with scheme "time".
    if state.src[state.pos] != "<" or not (match := TIME.match(state.src, state.pos, state.posMax)):
        return False
    if not silent:
        token = state.push("chat_time", "time", 0)
        token.content = match[1]
        token.meta = {"when": parse_time_value(match[1])}
    state.pos = match.end()
    return True


def _emoji(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if src[pos] != ":" or (pos > 0 and _WORD_CHAR.match(src[pos - 1])):
        return False
    match = EMOJI.match(src, pos, state.posMax)
    if match is None or (match.end() < state.posMax and _WORD_CHAR.match(src[match.end()])):
        return False
    code = emoji_code(match[1])
    if code is None:  # `:not_an_emoji:` stays text
        return False
    if not silent:
        token = state.push("chat_emoji", "img", 0)
        token.content = match[1]
        token.meta = {"code": code}
    state.pos = match.end()
    return True


def _inline_math(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if src[pos] != "$" or (pos > 0 and src[pos - 1] == "$"):
        return False
    match = INLINE_MATH.match(src, pos, state.posMax)
    if match is None or (match.end() < state.posMax and src[match.end()] == "$"):
        return False
    if not silent:
        token = state.push("chat_math", "code", 0)
        token.content = match[1]
    state.pos = match.end()
    return True


def use_chat_dialect(md: MarkdownIt) -> None:
    """markdown-it plugin: the dialect's inline rules, tried before emphasis so that
    `@**Name**` is a mention rather than `@` and bold text."""
    for name, rule, marker in (
        ("chat_mention", _mention, "@"),
        ("chat_stream_link", _stream_link, "#"),
        ("chat_time", _time, "<"),
        ("chat_emoji", _emoji, ":"),
        ("chat_math", _inline_math, "$"),
    ):
        md.inline.ruler.before("emphasis", name, rule)
        md.inline.add_terminator_char(marker)
