"""An invalid setting stops start-up with one line naming the variable (contract §2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.service import base_env, run_cli

pytestmark = pytest.mark.acceptance


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://root@127.0.0.1/x"),
        ("DATABASE_URL", "not a url"),
        ("AMQP_URL", "http://127.0.0.1:5672/"),
        ("EMAIL_PORT", "twenty-five"),
        ("EMAIL_USE_TLS", "maybe"),
        ("EMAIL_TIMEOUT", "-3"),
        ("MISSEDMAIL_BIND", "localhost"),
        ("MISSEDMAIL_BIND", "127.0.0.1:99999"),
        ("MISSEDMAIL_PUBLIC_URL", "ftp://example.com"),
        ("MISSEDMAIL_NOREPLY_EMAIL", "no reply"),
        ("MISSEDMAIL_EMAIL_GATEWAY_PATTERN", "replies.example.com"),
        ("MISSEDMAIL_STAGING", "sometimes"),
        ("DEBUG", "perhaps"),
    ],
)
def test_an_invalid_setting_stops_start_up_with_one_line_naming_it(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = run_cli(["status"], base_env(tmp_path, **{variable: value}))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"missedmail: error: {variable}: ")
    assert "Traceback" not in result.stderr


def test_secret_key_is_required_when_debug_is_off(tmp_path: Path) -> None:
    result = run_cli(["status"], base_env(tmp_path, DEBUG="false"))
    assert result.returncode == 2
    assert result.stderr.strip() == "missedmail: error: SECRET_KEY: required when DEBUG is false"


def test_an_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    env = base_env(
        tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:1/none", SECRET_KEY="x" * 40
    )
    result = run_cli(["worker"], env)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(
        "missedmail: error: database unreachable (DATABASE_URL):"
    )
    assert "Traceback" not in result.stderr
