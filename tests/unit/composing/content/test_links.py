from __future__ import annotations

import pytest

from missedmail.composing.content.links import absolute_title, absolute_url
from tests.unit.composing.content.readers import REALM_URL


@pytest.mark.parametrize(
    ("url", "absolute"),
    [
        ("/user_uploads/1/a.pdf", f"{REALM_URL}/user_uploads/1/a.pdf"),
        ("#narrow/channel/3-Denmark", f"{REALM_URL}/#narrow/channel/3-Denmark"),
        ("/#narrow/dm/10-Hamlet", f"{REALM_URL}/#narrow/dm/10-Hamlet"),
        ("#settings", f"{REALM_URL}/#settings"),
        ("help/x", f"{REALM_URL}/help/x"),
        ("//cdn.example.com/a", "https://cdn.example.com/a"),
        ("https://example.com/a", "https://example.com/a"),
        ("mailto:a@example.com", "mailto:a@example.com"),
        ("javascript:alert(1)", "javascript:alert(1)"),  # left for the sanitiser to drop
        ("http://[broken", "http://[broken"),
    ],
)
def test_relative_urls_resolve_against_the_realm(url: str, absolute: str) -> None:
    assert absolute_url(url, REALM_URL) == absolute


def test_a_title_repeating_the_links_url_follows_it_and_other_titles_stay() -> None:
    assert absolute_title("/a/b", "/a/b", REALM_URL) == f"{REALM_URL}/a/b"
    assert absolute_title("#narrow/x", "/elsewhere", REALM_URL) == f"{REALM_URL}/#narrow/x"
    assert absolute_title("/a/b is here", "/a/b", REALM_URL) == "/a/b is here"
