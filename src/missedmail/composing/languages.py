"""The languages emails are written in (behaviour §2: the user's `default_language`).

An email is only written in a language whose catalogue we ship complete
(`src/missedmail/locale/`); any other choice falls back to English. Django knows far more
languages than we translate, so its own `check_for_language` would accept, say, `ja` and
produce an English email marked `lang="ja"`: screen readers would then read English with
Japanese rules.
"""

from __future__ import annotations

from django.utils.translation import get_language_info

DEFAULT_LANGUAGE = "en"
# Each has a complete catalogue under src/missedmail/locale/ (tests check both facts).
EMAIL_LANGUAGES = ("en", "de", "fr", "es")


def email_language(requested: str) -> str:
    """The shipped language closest to a user's setting: `de` for `de`, `DE`, `de-CH` or
    `de_AT` (Zulip writes both forms); English when we ship nothing close."""
    tag = requested.strip().lower().replace("_", "-")
    if tag in EMAIL_LANGUAGES:
        return tag
    primary = tag.split("-", 1)[0]
    return primary if primary in EMAIL_LANGUAGES else DEFAULT_LANGUAGE


def text_direction(language: str) -> str:
    """`rtl` or `ltr`, for the `dir` attribute of a document in `language`."""
    try:
        bidi = bool(get_language_info(language)["bidi"])
    except KeyError:  # a language Django does not know: ours are all left to right
        bidi = False
    return "rtl" if bidi else "ltr"
