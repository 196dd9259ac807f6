"""The last step for every message's HTML: an allow-list sanitiser (nh3, i.e. ammonia).

Whatever the renderer or the host produced, only these tags and attributes reach an
email. The list is what chat messages need and nothing more: no `style` (inlined CSS
comes from our own templates, after this step, never from content), no event handlers,
no forms or frames, no `id` (it could collide with the template's), classes only where the
email stylesheet uses them. Links keep http, https and mailto only and get
`rel="noopener noreferrer"`; relative URLs, which were all made absolute before, are
dropped rather than left to resolve against wherever the email is viewed.
"""

from __future__ import annotations

import functools
from typing import Any

import nh3

from missedmail.composing.content.links import is_realm_image

ALLOWED_TAGS = frozenset(
    {
        "a", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4",
        "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "span", "strong",
        "table", "tbody", "td", "th", "thead", "time", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "img": frozenset({"alt", "height", "src", "title", "width"}),
    "ol": frozenset({"start"}),
    "time": frozenset({"datetime"}),
}
# The hooks of the email stylesheet: mentions, stream and message links, emoji, collapsed
# spoilers.
ALLOWED_CLASSES: dict[str, frozenset[str]] = {
    "a": frozenset({"message-link", "stream", "stream-topic"}),
    "div": frozenset({"spoiler-block"}),
    "img": frozenset({"emoji"}),
    "span": frozenset({"spoiler-title", "topic-mention", "user-group-mention", "user-mention"}),
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer"


@functools.lru_cache(maxsize=256)
def _cleaner(realm_url: str) -> Any:  # nh3 ships no type information
    """One cleaner per realm (its images are the only ones allowed), built once."""

    def only_realm_images(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src" and not is_realm_image(value, realm_url):
            return None
        return value

    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        allowed_classes={tag: set(names) for tag, names in ALLOWED_CLASSES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        url_relative="deny",
        strip_comments=True,
        attribute_filter=only_realm_images,
    )


def sanitize_html(fragment: str, realm_url: str) -> str:
    cleaned: str = _cleaner(realm_url).clean(fragment)
    return cleaned.strip()
