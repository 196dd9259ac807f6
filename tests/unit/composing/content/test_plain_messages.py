"""A plain sentence is rendered without parsing it (markdown.py `is_plain_paragraph`): its
HTML and its text must be exactly what the full path gives."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from missedmail.composing.content import markdown
from missedmail.composing.content.markdown import (
    _PLAIN_PARAGRAPH,
    PLAIN_PUNCTUATION,
    is_plain_paragraph,
    render_markdown,
)
from missedmail.composing.content.plaintext import _plain_lines, plain_text
from tests.unit.composing.content.readers import reader

ALMOST_PLAIN_PIECES = [
    *PLAIN_PUNCTUATION, *string.ascii_letters, *string.digits, "é", "ß", "Ω", "½", "²", "٣",
    "ǅ", "\u0301", "😀", "👍🏽", "\u00a0", "\t", "\n", "\r", " ", "  ", "1. ", "1) ", "- ", "# ",
    "www.", ".com", "example.org", "e.g.", "a@b.co", ":", "_", "*", "~", "`", "$", "&", "\\",
    "<", ">", "|", "=", "!", "[", "]", "{", "}", "^", "+", "%", "/", "\x00",
]  # fmt: skip
almost_plain = st.lists(st.sampled_from(ALMOST_PLAIN_PIECES), max_size=30).map("".join)
# A small alphabet, for pairs of markers around a word (`a _b_`) to come up.
SMALL_ALPHABET = "ab1 .,?()_*~:`$@#<>[]!&\\|=-+\n"
small = st.builds(lambda head, tail: head + tail, st.sampled_from("aé"), st.text(SMALL_ALPHABET))
plain = st.from_regex(_PLAIN_PARAGRAPH, fullmatch=True)


def full_html(text: str) -> str:
    env: dict[str, Any] = {"ctx": reader(), "depth": 0}
    tokens = markdown._PARSER.parse(text, {})
    rendered: str = markdown._PARSER.renderer.render(tokens, markdown._PARSER.options, env)
    return rendered


def full_text(text: str) -> str:
    """plain_text's own path, below its shortcut."""
    return "\n".join(_plain_lines(text, reader(), 0)).rstrip().lstrip("\n")


@settings(max_examples=1000, deadline=None)
@given(st.one_of(plain, almost_plain, small))
@example("Sounds good, thanks.")
@example("Ship it 👍")
@example("see www.example.com")
@example("1. step")
@example('Naïve café (again); "quoted" it\'s fine?')
def test_a_plain_message_renders_as_the_full_path_renders_it(text: str) -> None:
    if not is_plain_paragraph(text):
        return
    markdown._PARSES.clear()
    assert render_markdown(text, reader()) == full_html(text)
    assert plain_text(text, reader()) == full_text(text)


# Every character in the places where Markdown syntax takes effect: a shortcut that let one
# more character through than it may would be caught here, not only by chance.
SYNTAX_PLACES = [
    "{c}", "{c}a", "a{c}", "{c} a", "a {c}", "a{c}b", "a {c}b{c}", "a {c}{c}b{c}{c}",
    "a {c}b{c} c", "a{c}b{c}c", "1{c} a", "a{c}{c}{c}", "a\n{c}{c}{c}", "a {c}{c}{c}b{c}{c}{c}",
    "a.{c}", "www{c}a.com", "a{c}example.com", "a {c}amp; b", "a {c}#64; b", "a {c}b](c) d",
    "a [b{c}(c) d", "a {c}[b](c) d", "a {c}b@c.de> d", "a {c}//e.example d",
]  # fmt: skip
EVERY_CHARACTER = string.printable + "\u00a0\u3000\uff5c\u2028é½²😀\u0301\x00"


def test_every_character_in_every_syntax_place_renders_as_the_full_path() -> None:
    for place in SYNTAX_PLACES:
        for char in EVERY_CHARACTER:
            text = place.format(c=char)
            if is_plain_paragraph(text):
                markdown._PARSES.clear()
                assert render_markdown(text, reader()) == full_html(text), text
                assert plain_text(text, reader()) == full_text(text), text


def test_plain_sentences_take_the_shortcut_and_others_do_not() -> None:
    for text in ("ok", "Sounds good, thanks.", "Ça marche (demain?)"):
        assert is_plain_paragraph(text), text
    for text in ("", "1. list", "a_b", "a *b*", "see example.com", "two\nlines", "end ", " a"):
        assert not is_plain_paragraph(text), text


def test_no_plain_punctuation_is_where_markdown_it_stops_a_text_run() -> None:
    # The shortcut holds while the inline parser reads these characters as text; a
    # markdown-it release that made one of them a terminator would fail here.
    terminators = markdown._PARSER.inline.terminator_re
    assert terminators.search(PLAIN_PUNCTUATION + string.ascii_letters + string.digits) is None
