"""The HTML document is assembled in Python (composing/htmlbody.py); before that it was a
Django template. The template is kept here (reference/missed_message.html, frozen) and
rendered with autoescaping as before: the assembled document must be the same string for
every combination of sections, including hostile text, so the change of engine changed
nothing an email says or how it escapes it."""

from __future__ import annotations

from pathlib import Path

from django.template import Context, Engine
from hypothesis import given, settings
from hypothesis import strategies as st

from missedmail.composing.content import RenderContext
from missedmail.composing.htmlbody import HtmlPage, document, escape, web_url
from missedmail.composing.sections import EmailSections

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
CTX = RenderContext(realm_url="https://chat.example.com", timezone="", twenty_four_hour_time=False)
HOSTILE = ["", "plain", "<script>alert(1)</script>", "a & b", "\"quoted\" 'single'", "é ✓ 日本"]


def reference(page: HtmlPage) -> str:
    engine = Engine(dirs=[str(REFERENCE_DIR)], autoescape=True)
    return engine.get_template("missed_message.html").render(Context({"page": page}))


def page(
    *,
    text: str = "words",
    hidden_notice: str | None = None,
    reason: str | None = "You are receiving this because you were mentioned.",
    replies_not_read: str | None = "Replies to this email are not read.",
    link: str | None = "https://chat.example.com/#narrow/dm/1",
    settings_url: str | None = "https://chat.example.com/#settings/notifications",
    blocks: tuple[tuple[str, ...], ...] = (("<p><b>Iago</b>: hi</p>", "<p>two</p>"),),
    language: str = "en",
    direction: str = "ltr",
) -> HtmlPage:
    sections = EmailSections(
        language=language,
        subject=f"subject {text}",
        heading=f"heading {text}",
        summary=f"summary {text}",
        blocks=(),  # the page carries its blocks as fragments
        hidden_notice=hidden_notice,
        reason=reason,
        action=f"Reply {text}:",
        link=link or "",
        link_label=f"Open {text}",
        replies_not_read=replies_not_read,
        settings_label="Manage email preferences:",
        settings_link_label=f"Manage {text}",
        settings_url=settings_url or "",
        render=CTX,
    )
    return HtmlPage(
        sections=sections,
        blocks=blocks,
        direction=direction,
        link=link,
        settings_url=settings_url,
    )


def test_a_typical_page_is_the_templates_output() -> None:
    typical = page()
    assert document(typical) == reference(typical)


def test_a_page_with_every_optional_part_absent_is_the_templates_output() -> None:
    bare = page(reason=None, replies_not_read=None, link=None, settings_url=None, blocks=())
    assert document(bare) == reference(bare)


def test_a_hidden_content_page_is_the_templates_output() -> None:
    hidden = page(hidden_notice="Content is hidden by your settings.", blocks=())
    assert document(hidden) == reference(hidden)


def test_empty_strings_count_as_absent_as_they_did_in_the_template() -> None:
    empty = page(hidden_notice="", reason="", replies_not_read="", link="", settings_url="")
    assert document(empty) == reference(empty)


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40)),
    hidden_notice=st.one_of(st.none(), st.sampled_from(HOSTILE)),
    reason=st.one_of(st.none(), st.sampled_from(HOSTILE)),
    replies_not_read=st.one_of(st.none(), st.sampled_from(HOSTILE)),
    link=st.one_of(
        st.none(), st.sampled_from(["", 'https://x.example/"><script>', "http://a?b&c"])
    ),
    settings_url=st.one_of(st.none(), st.sampled_from(["", "https://x.example/#settings"])),
    blocks=st.lists(st.lists(st.sampled_from(["<p>a</p>", "<ul><li>b</li></ul>"]), max_size=3)).map(
        lambda blocks: tuple(tuple(block) for block in blocks)
    ),
    language=st.sampled_from(["en", "de", "ar", 'x"<']),
    direction=st.sampled_from(["ltr", "rtl"]),
)
def test_any_page_is_the_templates_output(
    text: str,
    hidden_notice: str | None,
    reason: str | None,
    replies_not_read: str | None,
    link: str | None,
    settings_url: str | None,
    blocks: tuple[tuple[str, ...], ...],
    language: str,
    direction: str,
) -> None:
    any_page = page(
        text=text,
        hidden_notice=hidden_notice,
        reason=reason,
        replies_not_read=replies_not_read,
        link=link,
        settings_url=settings_url,
        blocks=blocks,
        language=language,
        direction=direction,
    )
    assert document(any_page) == reference(any_page)


def test_escape_covers_both_quote_characters_and_markup() -> None:
    assert escape("""<a href="x" title='y'>&</a>""") == (
        "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;"
    )


def test_only_web_urls_become_links() -> None:
    assert web_url("javascript:alert(1)") is None
    assert web_url("HTTPS://chat.example.com/x") == "HTTPS://chat.example.com/x"
