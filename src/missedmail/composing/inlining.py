"""CSS inlining paid once per page shape and once per message fragment, not per email.

Running the inliner (css_inline) over a whole page costs about 0.2-0.3 ms, most of it
parsing the stylesheet and matching its rules, and nearly all of it repeated: the page
around the messages is the same for every email, and a message's fragment is the same for
every reader. `htmlbody.html_body` therefore writes the inliner's own output in pieces:

- the page's **skeleton** is inlined once per shape (which optional parts it has), with
  a marker in place of each value; the output, split at the markers, is the page's
  pieces (`Skeleton`), and an email's values go between them written as the inliner
  writes them after parsing them back (`serialised`);
- each **fragment** is inlined once, inside a real page at a message's place, and cached
  (`InlinedFragments`); its place in the output is found between the markers around it.

Why that is the same output as inlining the whole page (the tests compare the two for
any page, hostile text and fragments included):

- The stylesheet's selectors look at an element's classes, tag and ancestors only (no
  sibling combinators, no `:nth-child`, no attribute or `:lang` selectors), so an
  element's inlined style depends on what it is and where it is, and a fragment inlined
  inside the same ancestors (`div.mm-block > div.mm-message[dir=auto]` in the page) gets
  the styles it gets in any email.
- The HTML parser's state carries from one part of the page to the next. A fragment is
  only taken apart from its page when the parser reads it exactly as its tags say
  (`context_free`): in the sanitiser's output syntax, well nested, from a list of
  ordinary tags (no `<style>`, `<body>`, raw-text elements, forms, templates or foreign
  content), and free of the constructs HTML reads otherwise (a `<div>` inside a `<p>`
  closes the `<p>`; `<li><div><li>` closes the outer `<li>`, and the fragment's
  `</div>` would then close the page's). Such a fragment is a subtree of its message
  and leaves the parser as it found it, so its output is the same in any page and
  several can be inlined in one page. The probe page checks it again: the fragment's
  output must stand between the markers, the rest of the page unchanged. Anything else
  (the sanitiser produces nothing else from chat messages, but `html_body` must be
  right for any input) goes through the whole-page inliner, as before.
- A value (the subject, a name, a URL) is text or a double-quoted attribute in the page:
  parsing `escape(value)` gives back the value itself, except that the parser turns
  CR and CRLF into LF and NUL into U+FFFD (or drops it, in text in `<body>`), and the
  inliner writes it back escaping `&`, U+00A0 and `<`, `>` (text) or `"` (attributes).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from missedmail.composing.wellformed import well_formed

# Private-use characters: they never occur in the page's own markup, and the parser and
# the inliner pass them through untouched in text and in attribute values.
MARK_OPEN = "\ue000"
MARK_CLOSE = "\ue001"
_MARKER = re.compile(f"{MARK_OPEN}([0-9]+){MARK_CLOSE}")


def marker(number: int) -> str:
    return f"{MARK_OPEN}{number}{MARK_CLOSE}"


class SlotKind(Enum):
    TEXT = "text"  # element content in <body>
    TITLE = "title"  # the content of <title> (RCDATA: NUL becomes U+FFFD, not dropped)
    ATTRIBUTE = "attribute"  # a double-quoted attribute value
    FRAGMENTS = "fragments"  # the page's messages, written by the caller


def serialised(value: str, kind: SlotKind) -> str:
    """What the inliner writes for `escape(value)` written in a slot of this kind: the
    parser's reading of it (input-stream newline normalisation, NUL handling), written
    back with the serialiser's escapes."""
    value = well_formed(value)
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in value:
        value = value.replace("\x00", "" if kind is SlotKind.TEXT else "\ufffd")
    value = value.replace("&", "&amp;").replace("\xa0", "&nbsp;")
    if kind is SlotKind.ATTRIBUTE:
        return value.replace('"', "&quot;")
    return value.replace("<", "&lt;").replace(">", "&gt;")


def _remembered(kind: SlotKind) -> Callable[[str], str]:
    """`serialised` for one kind of value, remembered: most values recur (a language's
    sentences, a conversation's names and links)."""

    @lru_cache(maxsize=4096)
    def write(value: str) -> str:
        return serialised(value, kind)

    return write


_WRITERS: dict[SlotKind, Callable[[str], str]] = {
    kind: _remembered(kind) for kind in SlotKind if kind is not SlotKind.FRAGMENTS
}


@dataclass(frozen=True)
class Slot:
    number: int  # the marker's number
    kind: SlotKind
    # `serialised` for this kind (None for the fragments slot), looked up once here.
    write: Callable[[str], str] | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "write", _WRITERS.get(self.kind))


@dataclass(frozen=True)
class Skeleton:
    """Inlined output cut at its slots: `pieces[0] slot[0] pieces[1] … slot[-1] pieces[-1]`."""

    pieces: tuple[str, ...]
    slots: tuple[Slot, ...]

    def written(self, values: Sequence[str | None], fragments: str) -> str:
        """The output with `values[slot.number]` in each slot, `fragments` in the
        fragments slot."""
        parts = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            if slot.write is None:
                parts.append(fragments)
            else:
                value = values[slot.number]
                if value is None:  # the shape wrote this value, so the page has one
                    raise ValueError(f"no value for slot {slot.number}")
                parts.append(slot.write(value))
            parts.append(piece)
        return "".join(parts)


def skeleton(inlined: str, fragments: int | None = None) -> Skeleton:
    """Cut the inliner's output of a page written with markers at its markers. Marker
    `fragments` is the fragments slot; every other marker is a value, whose kind is read
    from where it stands (inside a tag: an attribute; right after `<title>`: the title)."""
    pieces: list[str] = []
    slots: list[Slot] = []
    start = 0
    for found in _MARKER.finditer(inlined):
        number = int(found.group(1))
        before = inlined[start : found.start()]
        pieces.append(before)
        slots.append(Slot(number, _kind(inlined, found.start(), number == fragments)))
        start = found.end()
    pieces.append(inlined[start:])
    return Skeleton(tuple(pieces), tuple(slots))


def _kind(inlined: str, at: int, is_fragments: bool) -> SlotKind:
    if is_fragments:
        return SlotKind.FRAGMENTS
    tag_start = inlined.rfind("<", 0, at)
    if tag_start > inlined.rfind(">", 0, at):
        # Inside a tag: only as (part of) a double-quoted attribute value.
        if not re.search(r'="[^"]*\Z', inlined[tag_start:at]):
            raise ValueError(f"a marker outside a quoted attribute: {inlined[tag_start:at]!r}")
        return SlotKind.ATTRIBUTE
    if inlined.endswith("<title>", 0, at):
        return SlotKind.TITLE
    return SlotKind.TEXT


# Tags whose parsing can follow the tags exactly: what the sanitiser allows
# (content.sanitize.ALLOWED_TAGS; a test keeps that list inside this one). Absent on
# purpose: <style> and <link> (the inliner applies them to the whole page), <html>,
# <head>, <body> (their attributes go onto the page's own), <frameset>, raw-text and
# RCDATA elements (<textarea>, <title>, <script>, <xmp>, <plaintext>…: they swallow the
# markup after them), <form>, <select>, <template>, <svg>, <math>.
CONTEXT_FREE_TAGS = frozenset(
    {
        "a", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4",
        "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "span", "strong",
        "table", "tbody", "td", "th", "thead", "time", "tr", "ul",
    }
)  # fmt: skip
VOID_TAGS = frozenset({"br", "hr", "img"})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Start tags that close an open <p> (HTML's "close a p element" in body): a fragment
# with one of them inside a <p> is read with the <p> closed early.
CLOSES_P = HEADINGS | {"blockquote", "div", "hr", "li", "ol", "p", "pre", "table", "ul"}
# What stops a new <li> looking for an open <li> to close (HTML's "special" elements but
# address, div and p). Past a <div> it finds the outer <li>: `<li><div><li>` closes the
# first <li> and the <div>, and the fragment's `</div>` then closes the page's.
STOPS_LI = HEADINGS | {"blockquote", "br", "hr", "img", "ol", "pre", "table", "tbody",
                       "td", "th", "thead", "tr", "ul"}  # fmt: skip
FORMATTING = frozenset({"a", "b", "code", "em", "i", "s", "strong"})
# Inside a table only its own structure is read as written (anything else is moved out
# of the table, text too), so a fragment's table must be that structure, with only
# whitespace between its rows and cells.
TABLE_CHILDREN = {
    "table": frozenset({"thead", "tbody"}),
    "thead": frozenset({"tr"}),
    "tbody": frozenset({"tr"}),
    "tr": frozenset({"td", "th"}),
}
TABLE_PARENTS = {
    child: frozenset(parent for parent, children in TABLE_CHILDREN.items() if child in children)
    for child in ("thead", "tbody", "tr", "td", "th")
}
# A tag as html5ever's serialiser (the sanitiser's) writes it: lower-case name, every
# attribute ` name="value"` with `"` escaped in the value. Stricter than HTML on purpose:
# anything else is not taken apart.
_TAG = re.compile(r'<(?:([a-z][a-z0-9]*)(?: [a-z][a-z0-9_:.-]*="[^"]*")*|/([a-z][a-z0-9]*))>')
_WHITESPACE = re.compile(r"[\t\n\f\r ]*")


def context_free(fragment: str) -> bool:
    """Whether the parser reads `fragment` exactly as its tags say, wherever it stands
    among the page's messages: each start tag opens an element inside the one before,
    each end tag closes the element it names and nothing else, so the fragment is a
    subtree of its message and leaves the parser as it found it. Tags from
    `CONTEXT_FREE_TAGS`, every `<` the start of one, well nested, and none of the
    constructs HTML reads otherwise (a block inside <p>, a heading in a heading, <a> in
    <a>, an <li> that closes an outer one, anything but rows and cells in a table, a table
    inside formatting, whose reconstruction moves it). No marker character either."""
    if MARK_OPEN in fragment or MARK_CLOSE in fragment:
        return False
    open_tags: list[str] = []
    end = 0
    for found in _TAG.finditer(fragment):
        if not _text_fits(fragment[end : found.start()], open_tags):
            return False
        end = found.end()
        start_name, end_name = found.groups()
        if start_name is None:
            if not open_tags or open_tags.pop() != end_name:
                return False
        elif not _opens_as_written(start_name, open_tags):
            return False
        elif start_name not in VOID_TAGS:
            open_tags.append(start_name)
    return not open_tags and _text_fits(fragment[end:], open_tags)


def _text_fits(text: str, open_tags: list[str]) -> bool:
    if "<" in text:
        return False
    in_table_structure = bool(open_tags) and open_tags[-1] in TABLE_CHILDREN
    return not in_table_structure or _WHITESPACE.fullmatch(text) is not None


def _opens_as_written(name: str, open_tags: list[str]) -> bool:
    parent = open_tags[-1] if open_tags else None
    if name not in CONTEXT_FREE_TAGS:
        return False
    if parent in TABLE_CHILDREN:
        return name in TABLE_CHILDREN[parent]
    if name in TABLE_PARENTS:
        return False  # a row or cell outside its table's structure
    if name in CLOSES_P and "p" in open_tags:
        return False
    if name in HEADINGS and parent in HEADINGS:
        return False
    if name == "a" and "a" in open_tags:
        return False
    if name == "table" and not FORMATTING.isdisjoint(open_tags):
        return False
    if name == "li":
        for tag in reversed(open_tags):
            if tag == "li":
                return False
            if tag in STOPS_LI:
                break
    return True


# The inlined fragments, bounded by the characters they hold like the render cache
# (content.CACHE_CHARACTERS): an inlined fragment is a message's sanitised HTML with the
# styles written into it, two to three times its length, and the cache pays when it holds
# the messages whose readers fall due over the next hours. 24 Mi characters, each entry
# charged its fragment, its inlined form and `ENTRY_OVERHEAD`: about 25-50 MB per worker
# process at most.
CACHE_CHARACTERS = 24 * 1024 * 1024
ENTRY_OVERHEAD = 200  # characters' worth of the entry's slot, key and string headers


class InlinedFragments:
    """Least recently used inlined fragments, None for a fragment that cannot be taken
    apart from its page; thread-safe (the worker's threads share it)."""

    def __init__(self, characters: int) -> None:
        self._budget = characters
        self._lock = threading.Lock()
        self._done: OrderedDict[str, str | None] = OrderedDict()
        self._held = 0

    def known(self, fragments: Iterable[str]) -> dict[str, str | None]:
        """The cached ones among `fragments`."""
        found: dict[str, str | None] = {}
        with self._lock:
            for fragment in fragments:
                if fragment in self._done:
                    self._done.move_to_end(fragment)
                    found[fragment] = self._done[fragment]
        return found

    def remember(self, inlined: dict[str, str | None]) -> None:
        with self._lock:
            for fragment, done in inlined.items():
                if fragment not in self._done:
                    self._held += _size(fragment, done)
                    self._done[fragment] = done
            while self._held > self._budget and self._done:
                old, old_done = self._done.popitem(last=False)
                self._held -= _size(old, old_done)

    def held(self) -> int:
        """Characters charged for what the cache holds (for tests and diagnostics)."""
        with self._lock:
            return self._held

    def clear(self) -> None:
        with self._lock:
            self._done.clear()
            self._held = 0


def _size(fragment: str, done: str | None) -> int:
    return len(fragment) + len(done or "") + ENTRY_OVERHEAD
