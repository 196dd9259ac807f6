"""The email-safe transformations of behaviour §4.7, applied to a host's rendered HTML
(Zulip's classes). Chat Markdown rendered here gets the same result directly from the
renderer (markdown.py); the output of both still goes through the sanitiser.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from missedmail.composing.content.context import RenderContext
from missedmail.composing.content.emojis import EMOJI_SIZE_PX, emoji_image_attrs
from missedmail.composing.content.htmltree import Element, Node, parse_fragment, serialize
from missedmail.composing.content.links import absolute_title, absolute_url, is_realm_image
from missedmail.composing.content.sanitize import ALLOWED_CLASSES
from missedmail.composing.content.spoilers import spoiler_note
from missedmail.composing.content.tex import tex_source
from missedmail.composing.content.timefmt import format_time, parse_time_value

logger = logging.getLogger(__name__)

# Previews the web app shows under a link; in an email they would be remote images (or
# embedded players), and the link itself is already in the message.
_PREVIEW_CLASSES = frozenset({"message_inline_image", "message_inline_video", "message_embed"})
_MATH_CLASSES = frozenset({"katex", "katex-display"})
_EMOJI_CODE_CLASS = re.compile(r"(?:^|\s)emoji-([0-9a-f]{1,8}(?:-[0-9a-f]{1,8})*)(?:\s|$)")
_EMOJI_SYNTAX = re.compile(r":([\w+-]+):")


@dataclass(frozen=True)
class _Preview:
    href: str
    title: str


def email_safe_html(rendered: str, ctx: RenderContext) -> str:
    """The host's HTML with the transformations applied (not yet sanitised)."""
    root = parse_fragment(rendered)
    previews: list[_Preview] = []
    _transform_children(root, ctx, previews)
    if previews and not _has_visible_content(root):
        # A message that was only an image: a link to it, so the email is not empty.
        root.children = [
            Element("p", children=[Element("a", {"href": p.href}, [p.title or p.href])])
            for p in previews
        ]
    return serialize(root.children)


def _transform_children(parent: Element, ctx: RenderContext, previews: list[_Preview]) -> None:
    children: list[Node] = []
    for node in parent.children:
        if isinstance(node, str):
            children.append(node)
        else:
            children.extend(_transform(node, ctx, previews))
    parent.children = children


def _transform(element: Element, ctx: RenderContext, previews: list[_Preview]) -> list[Node]:
    """What replaces `element` in its parent."""
    classes = element.classes
    if classes & _PREVIEW_CLASSES:
        previews.extend(_previews_in(element, ctx))
        return []
    if classes & _MATH_CLASSES:
        return [Element("code", children=[tex_source(_tex_of(element))])]
    if "spoiler-block" in classes:
        element = _collapsed_spoiler(element)
    elif element.tag == "span" and "emoji" in classes:
        if image := _emoji_image(element, ctx):
            return [image]
    elif element.tag == "img":
        return _email_image(element, ctx)
    elif element.tag == "time":
        _show_time(element, ctx)
    elif element.tag == "a":
        _make_link_absolute(element, ctx)
    _keep_styling_classes(element)
    _transform_children(element, ctx, previews)
    return [element]


def _keep_styling_classes(element: Element) -> None:
    """The sanitiser would drop the other classes too, but leave an empty `class=""`."""
    if "class" not in element.attrs:
        return
    kept = ALLOWED_CLASSES.get(element.tag, frozenset()).intersection(element.classes)
    if kept:
        element.attrs["class"] = " ".join(sorted(kept))
    else:
        del element.attrs["class"]


def _descendants(element: Element) -> list[Element]:
    found: list[Element] = []
    for child in element.children:
        if isinstance(child, Element):
            found.append(child)
            found.extend(_descendants(child))
    return found


def _previews_in(container: Element, ctx: RenderContext) -> list[_Preview]:
    for link in _descendants(container):
        if link.tag == "a" and link.attrs.get("href"):
            href = absolute_url(link.attrs["href"], ctx.realm_url)
            return [_Preview(href, link.attrs.get("title", "").strip())]
    return []


def _tex_of(math: Element) -> str:
    for element in _descendants(math):
        if element.tag == "annotation" and element.attrs.get("encoding") == "application/x-tex":
            return element.text()
    return math.text()  # not KaTeX's usual shape: at least keep what it says


def _collapsed_spoiler(block: Element) -> Element:
    """Zulip's header/content pair becomes the header's paragraphs followed by the note; the
    content is dropped whole."""
    header = next(
        (c for c in block.children if isinstance(c, Element) and "spoiler-header" in c.classes),
        None,
    )
    kept: list[Node] = list(header.children) if header else []
    note = Element("span", {"class": "spoiler-title"}, [spoiler_note()])
    paragraph = next((c for c in kept if isinstance(c, Element) and c.tag == "p"), None)
    if paragraph is None:
        kept.append(Element("p", children=[note]))
    else:
        paragraph.children.extend([" ", note] if paragraph.text().strip() else [note])
    return Element("div", {"class": "spoiler-block"}, kept)


def _emoji_image(span: Element, ctx: RenderContext) -> Element | None:
    """`<span class="emoji emoji-1f604" title="smile">:smile:</span>` → its `<img>`."""
    code = _EMOJI_CODE_CLASS.search(span.attrs.get("class", ""))
    if code is None:
        return None
    syntax = _EMOJI_SYNTAX.fullmatch(span.text().strip())
    name = syntax[1] if syntax else span.attrs.get("title", "").strip().replace(" ", "_")
    return Element("img", emoji_image_attrs(ctx.realm_url, code[1], name or code[1]))


def _email_image(image: Element, ctx: RenderContext) -> list[Node]:
    """Realm images (custom emoji) stay, at emoji size when they are emoji; any other
    image would be fetched from elsewhere when the email is opened, so it goes."""
    src = absolute_url(image.attrs.get("src", ""), ctx.realm_url)
    if not is_realm_image(src, ctx.realm_url):
        return []
    image.attrs["src"] = src
    if "emoji" in image.classes:
        image.attrs["height"] = image.attrs["width"] = EMOJI_SIZE_PX
    return [image]


def _show_time(time: Element, ctx: RenderContext) -> None:
    value = time.attrs.get("datetime")
    if value is None:
        return
    when = parse_time_value(value)
    shown = when and format_time(when, ctx.timezone, ctx.twenty_four_hour_time)
    if not shown:
        logger.warning("action=bad_time_value")
        return
    time.children = [shown]


def _make_link_absolute(link: Element, ctx: RenderContext) -> None:
    href = link.attrs.get("href")
    if href is None:
        return
    link.attrs["href"] = absolute_url(href, ctx.realm_url)
    if "title" in link.attrs:
        link.attrs["title"] = absolute_title(link.attrs["title"], href, ctx.realm_url)


def _has_visible_content(element: Element) -> bool:
    for child in element.children:
        if isinstance(child, str):
            if child.strip():
                return True
        elif child.tag == "img" or _has_visible_content(child):
            return True
    return False
