from __future__ import annotations

import pytest

from missedmail.composing.content.emojis import emoji_code


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("smile", "1f604"),
        ("+1", "1f44d"),
        ("heart", "2764"),  # without the U+FE0F presentation selector, as Zulip names files
        ("hash", "0023-20e3"),  # at least four hex digits per code point
        ("us", "1f1fa-1f1f8"),
        ("family_man_woman_girl", "1f468-200d-1f469-200d-1f467"),
    ],
)
def test_emoji_names_map_to_zulips_image_codes(name: str, code: str) -> None:
    assert emoji_code(name) == code


@pytest.mark.parametrize("name", ["not_an_emoji", "Smile", "100:", ""])
def test_other_names_are_not_emoji(name: str) -> None:
    assert emoji_code(name) is None
