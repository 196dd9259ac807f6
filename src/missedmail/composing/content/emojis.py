"""Emoji as images: email clients render emoji fonts unevenly, so emails show the same
Unicode emoji images the web app does, for `:name:` syntax and for emoji typed as
characters alike. The names and code points come from the `emoji` package's data set
(Unicode's, with the common aliases), not from a list of our own."""

from __future__ import annotations

import functools
import html

import emoji

# Zulip serves Unicode emoji images under the realm; emails use the Google set whatever
# the reader's emoji-set setting (as Zulip does).
EMOJI_IMAGE_PATH = "/static/generated/emoji/images-google-64/{code}.png"
EMOJI_SIZE_PX = "20"
_PRESENTATION_SELECTOR = "\ufe0f"
# Where Zulip's renderer looks for emoji typed as characters (the first code point of the
# sequence): symbols, dingbats, arrows and the emoji planes. Outside them, characters
# such as ©, ™ or a digit are text even though Unicode lists an emoji form of them.
_TYPED_EMOJI_RANGES = (
    (0x2000, 0x206F),
    (0x2300, 0x27BF),
    (0x2B00, 0x2BFF),
    (0x1F000, 0x1F0FF),
    (0x1F100, 0x1F64F),
    (0x1F680, 0x1F6FF),
    (0x1F900, 0x1F9FF),
    (0x1FA00, 0x1FAFF),
)


def _code_of(glyph: str) -> str:
    """Zulip's emoji code: code points in hex, at least four digits, joined by `-`,
    without the U+FE0F presentation selector."""
    return "-".join(f"{ord(char):04x}" for char in glyph if char != _PRESENTATION_SELECTOR)


@functools.lru_cache(maxsize=4096)
def emoji_code(name: str) -> str | None:
    """The code for a name (`smile` → `1f604`, `heart` → `2764`); None when the name is
    not an emoji."""
    glyph: str = emoji.emojize(f":{name}:", language="alias")
    if glyph == f":{name}:" or not emoji.is_emoji(glyph):
        return None
    return _code_of(glyph)


def emoji_image_attrs(realm_url: str, code: str, name: str) -> dict[str, str]:
    """The `<img>` of one Unicode emoji; `name` as written (`thumbs_up`), the title spaced
    as Zulip shows it (`thumbs up`)."""
    return {
        "alt": f":{name}:",
        "class": "emoji",
        "height": EMOJI_SIZE_PX,
        "src": realm_url + EMOJI_IMAGE_PATH.format(code=code),
        "title": name.replace("_", " "),
        "width": EMOJI_SIZE_PX,
    }


# A realm's messages use few emoji, each many times: the markup is kept, not rebuilt.
@functools.lru_cache(maxsize=4096)
def emoji_image_html(realm_url: str, code: str, name: str) -> str:
    attrs = emoji_image_attrs(realm_url, code, name)
    return "<img" + "".join(f' {key}="{html.escape(value)}"' for key, value in attrs.items()) + ">"


@functools.lru_cache(maxsize=4096)
def _typed_emoji_name(glyph: str) -> str | None:
    if not any(low <= ord(glyph[0]) <= high for low, high in _TYPED_EMOJI_RANGES):
        return None
    name: str = emoji.demojize(glyph, language="alias")
    if not (name.startswith(":") and name.endswith(":")) or name.count(":") != 2:
        return None
    return name[1:-1]


def text_with_emoji_html(text: str, realm_url: str) -> str:
    """`text` escaped for HTML, each emoji typed as a character shown as its image (the
    `alt` is its `:name:`, as for emoji written by name)."""
    if text.isascii():  # no emoji, and the common case: skip the scan
        return html.escape(text)
    out: list[str] = []
    done = 0
    for found in emoji.emoji_list(text):
        glyph: str = found["emoji"]
        name = _typed_emoji_name(glyph)
        if name is None:
            continue
        start, end = found["match_start"], found["match_end"]
        out.append(html.escape(text[done:start]))
        out.append(emoji_image_html(realm_url, _code_of(glyph), name))
        done = end
    out.append(html.escape(text[done:]))
    return "".join(out)
