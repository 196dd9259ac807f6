"""A minimal HTML tree for the email-safe transformations of a host's rendered HTML.

The standard library's tolerant tokenizer builds it (lxml would be a C dependency for a
few dozen lines of tree walking). It only has to be good enough to transform: whatever it
emits is sanitised afterwards, and it never emits a tag or attribute name it did not
recognise as one.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
# Deeper elements are attached to the element at this depth: the tree stays shallow enough
# for recursive walks whatever the input (no chat renderer nests anywhere near this).
MAX_DEPTH = 64
_TAG_NAME = re.compile(r"[a-z][a-z0-9-]*\Z")
_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_.:-]*\Z")


@dataclass
class Element:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    @property
    def classes(self) -> frozenset[str]:
        return frozenset(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)


Node = Element | str


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("")
        self._open = [self.root]

    def _attach(self, tag: str, attrs: list[tuple[str, str | None]]) -> Element:
        element = Element(tag)
        for name, value in attrs:
            element.attrs.setdefault(
                name, value or ""
            )  # the first of duplicates wins, as in browsers
        self._open[-1].children.append(element)
        return element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = self._attach(tag, attrs)
        if tag not in VOID_TAGS and len(self._open) < MAX_DEPTH:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attach(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._open[-1].children.append(data)


def parse_fragment(markup: str) -> Element:
    """The fragment's nodes as the children of a nameless root element."""
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root


def serialize(nodes: list[Node]) -> str:
    out: list[str] = []
    _write(nodes, out)
    return "".join(out)


def _write(nodes: list[Node], out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(html.escape(node, quote=False))
            continue
        if not _TAG_NAME.match(node.tag):  # the tokenizer accepts names no browser would
            _write(node.children, out)
            continue
        out.append(f"<{node.tag}")
        for name, value in node.attrs.items():
            if _ATTRIBUTE_NAME.match(name):
                out.append(f' {name}="{html.escape(value)}"')
        out.append(">")
        if node.tag not in VOID_TAGS:
            _write(node.children, out)
            out.append(f"</{node.tag}>")
