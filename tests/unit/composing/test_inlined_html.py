"""The HTML part's CSS is inlined in pieces (composing/inlining.py): the page around the
messages once per shape of page, each message fragment once. Every email must still be
the exact string the inliner gives when it runs over the whole page, as `html_body` did
for every email before; `whole_page` below is that, frozen here as the oracle."""

from __future__ import annotations

import itertools
from functools import cache

import css_inline
from bench.data import CONTENT_TEMPLATES
from hypothesis import given, settings
from hypothesis import strategies as st

from missedmail.composing.content import message_html, prepend_sender_html
from missedmail.composing.content.sanitize import ALLOWED_TAGS
from missedmail.composing.htmlbody import (
    INLINED_FRAGMENTS,
    HtmlPage,
    block_fragments,
    document,
    html_body,
    inlined_in_page,
    inlined_page,
    probed,
    web_url,
)
from missedmail.composing.inlining import (
    CONTEXT_FREE_TAGS,
    ENTRY_OVERHEAD,
    MARK_OPEN,
    InlinedFragments,
    context_free,
)
from missedmail.composing.languages import text_direction
from missedmail.composing.sections import EmailSections, MessageBlock
from missedmail.composing.wellformed import well_formed
from tests.unit.composing.content.readers import reader
from tests.unit.composing.messages import stream_msg
from tests.unit.composing.test_html_document import page

HOSTILE_TEXT = [
    "", "plain", "<script>alert(1)</script>", "a & b", "\"quoted\" 'single'", "é ✓ 日本",
    "\r", "\r\n", "a\rb", "\x00", "a\x00b", "\xa0", "non\xa0breaking", "\ud800", "\udc00x",
    "&amp;", "&nbsp;", "</title>", "<title>", "</p>", "<!--", "\x0b\x0c\x7f\x85", "\ufeff",
    "\u2028", "\ue000", "\ue0010\ue001", "\ue0001000\ue001", "  spaced  ", "\n", "\t",
]  # fmt: skip
text = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=20))
texts = st.lists(text, max_size=4).map("".join)
optional = st.one_of(st.none(), st.just(""), texts)
url = st.one_of(
    st.none(),
    st.just(""),
    st.sampled_from(["https://chat.example.com/#narrow/dm/1", 'http://a?b&c"<>\r\x00\xa0']),
    texts.map(lambda value: "https://x.example/" + value),
)

# Fragments as the sanitiser writes them, then hostile ones, which no message produces
# but which `html_body` must still get right (by inlining their page whole).
SANITISED = [
    "<p>a</p>",
    "<ul><li>b</li></ul>",
    '<p><b dir="auto">Iago</b>: hi &amp; bye&nbsp;x &lt;b&gt;</p>',
    "<table><thead><tr><th>h</th></tr></thead><tbody><tr><td>d</td></tr></tbody></table>",
    '<div class="spoiler-block"><span class="spoiler-title">s</span></div>',
    '<p><img class="emoji" alt=":x:" src="https://chat.example.com/e.png"> <br>x</p><hr>',
    "<pre><code>\nfirst line kept\n</code></pre>",
    '<p><a href="https://a.example/?q=&quot;&lt;" title="x">l</a></p>',
    "",
    "text only",
]
HOSTILE_FRAGMENTS = [
    "<b>unclosed", "<div>unclosed", "</div>", "</div></div><p>x", "<table><tr><td>x",
    "<table><div>x</div></table>", "<p>a<div>b</div>c</p>", "<a href=\"x\"><a>y</a></a>",
    "<style>p { color: red !important; }</style><p>x</p>", "<body class=\"mm-card\">x",
    "<html dir=\"rtl\">", "<textarea>", "<plaintext>", "<!-- x", "<b title=\"</b>\">x",
    "<B>x</B>", "<p style=\"color: blue\">x</p>", "<p style=\"margin: 1px !important\">x</p>",
    '<div class="mm-footer"><p>x</p></div>', '<span class="user-mention mm-heading">x</span>',
    '<div class="mm-message"><a href="https://x">y</a></div>', "<frameset>", "<title>t",
    "<svg><style>p{color:red}</style></svg>", "\ue0002000\ue001", "a\r", "\r\n<pre>\nx</pre>",
    "<p>a\x00b</p>", "<br/>", "</br>", "<li>x</li>", "<h1>a<h2>b</h2></h1>", "<code>x",
    '<img src="x" style="width: 1px">', "<p>\ud83d</p>", "<table></table></table>", "<p></p></p>",
]  # fmt: skip
TAGS = sorted(CONTEXT_FREE_TAGS | {"style", "body", "textarea", "span"})
ATTRIBUTES = [
    "", ' class="emoji"', ' class="user-mention"', ' class="spoiler-block"', ' dir="auto"',
    ' class="mm-notice"', ' style="color: green"', ' style="padding: 0 !important"',
    ' title="a &lt; &quot; b"', ' href="https://x.example/?a&amp;b"',
]  # fmt: skip


def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A well-nested element of any tag with hostile attributes: most pass the page's
    check for fragments it can inline alone, so their styles are compared too."""
    return st.tuples(st.sampled_from(TAGS), st.sampled_from(ATTRIBUTES), children).map(
        lambda parts: f"<{parts[0]}{parts[1]}>{parts[2]}</{parts[0]}>"
    )


nested = st.recursive(
    st.sampled_from(["x", "", " ", "a &amp; b", "\n", "<br>", '<img class="emoji" alt="e">']),
    lambda children: element(st.lists(children, max_size=3).map("".join)),
    max_leaves=8,
)
glued = st.lists(
    st.sampled_from([*HOSTILE_FRAGMENTS, "<p>", "</p>", "<b>", "</b>", "text", "<div>", "</div>"]),
    max_size=4,
).map("".join)


@cache
def realistic() -> tuple[str, ...]:
    """The sanitised fragments of realistic chat messages (the benchmark's), with and
    without the sender's name before them."""
    ctx = reader("Europe/Berlin")
    fragments = []
    for number, template in enumerate(CONTENT_TEMPLATES):
        content = template.format(n=number + 41, name="King Hamlet")
        fragment = message_html(content, None, ctx)
        fragments += [fragment, prepend_sender_html(fragment, f"Sender {number} & <co>")]
    return tuple(fragments)


fragment = st.one_of(
    st.sampled_from(SANITISED),
    st.sampled_from(HOSTILE_FRAGMENTS),
    st.deferred(lambda: st.sampled_from(realistic())),
    nested,
    glued,
)
blocks = st.lists(st.lists(fragment, max_size=3), max_size=4).map(
    lambda lists: tuple(tuple(block) for block in lists)
)


def whole_page(page: HtmlPage) -> str:
    """The oracle: the inliner run over the whole page, as `html_body` did before."""
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
    inlined: str = inliner.inline(well_formed(document(page)))
    return inlined


@settings(max_examples=400, deadline=None)
@given(
    text=texts,
    hidden_notice=optional,
    reason=optional,
    replies_not_read=optional,
    link=url,
    settings_url=url,
    blocks=blocks,
    language=st.one_of(st.sampled_from(["en", "de", "ar"]), texts),
    direction=st.one_of(st.sampled_from(["ltr", "rtl"]), texts),
)
def test_any_page_is_what_the_inliner_writes_for_the_whole_page(
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
    expected = whole_page(any_page)
    assert inlined_page(any_page) == expected
    # Again, with every fragment of the page now cached (or known not to be cacheable).
    assert inlined_page(any_page) == expected


ordinary = st.recursive(
    st.sampled_from(["x", "", " ", "a &amp; b", "\n", "<br>", '<img class="emoji" alt="e">']),
    lambda children: st.tuples(
        st.sampled_from(sorted(CONTEXT_FREE_TAGS - {"br", "hr", "img"})),
        st.sampled_from(ATTRIBUTES),
        st.lists(children, max_size=3).map("".join),
    ).map(lambda parts: f"<{parts[0]}{parts[1]}>{parts[2]}</{parts[0]}>"),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    text=texts,
    blocks=st.lists(
        st.lists(
            st.one_of(
                st.sampled_from(SANITISED),
                st.deferred(lambda: st.sampled_from(realistic())),
                ordinary,
            ),
            min_size=1,
            max_size=4,
        ),
        max_size=4,
    ).map(lambda lists: tuple(tuple(block) for block in lists)),
    reason=optional,
    link=url,
)
def test_pages_of_well_nested_fragments_are_what_the_inliner_writes_for_the_whole_page(
    text: str, blocks: tuple[tuple[str, ...], ...], reason: str | None, link: str | None
) -> None:
    # Fragments like the sanitiser's, nearly all written from the cache, with hostile
    # styles and classes: specificity, !important and styles already there.
    any_page = page(text=text, blocks=blocks, reason=reason, link=link)
    expected = whole_page(any_page)
    assert inlined_page(any_page) == expected
    assert inlined_page(any_page) == expected


def test_every_combination_of_the_optional_parts_is_the_whole_page_output() -> None:
    for notice, reason, replies, link, settings_url, has_blocks in itertools.product(
        [None, "", "Hidden \r\n\x00\xa0<>&\"'"],
        [None, "Because\x00 & <b>"],
        [None, "Not read\xa0"],
        [None, 'https://x.example/?a&b="c"\r\n'],
        [None, "https://x.example/#settings\x00"],
        [False, True],
    ):
        each = page(
            text="t\r\x00\xa0&<>\"'",
            hidden_notice=notice,
            reason=reason,
            replies_not_read=replies,
            link=link,
            settings_url=settings_url,
            blocks=(("<p>a</p>", "<p>b</p>"), ("<p>c</p>",)) if has_blocks else (),
        )
        assert inlined_page(each) == whole_page(each)


def old_html_body(sections: EmailSections) -> str:
    """`html_body` as it was: the same page, inlined whole."""
    return whole_page(
        HtmlPage(
            sections=sections,
            blocks=tuple(block_fragments(block, sections) for block in sections.blocks),
            direction=text_direction(sections.language),
            link=web_url(sections.link),
            settings_url=web_url(sections.settings_url),
        )
    )


def test_emails_of_realistic_messages_are_the_old_html_body_cold_and_warm() -> None:
    INLINED_FRAGMENTS.clear()
    contents = [template.format(n=7, name="Iago") for template in CONTENT_TEMPLATES]
    messages = [stream_msg(100 + n, content=content) for n, content in enumerate(contents)]
    runs = [
        MessageBlock(sender_name=name, messages=tuple(messages[start : start + 3]))
        for start, name in zip(range(0, len(messages), 3), itertools.cycle(["Iago", None]))
    ]
    base = page().sections
    for language, blocks in [("en", tuple(runs)), ("ar", tuple(runs[1:3])), ("de", ())]:
        sections = EmailSections(**{**vars(base), "language": language, "blocks": blocks})
        expected = old_html_body(sections)
        assert html_body(sections) == expected
        assert html_body(sections) == expected


def test_realistic_fragments_are_inlined_apart_from_their_page_alone_and_together() -> None:
    fragments = realistic()
    assert all(context_free(fragment) for fragment in fragments)
    alone = [inlined_in_page([fragment]) for fragment in fragments]
    assert all(result is not None for result in alone)
    assert inlined_in_page(fragments) == [result[0] for result in alone if result is not None]


def test_a_fragment_that_leaks_into_what_follows_is_not_inlined_apart_from_its_page() -> None:
    # Past the lexical check (which would refuse them), the probe page still shows it.
    for leaking in ["<b>unclosed", "<div>unclosed", "<table><tr><td>x", "</div>", "<!-- x"]:
        assert inlined_in_page([leaking]) is None
        assert inlined_in_page(["<p>fine</p>", leaking]) is None
    assert probed(["<p>fine</p>", "<b>unclosed"]) == {
        # Optional by its type; a well-formed fragment alone is never None (tested above).
        "<p>fine</p>": inlined_in_page(["<p>fine</p>"])[0],  # type: ignore[index]
        "<b>unclosed": None,
    }


def test_fragments_whose_leaks_cancel_out_in_one_page_are_not_taken_from_it() -> None:
    # The first leaves a <div> open, the second closes one too many: inlined together they
    # give the probe page its expected shape, yet neither is right apart from the other.
    opens, closes = '<div class="spoiler-block">x', "</div>y"
    INLINED_FRAGMENTS.clear()
    assert probed([opens, closes]) == {opens: None, closes: None}
    for blocks in [((opens,), (closes,)), ((opens,),), ((closes,),), ((opens, closes),)]:
        each = page(blocks=blocks)
        assert inlined_page(each) == whole_page(each)


def test_only_fragments_html_reads_as_written_in_the_sanitisers_syntax_are_context_free() -> None:
    for accepted in SANITISED:
        assert context_free(accepted), accepted
    for refused in [
        "<b>x",
        "x</b>",
        "<b><i></b></i>",
        "<style></style>",
        "<body></body>",
        "<textarea></textarea>",
        "<B>x</B>",
        "<!-- c -->",
        "a < b",
        "<p class=x></p>",
        "<p title='x'></p>",
        "<br/>",
        "</br>",
        f"<p>{MARK_OPEN}</p>",
        # Well nested, yet HTML reads them otherwise:
        "<li><div><li></li></div></li>",  # the inner <li> closes the outer one and the <div>
        "<p><div></div></p>",  # the <div> closes the <p>
        "<p><span><ul></ul></span></p>",
        "<h1><h2></h2></h1>",
        '<a href="x"><b><a href="y"></a></b></a>',
        "<table><tr><td></td></tr></table>",  # rows need their <tbody> written
        "<table><tbody>x<tr></tr></tbody></table>",  # text in a table is moved out of it
        "<b><table></table></b>",
        "<td></td>",
    ]:
        assert not context_free(refused), refused


@settings(max_examples=300, deadline=None)
@given(st.lists(ordinary, min_size=1, max_size=5))
def test_fragments_read_as_written_give_the_same_output_alone_and_together(
    fragments: list[str],
) -> None:
    free = [fragment for fragment in fragments if context_free(fragment)]
    alone = [inlined_in_page([fragment]) for fragment in free]
    assert None not in alone
    assert inlined_in_page(free) == [result[0] for result in alone if result is not None]


def test_every_tag_the_sanitiser_allows_can_be_inlined_apart_from_its_page() -> None:
    assert ALLOWED_TAGS <= CONTEXT_FREE_TAGS


def test_the_fragment_cache_holds_at_most_its_characters_and_keeps_the_recently_used() -> None:
    cache = InlinedFragments(characters=3 * (ENTRY_OVERHEAD + 20))
    cache.remember({"a" * 10: "A" * 10, "b" * 10: None})
    assert cache.known(["a" * 10]) == {"a" * 10: "A" * 10}  # now the most recently used
    cache.remember({"c" * 10: "C" * 10, "d" * 10: "D" * 10})
    assert cache.held() <= 3 * (ENTRY_OVERHEAD + 20)
    assert cache.known(["a" * 10, "b" * 10, "c" * 10, "d" * 10]) == {
        "a" * 10: "A" * 10,
        "c" * 10: "C" * 10,
        "d" * 10: "D" * 10,
    }
    cache.clear()
    assert cache.held() == 0
    assert cache.known(["a" * 10]) == {}
