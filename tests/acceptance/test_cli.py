"""`missedmail migrate`, `enqueue` and `status` on the embedded database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.service import base_env, run_cli

pytestmark = pytest.mark.acceptance


def test_status_json_on_a_fresh_data_dir_has_the_contract_keys(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    assert run_cli(["migrate", "--quiet"], env).returncode == 0
    result = run_cli(["status", "--json"], env)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert {"pending", "due", "outbox", "skipped", "rejected"} <= figures.keys()
    assert figures["pending"] == 0
    assert figures["outbox"] == {"queued": 0, "sending": 0, "sent": 0, "retrying": 0, "failed": 0}


def test_enqueue_records_bad_lines_as_rejected_and_says_which(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    lines = "\n".join(
        [
            '{"user_profile_id": 10, "message_id": 1, "trigger": "mentioned"}',
            "",
            "{broken",
            '{"user_profile_id": 10, "message_id": 1, "trigger": "shouted"}',
        ]
    )
    result = run_cli(["enqueue"], env, stdin=lines)
    assert result.returncode == 1
    assert "line 1: rejected: user_profile_id: unknown user 10" in result.stderr
    assert "line 3: rejected: event: invalid JSON" in result.stderr
    assert "line 4: rejected: trigger: unknown trigger 'shouted'" in result.stderr
    assert result.stdout.strip() == "0 scheduled, 0 duplicate, 0 skipped, 3 rejected"
    status = json.loads(run_cli(["status", "--json"], env).stdout)
    assert status["rejected"] == 3


def test_enqueue_without_events_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(["enqueue"], base_env(tmp_path), stdin="")
    assert result.returncode == 2
    assert "no events given" in result.stderr
