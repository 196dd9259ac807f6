"""Which language an email is written in, and its direction."""

from __future__ import annotations

import pytest

from missedmail.composing.languages import EMAIL_LANGUAGES, email_language, text_direction


@pytest.mark.parametrize(
    ("setting", "language"),
    [
        ("de", "de"),
        ("DE", "de"),
        ("de-CH", "de"),
        ("de_AT", "de"),
        ("fr", "fr"),
        ("es-419", "es"),
        ("en-GB", "en"),
        ("ja", "en"),  # Django knows Japanese; we ship no catalogue for it
        ("pt-BR", "en"),
        ("", "en"),
        ("  fr  ", "fr"),
    ],
)
def test_a_users_setting_maps_to_the_closest_shipped_language(setting: str, language: str) -> None:
    assert email_language(setting) == language


def test_every_shipped_language_is_written_left_to_right() -> None:
    assert {text_direction(language) for language in EMAIL_LANGUAGES} == {"ltr"}


def test_a_right_to_left_language_would_be_marked_so() -> None:
    assert text_direction("ar") == "rtl"
    assert text_direction("he") == "rtl"
    assert text_direction("xx-unknown") == "ltr"
