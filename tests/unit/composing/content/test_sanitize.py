"""The allow-list: whatever HTML comes in, only safe markup reaches an email."""

from __future__ import annotations

import pytest

from missedmail.composing.content.sanitize import sanitize_html
from tests.unit.composing.content.readers import LINK, REALM_URL


def clean(fragment: str) -> str:
    return sanitize_html(fragment, REALM_URL)


def test_scripts_and_styles_are_removed_with_their_content() -> None:
    assert clean("<p>a<script>alert(1)</script><style>p{}</style>b</p>") == "<p>ab</p>"


def test_event_handlers_and_style_attributes_are_removed() -> None:
    assert clean('<p onclick="x()" style="color:red" id="p1">a</p>') == "<p>a</p>"


@pytest.mark.parametrize(
    "href",
    ["javascript:alert(1)", " JaVaScRiPt:alert(1)", "vbscript:x", "data:text/html,x", "/relative"],
)
def test_links_keep_only_absolute_http_https_and_mailto_urls(href: str) -> None:
    assert clean(f'<a href="{href}">x</a>') == f"<a {LINK}>x</a>"


@pytest.mark.parametrize("href", ["https://e.com/a", "http://e.com/", "mailto:a@e.com"])
def test_links_with_allowed_schemes_are_kept_with_rel_noopener(href: str) -> None:
    assert clean(f'<a href="{href}" target="_blank" rel="opener">x</a>') == (
        f'<a href="{href}" {LINK}>x</a>'
    )


def test_only_the_realms_images_keep_a_source() -> None:
    assert (
        clean(
            f'<img src="{REALM_URL}/user_uploads/e.png" onerror="x()">'
            '<img src="https://tracker.example/p.gif">'
            '<img src="https://chat.example.com.evil.example/p.gif">'
        )
        == f'<img src="{REALM_URL}/user_uploads/e.png"><img><img>'
    )


def test_unknown_tags_are_unwrapped_and_dangerous_ones_emptied() -> None:
    assert (
        clean(
            '<form action="/x"><input value="v"><label>kept</label></form>'
            '<iframe src="https://e.com"></iframe><object data="x"></object>'
        )
        == "kept"
    )


def test_classes_are_limited_to_the_styling_hooks() -> None:
    assert clean(
        '<span class="user-mention silent">a</span><span class="evil">b</span>'
        '<a class="stream message_embed" href="https://e.com">c</a>'
    ) == (
        '<span class="user-mention">a</span><span class="">b</span>'
        f'<a class="stream" href="https://e.com" {LINK}>c</a>'
    )


def test_comments_are_removed() -> None:
    assert clean("<p>a<!-- secret -->b</p>") == "<p>ab</p>"


def test_the_allowed_structure_is_kept() -> None:
    fragment = (
        '<h2>t</h2><ol start="2"><li><del>d</del></li></ol><table><thead><tr><th>h</th></tr>'
        "</thead><tbody><tr><td>c</td></tr></tbody></table><pre><code>x</code></pre><hr>"
        '<time datetime="2025-09-30T16:30:00Z">then</time>'
    )
    assert clean(fragment) == fragment
