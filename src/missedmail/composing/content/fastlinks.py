"""Two link checks of the Markdown parser, answered sooner, with the very same answers.

Profiling the renderer showed most of a message's parse going to links it does not have:

- linkify-it's `pretest`, run on every paragraph, is one regular expression whose first
  alternative (a URL scheme after a separator) tries a large Unicode class at each
  position; `test`, run on every text token of a paragraph that passes, does the same and
  more. `QuickLinkifyIt` asks the same questions in an order the regex engine answers
  fast: the scheme name first, then the separator before it (a fixed-width lookbehind).
  It builds its expressions from linkify-it's own pattern strings, and only when they have
  the shape it knows (`quick_checks_apply`); otherwise linkify-it answers, as before.
- markdown-it normalises every link's URL (and a linkified URL's text) by parsing and
  re-encoding it with mdurl. For a plain `http(s)` URL — lower-case host labels, no
  punycode, no percent sign, only characters mdurl leaves alone — both give back the URL
  itself, so it is returned at once.

tests/unit/composing/content/test_fast_links.py checks each answer against the libraries'
own on generated input.
"""

from __future__ import annotations

import re
from typing import Any

from linkify_it import LinkifyIt
from markdown_it import MarkdownIt

# How linkify-it 2.x composes its patterns (linkify_it/main.py, `_compile`): a scheme name
# is linked after the start of the text or one separator character (not `_`).
_SEPARATOR = "(?!_)(?:[><\uff5c]|{zpcc})"
_SCHEMA_TEST_HEAD, _SCHEMA_TEST_TAIL = "(^|{separator})(", ")"  # around the names
_PRETEST = "({schema_test})|({host_fuzzy_test})|@"


class _QuickChecks:
    """linkify-it's `pretest`, split into its three alternatives; the scheme alternative
    looks for the scheme name first and at the character before it second."""

    def __init__(self, pretest: str, schema: re.Pattern[str], host: re.Pattern[str]) -> None:
        self.source = pretest  # the pattern string these checks answer for
        self._schema = schema
        self._host = host

    @classmethod
    def of(cls, patterns: dict[str, str]) -> _QuickChecks | None:
        """The checks for linkify-it's `patterns` (its `re`), or None when they are not
        built the way this module knows."""
        schema_test, host_fuzzy_test = patterns["schema_test"], patterns["host_fuzzy_test"]
        separator = _SEPARATOR.format(zpcc=patterns["src_ZPCc"])
        head, tail = _SCHEMA_TEST_HEAD.format(separator=separator), _SCHEMA_TEST_TAIL
        expected_pretest = _PRETEST.format(schema_test=schema_test, host_fuzzy_test=host_fuzzy_test)
        if not (
            schema_test.startswith(head)
            and schema_test.endswith(tail)
            and patterns["pretest"] == expected_pretest
        ):
            return None
        names = schema_test[len(head) : len(schema_test) - len(tail)]
        try:
            # A lookbehind must be of fixed width, so `re` refuses a separator that is not:
            # then "a separator, then a name" is no longer "a name, after a separator".
            schema = re.compile(f"(?=(?:{names}))(?:^|(?<={separator}))", re.IGNORECASE)
        except re.error:
            return None
        return cls(patterns["pretest"], schema, re.compile(host_fuzzy_test, re.IGNORECASE))

    def may_link(self, text: str) -> bool:
        return (
            "@" in text
            or self._host.search(text) is not None
            or self._schema.search(text) is not None
        )


class QuickLinkifyIt(LinkifyIt):  # type: ignore[misc]  # linkify-it has no type hints
    """linkify-it with a faster `pretest` and `test` (same results; see the module)."""

    _checks: _QuickChecks | None = None

    def quick_checks_apply(self) -> bool:
        return self._current_checks() is not None

    def _current_checks(self) -> _QuickChecks | None:
        # linkify-it rebuilds its patterns when schemas or TLDs are added: so do these.
        pretest: str = self.re["pretest"]
        if self._checks is None or self._checks.source is not pretest:
            self._checks = _QuickChecks.of(self.re)
        return self._checks

    def pretest(self, text: str) -> bool:
        checks = self._current_checks()
        if checks is None:
            return bool(super().pretest(text))
        return checks.may_link(text)

    def test(self, text: str) -> bool:
        # Everything `test` finds, `pretest` finds too (each of its searches is for one
        # alternative of `pretest`), and `pretest` is the cheaper of the two.
        return self.pretest(text) and bool(super().test(text))


# A URL that mdurl parses, punycode leaves and mdurl encodes (or decodes) back into itself:
# lower case (mdurl lower-cases scheme and host), host labels as mdurl accepts them and
# not punycode (`xn--`, which the link text would show decoded), at most 63 characters a
# label and 255 a host, and no `%` or other character that encoding would change.
_PLAIN_URL = re.compile(
    r"https?://(?P<host>(?!xn--)[a-z0-9-]{1,63}(?:\.(?!xn--)[a-z0-9-]{1,63})*)"
    r"(?:/[A-Za-z0-9._~/-]*)?(?:\?[A-Za-z0-9._~=&-]*)?(?:#[A-Za-z0-9._~/=&-]*)?"
)
_HOST_MAX_LENGTH = 255


def is_plain_url(url: str) -> bool:
    found = _PLAIN_URL.fullmatch(url)
    return found is not None and len(found["host"]) <= _HOST_MAX_LENGTH


class QuickLinksMarkdownIt(MarkdownIt):
    """MarkdownIt whose URL normalisation returns a plain URL as it is (see the module);
    `linkify` is a `QuickLinkifyIt`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._linkify = QuickLinkifyIt()
        self.linkify = self._linkify

    def may_link(self, text: str) -> bool:
        """linkify-it's pretest: False when `text` holds no link linkify would make."""
        return self._linkify.pretest(text)

    def normalizeLink(self, url: str) -> str:
        return url if is_plain_url(url) else super().normalizeLink(url)

    def normalizeLinkText(self, link: str) -> str:
        return link if is_plain_url(link) else super().normalizeLinkText(link)
