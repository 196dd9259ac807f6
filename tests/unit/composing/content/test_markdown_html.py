"""Golden tests: chat Markdown (no `rendered_content`) → the sanitised email HTML."""

from __future__ import annotations

import pytest

from missedmail.composing.content import RenderContext, message_html
from missedmail.composing.content.dialect import MAX_QUOTE_NESTING
from tests.unit.composing.content.readers import (
    EMOJI_IMAGES,
    LINK,
    REALM_URL,
    SPOILER_NOTE_HTML,
    reader,
)


def html_of(content: str, timezone: str = "", *, twenty_four_hour_time: bool = False) -> str:
    return message_html(
        content, None, reader(timezone, twenty_four_hour_time=twenty_four_hour_time)
    )


def test_a_plain_message_is_one_paragraph() -> None:
    assert html_of("hello there") == "<p>hello there</p>"


def test_a_single_newline_is_a_line_break_as_in_chat() -> None:
    assert html_of("line one\nline two") == "<p>line one<br>\nline two</p>"


def test_emphasis_strikethrough_and_code_are_commonmark() -> None:
    assert html_of("**bold** *it* ~~gone~~ `x < y`") == (
        "<p><strong>bold</strong> <em>it</em> <s>gone</s> <code>x &lt; y</code></p>"
    )


def test_headings_quotes_lists_and_rules_are_kept() -> None:
    assert html_of("# Title\n\n> quoted\n\n3. three\n4. four\n\n- a\n\n---") == (
        "<h1>Title</h1>\n<blockquote>\n<p>quoted</p>\n</blockquote>\n"
        '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>\n<ul>\n<li>a</li>\n</ul>\n<hr>'
    )


def test_a_table_is_a_table_without_its_alignment_styles() -> None:
    assert html_of("| a | b |\n|:--|--:|\n| 1 | 2 |") == (
        "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n"
        "<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>"
    )


def test_a_code_block_keeps_the_dialect_syntax_as_code() -> None:
    assert html_of("```python\n@**King Hamlet** :smile: <b>\n```") == (
        "<pre><code>@**King Hamlet** :smile: &lt;b&gt;\n</code></pre>"
    )


def test_raw_html_in_markdown_is_escaped_text() -> None:
    assert html_of('<b>hi</b> <img src=x onerror="alert(1)">') == (
        '<p>&lt;b&gt;hi&lt;/b&gt; &lt;img src=x onerror="alert(1)"&gt;</p>'
    )


def test_user_mentions_show_the_name_with_an_at_sign() -> None:
    assert html_of("@**King Hamlet**, @**King Hamlet|10** and @_**Othello, the Moor**") == (
        '<p><span class="user-mention">@King Hamlet</span>, '
        '<span class="user-mention">@King Hamlet</span> and '
        '<span class="user-mention">@Othello, the Moor</span></p>'
    )


def test_group_mentions_loud_and_silent() -> None:
    assert html_of("@*support* and @_*support*") == (
        '<p><span class="user-group-mention">@support</span> and '
        '<span class="user-group-mention">@support</span></p>'
    )


def test_stream_wildcards_are_mentions_and_topic_wildcard_a_topic_mention() -> None:
    assert html_of("@**all** @**everyone** @**channel** @**stream** @**topic**") == (
        '<p><span class="user-mention">@all</span> <span class="user-mention">@everyone</span>'
        ' <span class="user-mention">@channel</span> <span class="user-mention">@stream</span>'
        ' <span class="topic-mention">@topic</span></p>'
    )


def test_a_mention_must_start_a_word() -> None:
    assert html_of("hamlet@**x**") == "<p>hamlet@<strong>x</strong></p>"


def test_mention_names_are_escaped() -> None:
    assert html_of("@**<img src=x onerror=alert(1)>**") == (
        '<p><span class="user-mention">@&lt;img src=x onerror=alert(1)&gt;</span></p>'
    )


def test_stream_links_point_at_the_stream_narrow() -> None:
    assert html_of("see #**Denmark**") == (
        f'<p>see <a class="stream" href="{REALM_URL}/#narrow/channel/3-Denmark" {LINK}>'
        "#Denmark</a></p>"
    )


def test_topic_links_point_at_the_topic_narrow() -> None:
    assert html_of("#**Verona>release plan**") == (
        f'<p><a class="stream-topic" href="{REALM_URL}/#narrow/channel/4-Verona/topic/'
        f'release.20plan" {LINK}>#Verona &gt; release plan</a></p>'
    )


def test_stream_names_are_matched_whatever_their_case() -> None:
    assert html_of("#**DENMARK**") == (
        f'<p><a class="stream" href="{REALM_URL}/#narrow/channel/3-DENMARK" {LINK}>#DENMARK</a></p>'
    )


def test_an_unknown_stream_is_plain_text() -> None:
    assert html_of("#**Elsinore** and #**Elsinore>walls**") == (
        "<p>#Elsinore and #Elsinore &gt; walls</p>"
    )


def test_emoji_become_images_from_the_realm() -> None:
    assert html_of("hi :smile:") == (
        f'<p>hi <img alt=":smile:" class="emoji" height="20" src="{EMOJI_IMAGES}/1f604.png"'
        ' title="smile" width="20"></p>'
    )


def test_emoji_aliases_and_code_points_follow_zulip() -> None:
    assert html_of(":thumbs_up: :+1: :heart:") == (
        f'<p><img alt=":thumbs_up:" class="emoji" height="20" src="{EMOJI_IMAGES}/1f44d.png"'
        ' title="thumbs up" width="20">'
        f' <img alt=":+1:" class="emoji" height="20" src="{EMOJI_IMAGES}/1f44d.png"'
        ' title="+1" width="20">'
        f' <img alt=":heart:" class="emoji" height="20" src="{EMOJI_IMAGES}/2764.png"'
        ' title="heart" width="20"></p>'
    )


def test_unknown_emoji_names_and_clock_times_stay_text() -> None:
    assert html_of(":not_an_emoji: at 10:100:20") == "<p>:not_an_emoji: at 10:100:20</p>"


def test_inline_math_is_shown_as_its_tex_source() -> None:
    assert html_of("so $$x^2 < \\frac{a}{b}$$ holds, for $5") == (
        "<p>so <code>$$x^2 &lt; \\frac{a}{b}$$</code> holds, for $5</p>"
    )


def test_a_math_fence_is_one_paragraph_of_tex_per_formula() -> None:
    assert html_of("```math\n\\int_0^1 x\\,dx\n\n\\sum_i i\n```") == (
        "<p><code>$$\\int_0^1 x\\,dx$$</code></p>\n<p><code>$$\\sum_i i$$</code></p>"
    )


def test_a_spoiler_keeps_its_header_and_drops_its_body() -> None:
    assert html_of("```spoiler Plot *twist*\nthe body stays hidden\n```") == (
        f'<div class="spoiler-block"><p>Plot <em>twist</em> {SPOILER_NOTE_HTML}</p></div>'
    )


def test_a_spoiler_without_header_is_only_the_note() -> None:
    assert html_of("```spoiler\nthe body stays hidden\n```") == (
        f'<div class="spoiler-block"><p>{SPOILER_NOTE_HTML}</p></div>'
    )


def test_a_quote_fence_is_a_blockquote_of_markdown() -> None:
    assert html_of("```quote\nsomeone said @**Iago**\n```") == (
        '<blockquote>\n<p>someone said <span class="user-mention">@Iago</span></p>\n</blockquote>'
    )


def test_a_spoiler_inside_a_quote_fence_is_collapsed_too() -> None:
    assert html_of("````quote\n```spoiler Twist\nhidden\n```\n````") == (
        f'<blockquote>\n<div class="spoiler-block"><p>Twist {SPOILER_NOTE_HTML}</p></div>\n'
        "</blockquote>"
    )


def test_a_time_is_shown_in_the_readers_zone_and_12_hour_clock() -> None:
    assert html_of("<time:2025-09-30T16:30:00Z>") == (
        '<p><time datetime="2025-09-30T16:30:00Z">Tue, Sep 30, 2025, 4:30 PM UTC</time></p>'
    )


def test_a_time_is_shown_in_the_readers_zone_and_24_hour_clock() -> None:
    assert html_of("<time:2025-09-30T16:30:00Z>", "Europe/Berlin", twenty_four_hour_time=True) == (
        '<p><time datetime="2025-09-30T16:30:00Z">Tue, Sep 30, 2025, 18:30 CEST</time></p>'
    )


def test_a_time_given_as_epoch_seconds_or_with_an_offset_is_normalised_to_utc() -> None:
    assert html_of("<time:1759249800> <time:2025-09-30T18:30:00+02:00>") == (
        '<p><time datetime="2025-09-30T16:30:00Z">Tue, Sep 30, 2025, 4:30 PM UTC</time> '
        '<time datetime="2025-09-30T16:30:00Z">Tue, Sep 30, 2025, 4:30 PM UTC</time></p>'
    )


def test_links_keep_their_text_and_relative_ones_become_absolute() -> None:
    assert html_of(
        "[docs](https://example.com/docs) [report](/user_uploads/1/ab/report.pdf) "
        "[there](#narrow/channel/3-Denmark)"
    ) == (
        f'<p><a href="https://example.com/docs" {LINK}>docs</a> '
        f'<a href="{REALM_URL}/user_uploads/1/ab/report.pdf" {LINK}>report</a> '
        f'<a href="{REALM_URL}/#narrow/channel/3-Denmark" {LINK}>there</a></p>'
    )


def test_a_link_title_that_is_a_narrow_becomes_absolute() -> None:
    assert html_of('[x](#narrow/dm/10-Hamlet "#narrow/dm/10-Hamlet") [y](/a "a title")') == (
        f'<p><a href="{REALM_URL}/#narrow/dm/10-Hamlet" title="{REALM_URL}/#narrow/dm/10-Hamlet"'
        f' {LINK}>x</a> <a href="{REALM_URL}/a" title="a title" {LINK}>y</a></p>'
    )


def test_bare_urls_are_linked() -> None:
    assert html_of("https://example.com/a?b=1&c=2 and www.example.com") == (
        f'<p><a href="https://example.com/a?b=1&amp;c=2" {LINK}>https://example.com/a?b=1&amp;c=2'
        f'</a> and <a href="http://www.example.com" {LINK}>www.example.com</a></p>'
    )


def test_an_image_is_a_link_to_it_not_an_inline_image() -> None:
    assert html_of("![the cat](/user_uploads/1/cat.png) ![](https://example.com/dog.png)") == (
        f'<p><a href="{REALM_URL}/user_uploads/1/cat.png" {LINK}>the cat</a> '
        f'<a href="https://example.com/dog.png" {LINK}>https://example.com/dog.png</a></p>'
    )


@pytest.mark.parametrize(
    "content",
    ["[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", "[x](data:text/html,hi)"],
)
def test_a_link_to_a_dangerous_scheme_is_not_a_link(content: str) -> None:
    assert "<a" not in html_of(content)


def test_a_realm_url_with_a_trailing_slash_builds_the_same_links() -> None:
    with_slash = reader(realm_url=REALM_URL + "/")
    assert message_html("[r](/user_uploads/1/r.pdf)", None, with_slash) == (
        f'<p><a href="{REALM_URL}/user_uploads/1/r.pdf" {LINK}>r</a></p>'
    )


def test_the_same_message_is_rendered_for_each_readers_zone_and_clock() -> None:
    content = "<time:2025-09-30T16:30:00Z>"
    assert "4:30 PM UTC" in html_of(content)
    assert "18:30 CEST" in html_of(content, "Europe/Berlin", twenty_four_hour_time=True)
    assert "12:30 PM EDT" in html_of(content, "America/New_York")


def test_the_same_message_links_the_streams_the_context_knows() -> None:
    known = RenderContext(REALM_URL, "", False, {"elsinore": 9})
    assert html_of("#**Elsinore**") == "<p>#Elsinore</p>"
    assert message_html("#**Elsinore**", None, known) == (
        f'<p><a class="stream" href="{REALM_URL}/#narrow/channel/9-Elsinore" {LINK}>'
        "#Elsinore</a></p>"
    )


def test_quotes_nested_beyond_the_limit_show_an_ellipsis_and_never_a_spoiler_body() -> None:
    content = "```spoiler Twist\nthe secret\n```"
    for depth in range(MAX_QUOTE_NESTING + 2):
        fence = "`" * (4 + depth)
        content = f"{fence}quote\n{content}\n{fence}"
    shown = html_of(content)
    assert "the secret" not in shown
    assert "Twist" not in shown
    assert shown.count("<blockquote>") == MAX_QUOTE_NESTING + 1
    assert "<p>…</p>" in shown


def test_a_spoiler_header_may_follow_a_tab() -> None:
    assert html_of("```spoiler\tTwist\nhidden\n```") == (
        f'<div class="spoiler-block"><p>Twist {SPOILER_NOTE_HTML}</p></div>'
    )


def test_emoji_typed_as_characters_become_images_too() -> None:
    assert html_of("ok 👍 and 👨‍👩‍👧") == (
        f'<p>ok <img alt=":thumbsup:" class="emoji" height="20" src="{EMOJI_IMAGES}/1f44d.png"'
        ' title="thumbsup" width="20"> and <img alt=":family_man_woman_girl:" class="emoji"'
        f' height="20" src="{EMOJI_IMAGES}/1f468-200d-1f469-200d-1f467.png"'
        ' title="family man woman girl" width="20"></p>'
    )


def test_text_symbols_and_emoji_in_code_stay_characters() -> None:
    assert html_of("© ™ 1 `😀`\n\n```\n😀\n```") == (
        "<p>© ™ 1 <code>😀</code></p>\n<pre><code>😀\n</code></pre>"
    )


def test_a_message_link_points_near_the_message() -> None:
    assert html_of("#**Denmark>castle walls@4005**") == (
        f'<p><a class="message-link" href="{REALM_URL}/#narrow/channel/3-Denmark/topic/'
        f'castle.20walls/near/4005" {LINK}>#Denmark &gt; castle walls @ 💬</a></p>'
    )


def test_a_topic_containing_an_at_sign_without_an_id_is_a_topic_link() -> None:
    assert html_of("#**Denmark>a@b**") == (
        f'<p><a class="stream-topic" href="{REALM_URL}/#narrow/channel/3-Denmark/topic/a.40b"'
        f" {LINK}>#Denmark &gt; a@b</a></p>"
    )


def test_a_commonmark_autolink_is_a_link() -> None:
    assert html_of("<https://example.com/a> <mailto:a@example.com>") == (
        f'<p><a href="https://example.com/a" {LINK}>https://example.com/a</a> '
        f'<a href="mailto:a@example.com" {LINK}>mailto:a@example.com</a></p>'
    )


def test_the_spoiler_note_and_times_are_in_the_readers_language() -> None:
    german = RenderContext(REALM_URL, "Europe/Berlin", True, {}, "de")
    assert message_html(
        "```spoiler Ende\nalle tot\n```\n<time:2025-09-30T16:30:00Z>", None, german
    ) == (
        '<div class="spoiler-block"><p>Ende <span class="spoiler-title">(Öffnen Sie die '
        "Unterhaltung, um den Spoiler-Inhalt zu sehen)</span></p></div>\n"
        '<p><time datetime="2025-09-30T16:30:00Z">Di., 30. September 2025, 18:30 CEST</time></p>'
    )


def test_renderings_in_two_languages_do_not_share_a_cache_entry() -> None:
    content = "```spoiler\nx\n```"
    english = message_html(content, None, reader())
    french = message_html(content, None, RenderContext(REALM_URL, "", False, {}, "fr"))
    assert "Open the conversation" in english
    assert "Ouvrez la conversation" in french
