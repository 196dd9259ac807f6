"""One parse of a message serves every reader's HTML and the plain-text part: the shared
tokens must give exactly what a parse of their own would (markdown.py `parsed`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from missedmail.composing.content import markdown
from missedmail.composing.content.markdown import render_markdown
from missedmail.composing.content.plaintext import plain_text
from tests.unit.composing.content.readers import reader

OTHER_REALM = "https://other.example.org"


@pytest.fixture(autouse=True)
def no_shared_parses() -> Iterator[None]:
    markdown._PARSES.clear()
    yield
    markdown._PARSES.clear()


def unshared_html(text: str, realm_url: str) -> str:
    markdown._PARSES.clear()
    return render_markdown(text, reader(realm_url=realm_url))


def test_a_second_realm_gets_its_own_absolute_links_from_shared_tokens() -> None:
    text = 'See [the help](/help/topics "/help/topics") and ![chart](/user_uploads/1/c.png)'
    first = render_markdown(text, reader())
    second = render_markdown(text, reader(realm_url=OTHER_REALM))
    assert 'href="https://chat.example.com/help/topics"' in first
    assert 'href="https://other.example.org/help/topics"' in second
    assert "chat.example.com" not in second
    assert first == unshared_html(text, reader().realm_url)
    assert second == unshared_html(text, OTHER_REALM)


def test_quotes_share_the_link_definitions_of_a_message_that_has_some() -> None:
    # markdown-it's behaviour, kept as it was: a quote's body is parsed with the message's
    # definitions, and adds its own to them, so a later quote sees those too.
    text = "[docs]: /help\n\n```quote\n[docs] and [own]\n\n[own]: /own\n```\n```quote\n[own]\n```\n"
    first = render_markdown(text, reader())
    again = render_markdown(text, reader())
    assert first == again == unshared_html(text, reader().realm_url)
    assert first.count('href="https://chat.example.com/help"') == 1
    assert first.count('href="https://chat.example.com/own"') == 2


def test_a_quote_without_definitions_around_it_keeps_its_own() -> None:
    text = "```quote\n[x]\n\n[x]: /x\n```\n```quote\n[x]\n```"
    html = render_markdown(text, reader())
    assert html == render_markdown(text, reader()) == unshared_html(text, reader().realm_url)
    assert html.count('href="https://chat.example.com/x"') == 1
    assert "<p>[x]</p>" in html


@pytest.mark.parametrize(
    "text",
    [
        "```python\n@**King Hamlet** in code\n```\nbut @**King Hamlet** here",
        "    indented @**Iago**\n\ntext <time:2026-11-28T15:30:00Z>",
        "- item\n  ```spoiler Head @**Iago**\n  hidden\n  ```\n- next",
        "````quote\nouter\n```quote\ninner [a](/a)\n```\n````",
        "| a | b |\n|---|---|\n| `@**x**` | #**Denmark** |",
        "```quote\nunclosed",
    ],
)
def test_the_plain_text_from_the_html_parse_is_the_plain_text_of_its_own_parse(
    text: str,
) -> None:
    ctx = reader("Europe/Berlin")
    own = plain_text(text, ctx)  # nothing parsed yet: its block parse
    render_markdown(text, ctx)
    assert markdown.cached_tokens(text) is not None
    assert plain_text(text, ctx) == own
