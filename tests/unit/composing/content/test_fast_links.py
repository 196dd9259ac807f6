"""fastlinks.py answers as linkify-it and markdown-it do, only sooner: each answer is
checked against the libraries' own, on generated input rich in what links are made of,
and the whole parse against a parser built without the shortcuts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from linkify_it import LinkifyIt
from markdown_it import MarkdownIt

from missedmail.composing.content import markdown
from missedmail.composing.content.dialect import use_chat_dialect
from missedmail.composing.content.fastlinks import (
    _PLAIN_URL,
    QuickLinkifyIt,
    QuickLinksMarkdownIt,
    is_plain_url,
)
from missedmail.composing.content.markdown import HTML_RULES, EmailRenderer

LINK_PIECES = [
    "http:", "https:", "HTTP:", "hTtPs:", "ftp:", "FTP:", "//", "mailto:", "MAILTO:", "skype:",
    "http\u017f:", "\u212a", "\u017f", "\u0130", "\u0131", "www.", "WWW.", "localhost",
    "LOCALHOST", ".com", ".org",
    ".рф", ".xn--p1ai", "xn--", ".1.", ".12.", "127.0.0.1", "example", "e.example", ".co", ":",
    "@", "a@b.co", "user@", "_", ">", "<", "\uff5c", "|", "\u3000", "\xa0", "\u2028", "\x00",
    "\x7f", " ", "\n", "\t", "(", ")", "[", "]", "*", "~", "`", "!", "?", ".", ",", ";", "'",
    '"', "%", "%20", "#", "/", "-", "+", "=", "&", "0", "9", "a", "Z", "é", "😀",
]  # fmt: skip
link_text = st.lists(st.one_of(st.sampled_from(LINK_PIECES), st.text(max_size=4)), max_size=16).map(
    "".join
)

MARKDOWN_PIECES = [
    *LINK_PIECES, "**", "__", "~~", "```", "    ", "- ", "1. ", "> ", "# ", "|---|", "\n\n",
    "[x](", "](", "![x](", "<https://e.example>", "<a href=x>", "<div>", "</div>", "<!-- -->",
    "&amp;", "&#64;", "\\", "@**Iago**", "#**Verona**", ":smile:", "$$x$$", "<time:1>",
    "```quote\n", "```spoiler x\n", "[r]: /ref\n", "[r]", "https://chat.example.com/a_b?c=d#e",
]  # fmt: skip
markdown_text = st.lists(
    st.one_of(st.sampled_from(MARKDOWN_PIECES), st.text(max_size=4)), max_size=20
).map("".join)

linkify_it = LinkifyIt()
quick_linkify_it = QuickLinkifyIt()
plain_markdown_it = MarkdownIt()
quick_markdown_it = QuickLinksMarkdownIt()


def test_the_renderer_parses_with_the_quick_checks() -> None:
    # Fails when a linkify-it release builds its patterns otherwise: the checks then give
    # way to linkify-it's own (still correct, no longer faster) and need a look.
    assert isinstance(markdown._PARSER.linkify, QuickLinkifyIt)
    assert markdown._PARSER.linkify.quick_checks_apply()


@settings(max_examples=1000, deadline=None)
@given(link_text)
@example("see https://e.example/x")
@example("_http://e.example")
@example("\u3000ftp://e.example")
@example("\uff58http://e")
@example("mail me: a@b.co")
def test_pretest_and_test_answer_as_linkify_it_does(text: str) -> None:
    assert quick_linkify_it.pretest(text) == bool(linkify_it.pretest(text))
    assert quick_linkify_it.test(text) == bool(linkify_it.test(text))


def test_the_checks_follow_a_schema_added_later() -> None:
    quick, plain = QuickLinkifyIt(), LinkifyIt()
    for linkifier in (quick, plain):
        linkifier.add("skype:", "http:")
    assert quick.quick_checks_apply()
    for text in ("call skype:iago", "call skype://e.example/x", "call skype: now", "no link"):
        assert quick.pretest(text) == plain.pretest(text)
        assert quick.test(text) == plain.test(text)
    # Answers that only the new schema gives: the checks were rebuilt with it.
    assert quick.pretest("call skype:iago")
    assert quick.test("call skype://e.example/x")


def test_patterns_of_another_shape_are_left_to_linkify_it() -> None:
    quick = QuickLinkifyIt()
    quick.re = {**quick.re, "pretest": quick.re["pretest"] + "|#"}
    assert not quick.quick_checks_apply()
    assert quick.pretest("#")
    assert quick.test("https://e.example")


@settings(max_examples=500, deadline=None)
@given(st.from_regex(_PLAIN_URL, fullmatch=True))
def test_a_plain_url_is_its_own_normal_form(url: str) -> None:
    if is_plain_url(url):  # the regex allows hosts longer than a host may be
        assert plain_markdown_it.normalizeLink(url) == url
        assert plain_markdown_it.normalizeLinkText(url) == url


@settings(max_examples=500, deadline=None)
@given(st.one_of(link_text, st.from_regex(_PLAIN_URL, fullmatch=True)))
@example("https://" + "a" * 64)
@example("https://xn--p1ai.example/")
@example("https://Example.com/")
@example("https://e.example/%41")
@example("https://" + "a." * 127 + "a")
def test_urls_are_normalised_as_markdown_it_does(url: str) -> None:
    assert quick_markdown_it.normalizeLink(url) == plain_markdown_it.normalizeLink(url)
    assert quick_markdown_it.normalizeLinkText(url) == plain_markdown_it.normalizeLinkText(url)


def _parser_without_shortcuts() -> MarkdownIt:
    """The renderer's parser as it was built before fastlinks.py and HTML_RULES."""
    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": True, "breaks": True, "typographer": False},
        renderer_cls=EmailRenderer,
    )
    md.enable(["linkify", "strikethrough", "table"])
    md.use(use_chat_dialect)
    return md


reference_parser = _parser_without_shortcuts()


def _tokens(md: MarkdownIt, text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The tokens of a parse, and what it added to `env` (link reference definitions)."""
    env: dict[str, Any] = {}
    return [dict(token.as_dict()) for token in md.parse(text, env)], env


def test_the_html_rules_are_off_and_the_html_option_too() -> None:
    # They return at once only because `html` is off.
    assert not markdown._PARSER.options["html"]
    active = [
        *markdown._PARSER.block.ruler.get_active_rules(),
        *markdown._PARSER.inline.ruler.get_active_rules(),
    ]
    assert not set(HTML_RULES) & set(active)
    assert set(HTML_RULES) <= set(
        reference_parser.block.ruler.get_all_rules() + reference_parser.inline.ruler.get_all_rules()
    )


@settings(max_examples=500, deadline=None)
@given(markdown_text)
@example("logs at https://ci.example.com/runs/7, or www.e.example, or a@b.co.")
@example("<div>\n*x*\n</div>\n\n<a href='https://e.example'>x</a>")
def test_the_parse_is_that_of_the_parser_without_shortcuts(text: str) -> None:
    assert _tokens(markdown._PARSER, text) == _tokens(reference_parser, text)


@pytest.mark.parametrize(
    "url",
    [
        "https://ci.example.com/runs/4242",
        "https://arxiv.org/abs/4242",
        "https://git.example.com/merge_requests/4242",
        "http://localhost/a?b=c&d=e#f",
    ],
)
def test_the_benchmarks_urls_are_plain(url: str) -> None:
    assert is_plain_url(url)
