from __future__ import annotations

from pathlib import Path

import pytest

from missedmail.conf import ConfigError, load_settings
from missedmail.outbox.config import OutboxConfig


def settings_with(tmp_path: Path, **environ: str) -> OutboxConfig:
    base = {"MISSEDMAIL_DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40}
    return OutboxConfig.from_settings(load_settings(base | environ))


def test_the_config_comes_from_the_settings(tmp_path: Path) -> None:
    config = settings_with(
        tmp_path,
        MISSEDMAIL_INSTALLATION_NAME="Zulip",
        MISSEDMAIL_NOREPLY_EMAIL="noreply@chat.example.com",
        MISSEDMAIL_EMAIL_GATEWAY_PATTERN="%s@reply.example.com",
        MISSEDMAIL_PUBLIC_URL="https://mm.example.com/",
    )

    assert config == OutboxConfig(
        from_name="Zulip notifications",
        noreply_email="noreply@chat.example.com",
        gateway_pattern="%s@reply.example.com",
        public_url="https://mm.example.com",
    )
    assert config.reply_address("mm" + "1" * 32) == "mm" + "1" * 32 + "@reply.example.com"


def test_a_gateway_pattern_with_other_percent_signs_is_filled_literally(tmp_path: Path) -> None:
    config = settings_with(tmp_path, MISSEDMAIL_EMAIL_GATEWAY_PATTERN="r%%x+%s@reply.example.com")

    assert config.reply_address("mmab") == "r%%x+mmab@reply.example.com"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MISSEDMAIL_NOREPLY_EMAIL", "noreply@exa_mple.com"),
        ("MISSEDMAIL_NOREPLY_EMAIL", "nö-reply@example.com"),
        ("MISSEDMAIL_EMAIL_GATEWAY_PATTERN", "%s@reply_example.com"),
        ("MISSEDMAIL_EMAIL_GATEWAY_PATTERN", "(%s)@reply.example.com"),
    ],
)
def test_an_address_that_cannot_go_into_an_email_stops_the_start(
    tmp_path: Path, variable: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        settings_with(tmp_path, **{variable: value})
