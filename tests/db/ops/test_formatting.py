from __future__ import annotations

import pytest

from missedmail.ops.formatting import duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0, "0.0 s"),
        (2.25, "2.2 s"),
        (59, "59 s"),
        (150, "2 min 30 s"),
        (3600, "1 h 0 min"),
        (3 * 86400 + 7200 + 59, "3 d 2 h"),
    ],
)
def test_durations_are_written_in_their_two_largest_units(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text
