"""`:name:` emoji as images: email clients render emoji fonts unevenly, so emails show
the same Unicode emoji images the web app does."""

from __future__ import annotations

import functools
import html

import emoji

# Zulip serves Unicode emoji images under the realm; emails use the Google set whatever
# the reader's emoji-set setting (as Zulip does).
EMOJI_IMAGE_PATH = "/static/generated/emoji/images-google-64/{code}.png"
EMOJI_SIZE_PX = "20"


@functools.lru_cache(maxsize=4096)
def emoji_code(name: str) -> str | None:
    """Zulip's emoji code for a name (`smile` → `1f604`, `heart` → `2764`): code points in
    hex, at least four digits, joined by `-`, without the U+FE0F presentation selector;
    None when the name is not an emoji."""
    glyph: str = emoji.emojize(f":{name}:", language="alias")
    if glyph == f":{name}:" or not emoji.is_emoji(glyph):
        return None
    return "-".join(f"{ord(char):04x}" for char in glyph if char != "\ufe0f")


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


def emoji_image_html(realm_url: str, code: str, name: str) -> str:
    attrs = emoji_image_attrs(realm_url, code, name)
    return "<img" + "".join(f' {key}="{html.escape(value)}"' for key, value in attrs.items()) + ">"
