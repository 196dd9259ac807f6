"""The rendering cache: a message is rendered once for all its readers unless it holds
something that reads the reader (a `<time>`, a spoiler), and a cached rendering is always
the one a fresh rendering for that reader would give."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from itertools import product
from pathlib import Path

import pytest

from missedmail.composing import content
from missedmail.composing.content import RenderContext, message_html, message_text
from missedmail.composing.content.markdown import render_markdown
from tests.unit.composing.content.readers import reader

CONTENTS = (
    "Hi @**King Hamlet**, could you look at build 7? :eyes:",
    "The **staging** run failed; logs at https://ci.example.com/runs/7",
    "I think we should:\n\n1. freeze the branch\n2. cut a release",
    "```python\ndef check(items):\n    return [i for i in items if i.ok]\n```\nenough.",
    "> the old importer drops rows\n\nconfirmed :confused:",
    "Meeting moved to <time:2026-11-28T15:30:00Z>, see #**Denmark>plan**",
    "@**all** the retro is today :memo: in #**verona**",
    "| metric | value |\n|---|---|\n| signups | 7 |",
    "```spoiler Episode 7\nThe butler did it.\n```",
    "The bound is $$O(n \\log n)$$, see [the paper](https://arxiv.org/abs/7)",
    "Two times: <time:1700000000> and <time:not a time>",
)
READERS = [
    replace(reader(timezone, twenty_four_hour_time=clock), language=language)
    for timezone, clock, language in product(
        ["", "Europe/Berlin", "Asia/Kolkata"], [False, True], ["en", "de", "fr"]
    )
]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    content._HTML.clear()
    content._TEXT.clear()
    yield
    content._HTML.clear()
    content._TEXT.clear()


def fresh_html(text: str, ctx: RenderContext) -> str:
    content._HTML.clear()
    return message_html(text, None, ctx)


def fresh_text(text: str, ctx: RenderContext) -> str:
    content._TEXT.clear()
    return message_text(text, ctx)


@pytest.mark.parametrize("text", CONTENTS)
def test_a_cached_rendering_is_the_fresh_rendering_for_every_reader(text: str) -> None:
    expected_html = [fresh_html(text, ctx) for ctx in READERS]
    expected_text = [fresh_text(text, ctx) for ctx in READERS]
    content._HTML.clear()
    content._TEXT.clear()

    # Every reader after every other, in both directions, from one warm cache.
    for ctx in [*READERS, *reversed(READERS)]:
        n = READERS.index(ctx)
        assert message_html(text, None, ctx) == expected_html[n]
        assert message_text(text, ctx) == expected_text[n]


def count_renderings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    rendered: list[str] = []

    def counting(text: str, ctx: RenderContext) -> str:
        rendered.append(text)
        return render_markdown(text, ctx)

    monkeypatch.setattr(content, "render_markdown", counting)
    return rendered


def test_a_message_that_reads_nothing_of_its_reader_is_rendered_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered = count_renderings(monkeypatch)
    for ctx in READERS:
        message_html(CONTENTS[0], None, ctx)
    assert len(rendered) == 1


def test_a_time_is_rendered_once_per_zone_clock_and_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered = count_renderings(monkeypatch)
    for ctx in READERS:
        message_html(CONTENTS[5], None, ctx)
    assert len(rendered) == len(READERS)
    assert "4:30 PM CET" in message_html(CONTENTS[5], None, reader("Europe/Berlin"))


def test_a_spoiler_is_rendered_once_per_language(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = count_renderings(monkeypatch)
    for ctx in READERS:
        message_html(CONTENTS[8], None, ctx)
    assert len(rendered) == 3


def test_the_linked_streams_and_the_realm_are_part_of_the_key() -> None:
    text = "see #**Verona**"
    linked = message_html(text, None, reader())
    unknown = message_html(text, None, replace(reader(), stream_ids={}))
    elsewhere = message_html(text, None, reader(realm_url="https://other.example.com"))
    assert len({linked, unknown, elsewhere}) == 3
    assert linked == fresh_html(text, reader())


def test_only_the_modules_that_say_what_they_read_translate() -> None:
    """A translated string or a reader's setting used anywhere else in the content package
    would be cached for the wrong readers: it must call `reads_reader` too, and be added
    here."""
    package = Path(content.__file__).parent
    translating = {
        path.name
        for path in package.glob("*.py")
        if "gettext" in path.read_text(encoding="utf-8") and path.name != "context.py"
    }
    assert translating == {"timefmt.py", "spoilers.py"}
    for name in translating:
        assert "reads_reader(" in (package / name).read_text(encoding="utf-8")
