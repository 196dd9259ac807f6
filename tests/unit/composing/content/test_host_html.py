"""Golden tests: a host's `rendered_content` (Zulip's HTML) → the sanitised email HTML."""

from __future__ import annotations

from missedmail.composing.content import message_html
from tests.unit.composing.content.readers import (
    EMOJI_IMAGES,
    LINK,
    REALM_URL,
    SPOILER_NOTE_HTML,
    reader,
)


def html_of(rendered: str, timezone: str = "", *, twenty_four_hour_time: bool = False) -> str:
    # The Markdown source is deliberately different: rendered content takes precedence.
    return message_html(
        "**not this**", rendered, reader(timezone, twenty_four_hour_time=twenty_four_hour_time)
    )


def test_mentions_keep_their_classes_and_lose_their_data_attributes() -> None:
    assert html_of(
        '<p><span class="user-mention" data-user-id="10">@King Hamlet</span> '
        '<span class="user-mention silent" data-user-id="11">Othello</span> '
        '<span class="user-group-mention" data-user-group-id="5">@support</span> '
        '<span class="user-mention channel-wildcard-mention" data-user-id="*">@all</span> '
        '<span class="topic-mention">@topic</span></p>'
    ) == (
        '<p><span class="user-mention">@King Hamlet</span> '
        '<span class="user-mention">Othello</span> '
        '<span class="user-group-mention">@support</span> '
        '<span class="user-mention">@all</span> '
        '<span class="topic-mention">@topic</span></p>'
    )


def test_stream_and_narrow_links_become_absolute_with_their_titles() -> None:
    assert html_of(
        '<p><a class="stream" data-stream-id="3" href="/#narrow/channel/3-Denmark">#Denmark</a> '
        '<a class="stream-topic" data-stream-id="3" href="/#narrow/channel/3-Denmark/topic/test">'
        "#Denmark &gt; test</a> "
        '<a href="#narrow/dm/10-King-Hamlet" title="#narrow/dm/10-King-Hamlet">dm</a></p>'
    ) == (
        f'<p><a class="stream" href="{REALM_URL}/#narrow/channel/3-Denmark" {LINK}>#Denmark</a> '
        f'<a class="stream-topic" href="{REALM_URL}/#narrow/channel/3-Denmark/topic/test" {LINK}>'
        "#Denmark &gt; test</a> "
        f'<a href="{REALM_URL}/#narrow/dm/10-King-Hamlet"'
        f' title="{REALM_URL}/#narrow/dm/10-King-Hamlet" {LINK}>dm</a></p>'
    )


def test_upload_links_become_absolute() -> None:
    assert html_of('<p><a href="/user_uploads/2/ab/notes.txt">notes.txt</a></p>') == (
        f'<p><a href="{REALM_URL}/user_uploads/2/ab/notes.txt" {LINK}>notes.txt</a></p>'
    )


def test_an_image_preview_under_a_link_is_removed() -> None:
    assert (
        html_of(
            '<p><a href="/user_uploads/2/ab/cat.png">cat.png</a></p>\n'
            '<div class="message_inline_image">'
            '<a href="/user_uploads/2/ab/cat.png" title="cat.png">'
            '<img src="/user_uploads/thumbnail/2/ab/cat.png/840x560.webp"></a></div>'
        )
        == f'<p><a href="{REALM_URL}/user_uploads/2/ab/cat.png" {LINK}>cat.png</a></p>'
    )


def test_a_message_that_is_only_an_image_becomes_a_link_to_it() -> None:
    assert (
        html_of(
            '<div class="message_inline_image">'
            '<a href="/user_uploads/2/ab/cat.png" title="cat.png">'
            '<img src="/user_uploads/thumbnail/2/ab/cat.png/840x560.webp"></a></div>'
        )
        == f'<p><a href="{REALM_URL}/user_uploads/2/ab/cat.png" {LINK}>cat.png</a></p>'
    )


def test_an_untitled_image_only_message_links_with_its_url() -> None:
    assert (
        html_of(
            '<div class="message_inline_image"><a href="https://example.com/dog.jpg">'
            '<img src="https://example.com/dog.jpg"></a></div>'
        )
        == f'<p><a href="https://example.com/dog.jpg" {LINK}>https://example.com/dog.jpg</a></p>'
    )


def test_link_previews_and_video_previews_are_removed() -> None:
    assert (
        html_of(
            '<p><a href="https://example.com">https://example.com</a></p>'
            '<div class="message_embed"><a class="message_embed_image" href="https://example.com"'
            ' style="background-image: url(https://example.com/og.png)"></a>'
            '<div class="data-container"><div class="message_embed_title">Example</div></div></div>'
            '<div class="message_inline_image message_inline_video">'
            '<a href="https://example.com/v.mp4"><video src="https://example.com/v.mp4"></video></a>'
            "</div>"
        )
        == f'<p><a href="https://example.com" {LINK}>https://example.com</a></p>'
    )


def test_unicode_emoji_spans_become_realm_images() -> None:
    assert html_of(
        '<p><span aria-label="thumbs up" class="emoji emoji-1f44d" role="img" title="thumbs up">'
        ":thumbs_up:</span></p>"
    ) == (
        f'<p><img alt=":thumbs_up:" class="emoji" height="20" src="{EMOJI_IMAGES}/1f44d.png"'
        ' title="thumbs up" width="20"></p>'
    )


def test_custom_emoji_images_stay_at_emoji_size() -> None:
    assert html_of(
        '<p><img alt=":green_tick:" class="emoji" src="/user_uploads/2/emoji/images/60.png"'
        ' title="green tick"></p>'
    ) == (
        f'<p><img alt=":green_tick:" class="emoji" src="{REALM_URL}/user_uploads/2/emoji/images/'
        '60.png" title="green tick" height="20" width="20"></p>'
    )


def test_images_from_other_hosts_are_dropped() -> None:
    assert html_of('<p>look <img src="https://tracker.example/pixel.gif" alt="x"></p>') == (
        "<p>look </p>"
    )


def test_a_spoiler_keeps_its_header_and_drops_its_content() -> None:
    assert html_of(
        '<div class="spoiler-block"><div class="spoiler-header">\n<p>Plot <strong>twist</strong>'
        '</p>\n</div><div class="spoiler-content" aria-hidden="true">\n<p>he dies</p>\n</div></div>'
    ) == (
        '<div class="spoiler-block">\n'
        f"<p>Plot <strong>twist</strong> {SPOILER_NOTE_HTML}</p>\n</div>"
    )


def test_a_spoiler_without_header_gets_a_paragraph_for_the_note() -> None:
    assert (
        html_of(
            '<div class="spoiler-block"><div class="spoiler-header">\n</div>'
            '<div class="spoiler-content" aria-hidden="true">\n<p>he dies</p>\n</div></div>'
        )
        == f'<div class="spoiler-block">\n<p>{SPOILER_NOTE_HTML}</p></div>'
    )


def test_katex_is_replaced_by_its_tex_source() -> None:
    assert (
        html_of(
            '<p>so <span class="katex"><span class="katex-mathml"><math xmlns="http://www.w3.org/1998/'
            'Math/MathML"><semantics><mrow><msup><mi>x</mi><mn>2</mn></msup></mrow>'
            '<annotation encoding="application/x-tex">x^2</annotation></semantics></math></span>'
            '<span class="katex-html" aria-hidden="true"><span class="base"><span class="mord">x'
            "</span></span></span></span> holds</p>"
        )
        == "<p>so <code>$$x^2$$</code> holds</p>"
    )


def test_display_katex_is_replaced_by_its_tex_source() -> None:
    assert (
        html_of(
            '<p><span class="katex-display"><span class="katex"><span class="katex-mathml"><math>'
            '<semantics><mrow><mi>y</mi></mrow><annotation encoding="application/x-tex">'
            '\\frac{1}{2} &lt; y</annotation></semantics></math></span><span class="katex-html"'
            ' aria-hidden="true">y</span></span></span></p>'
        )
        == "<p><code>$$\\frac{1}{2} &lt; y$$</code></p>"
    )


def test_times_are_shown_for_the_reader() -> None:
    assert (
        html_of(
            '<p><time datetime="2025-09-30T16:30:00Z">2025-09-30T16:30:00Z</time></p>',
            "America/New_York",
            twenty_four_hour_time=True,
        )
        == '<p><time datetime="2025-09-30T16:30:00Z">Tue, Sep 30, 2025, 12:30 EDT</time></p>'
    )


def test_code_highlighting_classes_are_dropped_without_empty_class_attributes() -> None:
    assert (
        html_of(
            '<div class="codehilite" data-code-language="Python"><pre><span></span><code>'
            '<span class="k">def</span> <span class="nf">f</span>():\n</code></pre></div>'
        )
        == "<div><pre><span></span><code><span>def</span> <span>f</span>():\n</code></pre></div>"
    )


def test_unclosed_tags_are_closed() -> None:
    assert html_of("<p>unclosed <b>bold <i>both") == "<p>unclosed <b>bold <i>both</i></b></p>"


def test_a_message_link_keeps_its_class_and_becomes_absolute() -> None:
    assert html_of(
        '<p><a class="message-link" href="/#narrow/channel/3-Denmark/topic/test/near/7">'
        "#Denmark &gt; test @ 💬</a></p>"
    ) == (
        f'<p><a class="message-link" href="{REALM_URL}/#narrow/channel/3-Denmark/topic/test/'
        f'near/7" {LINK}>#Denmark &gt; test @ 💬</a></p>'
    )
