"""The outbox's retry schedule and lease, read from the environment (docs/reliability.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from missedmail.conf import ConfigError, DeliverySettings, load_settings


def settings_with(tmp_path: Path, **env: str) -> DeliverySettings:
    base = {"MISSEDMAIL_DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40}
    return load_settings({**base, **env}).delivery


def test_the_default_schedule_is_8_attempts_from_30_seconds_to_10_minutes_with_5_minute_leases(
    tmp_path: Path,
) -> None:
    assert settings_with(tmp_path) == DeliverySettings(
        retry_attempts=8,
        retry_base_seconds=30,
        retry_max_seconds=600,
        lease_seconds=300,
    )


def test_the_schedule_and_the_lease_can_be_configured(tmp_path: Path) -> None:
    delivery = settings_with(
        tmp_path,
        MISSEDMAIL_RETRY_ATTEMPTS="12",
        MISSEDMAIL_RETRY_BASE_SECONDS="0.5",
        MISSEDMAIL_RETRY_MAX_SECONDS="3600",
        MISSEDMAIL_SEND_LEASE_SECONDS="120",
    )

    assert delivery == DeliverySettings(
        retry_attempts=12,
        retry_base_seconds=0.5,
        retry_max_seconds=3600,
        lease_seconds=120,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"MISSEDMAIL_RETRY_ATTEMPTS": "0"},
            "MISSEDMAIL_RETRY_ATTEMPTS: must be between 1",
        ),
        (
            {"MISSEDMAIL_RETRY_ATTEMPTS": "many"},
            "MISSEDMAIL_RETRY_ATTEMPTS: expected an integer",
        ),
        (
            {"MISSEDMAIL_RETRY_BASE_SECONDS": "-1"},
            "MISSEDMAIL_RETRY_BASE_SECONDS: must be",
        ),
        (
            {"MISSEDMAIL_SEND_LEASE_SECONDS": "soon"},
            "MISSEDMAIL_SEND_LEASE_SECONDS: expected",
        ),
        (
            {
                "MISSEDMAIL_RETRY_BASE_SECONDS": "60",
                "MISSEDMAIL_RETRY_MAX_SECONDS": "30",
            },
            "MISSEDMAIL_RETRY_MAX_SECONDS: must be at least MISSEDMAIL_RETRY_BASE_SECONDS",
        ),
    ],
)
def test_a_bad_value_stops_the_process_naming_the_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_with(tmp_path, **env)
