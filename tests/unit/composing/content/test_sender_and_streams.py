from __future__ import annotations

from missedmail.composing.content import prepend_sender_html, referenced_stream_names


def test_the_sender_opens_the_first_paragraph() -> None:
    assert prepend_sender_html("<p>hi</p>\n<p>again</p>", "King Hamlet") == (
        '<p><b dir="auto">King Hamlet</b>: hi</p>\n<p>again</p>'
    )


def test_the_sender_gets_a_paragraph_of_its_own_before_other_blocks() -> None:
    assert prepend_sender_html("<pre><code>x</code></pre>", "Iago") == (
        '<p><b dir="auto">Iago</b>: </p><pre><code>x</code></pre>'
    )


def test_the_sender_name_is_escaped() -> None:
    assert prepend_sender_html("<p>hi</p>", "<i>Iago</i> & co") == (
        '<p><b dir="auto">&lt;i&gt;Iago&lt;/i&gt; &amp; co</b>: hi</p>'
    )


def test_referenced_streams_are_lower_cased_names_with_or_without_topic() -> None:
    content = "#**Denmark**, #**VERONA>plans**, #**Denmark>x**, @**not a stream**, #*no*"
    assert referenced_stream_names(content) == {"denmark", "verona"}
