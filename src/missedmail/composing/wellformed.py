"""Text that UTF-8 can encode.

A Python string can hold lone surrogates (JSON's "\\ud800" decodes to one), which no
UTF-8 encoder accepts: the sanitiser and the CSS inliner (both Rust) would raise, and the
whole batch would fail for one bad character. They become U+FFFD, as an invalid byte
sequence would.
"""

from __future__ import annotations


def well_formed(text: str) -> str:
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
