"""Property tests: no input, Markdown or host HTML, yields active content in an email."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from missedmail.composing.content import message_html, message_text
from missedmail.composing.content.sanitize import ALLOWED_TAGS
from tests.unit.composing.content.readers import REALM_URL, reader

HOSTILE_PIECES = [
    "<script>alert(1)</script>", "<SCRIPT SRC=//evil.example/x.js>", "</script>", "<scr<script>",
    "javascript:alert(1)", "JaVaScRiPt:", "jav&#x09;ascript:", "&#106;avascript:", "vbscript:",
    "data:text/html;base64,PHNjcmlwdD4=", "onerror=alert(1)", " onload=", "onmouseover='x()'",
    '"', "'", "`", "<", ">", "&", "=", "/", "\\", "\n", "\n\n", " ", "(", ")", "[", "]", "!",
    "<img src=x onerror=alert(1)>", '<a href="javascript:alert(1)">', "<svg onload=x>",
    '<iframe src="https://evil.example">', "<style>*{}</style>", "<!--", "-->", "<![CDATA[",
    "@**", "**", "@*", "*", "@_**", "#**", ">", "|", ":smile:", ":", "$$", "<time:", "```",
    "```spoiler ", "```quote", "```math", "~~~", "    ", "- ", "> ", "|---|", "~~",
    "[x](", "![x](", "](", '"title"', "<https://e.example>", "www.e.example", "/user_uploads/",
    "#narrow/", "https://chat.example.com/", "https://evil.example/p.png", "Denmark", "Verona",
    '<span class="emoji emoji-1f604" title="x">', '<div class="spoiler-block">',
    '<div class="spoiler-header">', '<div class="spoiler-content">', '<span class="katex">',
    '<annotation encoding="application/x-tex">', '<div class="message_inline_image">',
    '<time datetime="', '<a title="', '<img class="emoji" src="', "</span>", "</div>", "</a>",
]  # fmt: skip

hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=8)), max_size=24
).map("".join)


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag {tag}")
        for name, value in attrs:
            url = (value or "").strip().lower()
            if name.startswith("on") or name == "style":
                self.problems.append(f"attribute {name}")
            if name == "href" and not url.startswith(("http://", "https://", "mailto:")):
                self.problems.append(f"href {url}")
            if name == "src" and not url.startswith(REALM_URL + "/"):
                self.problems.append(f"src {url}")


def assert_safe(fragment: str) -> None:
    assert "<script" not in fragment.lower()
    audit = _Audit()
    audit.feed(fragment)
    audit.close()
    assert audit.problems == []


@settings(max_examples=200, deadline=None)
@given(hostile_text)
def test_rendered_markdown_never_carries_active_content(content: str) -> None:
    assert_safe(message_html(content, None, reader("Europe/Berlin")))


@settings(max_examples=200, deadline=None)
@given(hostile_text)
def test_host_html_never_carries_active_content(rendered: str) -> None:
    assert_safe(message_html("", rendered, reader()))


@settings(max_examples=50, deadline=None)
@given(hostile_text)
def test_any_markdown_has_a_plain_text_part(content: str) -> None:
    assert isinstance(message_text(content, reader()), str)
