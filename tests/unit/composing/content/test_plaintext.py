"""Golden tests: chat Markdown → the plain-text part of one message."""

from __future__ import annotations

from missedmail.composing.content import RenderContext, message_text
from missedmail.composing.content.dialect import MAX_QUOTE_NESTING
from tests.unit.composing.content.readers import REALM_URL, reader

NOTE = "(Open the conversation to see the spoiler content)"


def text_of(content: str, timezone: str = "", *, twenty_four_hour_time: bool = False) -> str:
    return message_text(content, reader(timezone, twenty_four_hour_time=twenty_four_hour_time))


def test_markdown_reads_as_written() -> None:
    content = "# Title\n\n**bold** and *it*\n\n- one\n- two\n\n> quoted\n\n| a | b |\n|---|---|"
    assert text_of(content) == content


def test_windows_line_ends_become_newlines_and_outer_blank_lines_go() -> None:
    assert text_of("\n\none\r\ntwo\rthree\n\n") == "one\ntwo\nthree"


def test_a_link_becomes_its_url() -> None:
    assert text_of("read [the docs](https://example.com/docs) now") == (
        "read https://example.com/docs now"
    )


def test_a_link_with_a_title_or_parentheses_becomes_its_url() -> None:
    assert text_of('[w](https://en.wikipedia.org/wiki/Hamlet_(play) "the play")') == (
        "https://en.wikipedia.org/wiki/Hamlet_(play)"
    )


def test_an_upload_link_becomes_an_absolute_url() -> None:
    assert text_of("[report.pdf](/user_uploads/1/ab/report.pdf)") == (
        f"{REALM_URL}/user_uploads/1/ab/report.pdf"
    )


def test_an_image_becomes_its_url() -> None:
    assert text_of("![cat](/user_uploads/1/cat.png)") == f"{REALM_URL}/user_uploads/1/cat.png"


def test_a_bare_upload_path_becomes_absolute_but_an_absolute_one_is_untouched() -> None:
    assert text_of("see /user_uploads/2/b.txt and https://other.example/user_uploads/x") == (
        f"see {REALM_URL}/user_uploads/2/b.txt and https://other.example/user_uploads/x"
    )


def test_a_link_to_another_scheme_stays_as_written() -> None:
    assert text_of("[x](javascript:alert(1))") == "[x](javascript:alert(1))"


def test_mentions_read_as_at_names() -> None:
    assert text_of("@**King Hamlet|10**, @_**Othello**, @*support*, @**all** and @**topic**") == (
        "@King Hamlet, @Othello, @support, @all and @topic"
    )


def test_stream_links_read_as_hash_names() -> None:
    assert text_of("#**Denmark**, #**Verona>release plan** and #**Elsinore**") == (
        "#Denmark, #Verona > release plan and #Elsinore"
    )


def test_times_are_shown_for_the_reader() -> None:
    assert text_of("at <time:2025-09-30T16:30:00Z>", "Asia/Kolkata") == (
        "at Tue, Sep 30, 2025, 10:00 PM IST"
    )


def test_times_follow_the_24_hour_preference() -> None:
    assert text_of("<time:2025-09-30T16:30:00Z>", twenty_four_hour_time=True) == (
        "Tue, Sep 30, 2025, 16:30 UTC"
    )


def test_an_unparseable_time_is_left_as_written() -> None:
    assert text_of("at <time:teatime>") == "at <time:teatime>"


def test_emoji_and_math_read_as_written() -> None:
    assert text_of(":smile: $$x^2$$") == ":smile: $$x^2$$"


def test_a_spoiler_keeps_its_header_and_replaces_its_body() -> None:
    assert text_of("before\n```spoiler Plot *twist*\nhe dies\nat the end\n```\nafter") == (
        f"before\nPlot *twist*\n{NOTE}\nafter"
    )


def test_a_spoiler_without_header_is_only_the_note() -> None:
    assert text_of("```spoiler\nhe dies\n```") == NOTE


def test_an_unclosed_spoiler_hides_everything_after_it() -> None:
    assert text_of("```spoiler Twist\nhe dies\n\nand more") == f"Twist\n{NOTE}"


def test_a_spoiler_in_a_list_or_quote_keeps_the_line_prefix() -> None:
    assert text_of("- item\n  ```spoiler\n  hidden\n  ```\n\n> ```spoiler Q\n> hidden\n> ```") == (
        f"- item\n  {NOTE}\n\n> Q\n> {NOTE}"
    )


def test_a_spoiler_inside_a_quote_fence_is_hidden_too() -> None:
    assert text_of("````quote\nsaid @**Iago**\n```spoiler Twist\nhidden\n```\n````") == (
        f"````quote\nsaid @Iago\nTwist\n{NOTE}\n````"
    )


def test_code_keeps_the_dialect_syntax_as_written() -> None:
    content = "`@**x**` and\n\n```python\nprint('@**y**', '<time:1>')\n```\n\n    @**z** [a](/b)"
    assert text_of(content) == content


def test_markup_inside_link_text_is_dropped_with_the_text() -> None:
    assert text_of("[@**Iago** at <time:1>](https://e.com)") == "https://e.com"


def test_quotes_nested_beyond_the_limit_show_an_ellipsis_and_never_a_spoiler_body() -> None:
    content = "```spoiler Twist\nthe secret\n```"
    for depth in range(MAX_QUOTE_NESTING + 2):
        fence = "`" * (4 + depth)
        content = f"{fence}quote\n{content}\n{fence}"
    shown = text_of(content)
    assert "the secret" not in shown
    assert "Twist" not in shown
    assert "\n…\n" in shown


def test_a_message_link_reads_as_its_label() -> None:
    assert text_of("#**Denmark>castle walls@4005** and #**Denmark>a@b**") == (
        "#Denmark > castle walls @ 💬 and #Denmark > a@b"
    )


def test_the_spoiler_note_and_times_follow_the_readers_language() -> None:
    spanish = RenderContext(REALM_URL, "", False, {}, "es")
    assert message_text("```spoiler Final\nx\n```\n<time:2025-09-30T16:30:00Z>", spanish) == (
        "Final\n(Abre la conversación para ver el contenido oculto)\n"
        "martes, 30 de septiembre de 2025, 4:30 p.\u00a0m. UTC"
    )
