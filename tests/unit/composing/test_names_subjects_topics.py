from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missedmail.composing.names import join_names
from missedmail.composing.subject import (
    LINE_BREAKING_CATEGORIES,
    email_subject,
    group_direct_title,
    single_line,
    stream_title,
)
from missedmail.composing.topics import TopicDisplay, topic_display


@pytest.mark.parametrize(
    ("names", "joined"),
    [
        ([], ""),
        (["A"], "A"),
        (["A", "B"], "A and B"),
        (["A", "B", "C"], "A, B, and C"),
        (["A", "B", "C", "D"], "A, B, and 2 others"),
        (["A", "B", "C", "D", "E", "F"], "A, B, and 4 others"),
    ],
)
def test_names_join_as_zulip_writes_them(names: list[str], joined: str) -> None:
    assert join_names(names) == joined


def test_a_topic_with_the_resolved_mark_is_shown_without_it() -> None:
    assert topic_display("✔ release") == TopicDisplay(name="release", resolved=True)


def test_a_mark_without_its_space_is_part_of_the_topic() -> None:
    assert topic_display("✔release") == TopicDisplay(name="✔release", resolved=False)


@pytest.mark.parametrize("topic", ["", "✔ "])
def test_an_empty_topic_is_shown_as_general_chat(topic: str) -> None:
    assert topic_display(topic).name == "general chat"


def test_stream_titles_flag_resolved_topics() -> None:
    assert stream_title("Denmark", "test", resolved=False) == "#Denmark > test"
    assert stream_title("Denmark", "test", resolved=True) == "[resolved] #Denmark > test"


def test_the_realm_name_suffix_is_appended_only_when_asked() -> None:
    title = group_direct_title("A and B")
    assert email_subject(title, None) == "Group DMs with A and B"
    assert email_subject(title, "Zulip Dev") == "Group DMs with A and B [Zulip Dev]"


def test_a_realm_name_cannot_break_the_subject_line() -> None:
    assert email_subject("DMs with A", "Evil\r\nBcc: x") == "DMs with A [Evil  Bcc: x]"


@given(st.text())
def test_single_line_leaves_no_control_or_line_separator_characters(text: str) -> None:
    line = single_line(text)

    assert len(line) == len(text)
    assert line.splitlines() in ([line], [])
    assert not any(unicodedata.category(char) in {"Cc", "Zl", "Zp"} for char in line)


def test_single_line_keeps_ordinary_unicode_and_emoji_joiners() -> None:
    text = "Ærø 👩‍💻 naïve"
    assert single_line(text) == text


def test_single_line_replaces_exactly_the_line_breaking_categories() -> None:
    """Over every code point: the regex is the per-character category test it replaced."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    expected = "".join(
        " " if unicodedata.category(char) in LINE_BREAKING_CATEGORIES else char for char in every
    )
    assert single_line(every) == expected
