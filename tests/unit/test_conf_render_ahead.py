"""How long before their due time messages are rendered ahead (worker/render_ahead.py):
MISSEDMAIL_RENDER_AHEAD_SECONDS, 60 by default, 0 for never."""

from __future__ import annotations

from pathlib import Path

import pytest

from missedmail.conf import ConfigError, load_settings


def render_ahead_seconds(tmp_path: Path, **env: str) -> float:
    base = {"MISSEDMAIL_DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40}
    return load_settings({**base, **env}).render_ahead_seconds


def test_messages_are_rendered_a_minute_ahead_by_default(tmp_path: Path) -> None:
    assert render_ahead_seconds(tmp_path) == 60
    assert render_ahead_seconds(tmp_path, MISSEDMAIL_RENDER_AHEAD_SECONDS="") == 60


@pytest.mark.parametrize(("raw", "seconds"), [("0", 0), ("300", 300), ("2.5", 2.5)])
def test_the_horizon_can_be_set_or_turned_off(tmp_path: Path, raw: str, seconds: float) -> None:
    assert render_ahead_seconds(tmp_path, MISSEDMAIL_RENDER_AHEAD_SECONDS=raw) == seconds


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("-1", "MISSEDMAIL_RENDER_AHEAD_SECONDS: must be between 0 and 86400, got -1.0"),
        ("a minute", "MISSEDMAIL_RENDER_AHEAD_SECONDS: expected a number, got 'a minute'"),
        ("90000", "MISSEDMAIL_RENDER_AHEAD_SECONDS: must be between 0 and 86400, got 90000.0"),
    ],
)
def test_a_bad_horizon_is_refused_naming_the_variable(
    tmp_path: Path, raw: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        render_ahead_seconds(tmp_path, MISSEDMAIL_RENDER_AHEAD_SECONDS=raw)
    assert str(refused.value) == message
