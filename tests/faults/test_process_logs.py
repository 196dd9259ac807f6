"""Privacy of the real processes' logs (the in-process paths are in test_privacy.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.service import api
from tests.faults.conftest import DeploymentFactory
from tests.faults.deployment import SECRET_TOPICS, assert_no_content_in_logs, events_for
from tests.faults.sink import FaultSink


def test_the_processes_log_no_content_even_at_debug_with_django_debug_on(
    deploy: DeploymentFactory, sink: FaultSink
) -> None:
    """The embedded mode's DEBUG=true made Django log each SQL statement with its
    parameters; at --log-level DEBUG that put content in the log."""
    deployment = deploy(None, DEBUG="true")
    deployment.start("run")
    users = deployment.load_org(2)
    messages = deployment.conversations(users, SECRET_TOPICS[:1], first_id=1000)
    deployment.post_messages(messages)
    status, body = api(
        deployment.base, "POST", "notifications", {"events": events_for(users, messages)}
    )
    assert status == 200, body

    deployment.wait_until_all_sent(len(users))
    deployment.stop_all()

    logs = list(deployment.root.glob("*.log"))
    # The check below means something only if DEBUG records were written while content was
    # handled: the Markdown parser's, which logs each block rule it tries on a message.
    # (Counting records broke twice as paths began to log less: name the source instead.)
    assert "markdown_it.rules_block.paragraph" in debug_loggers(logs)
    assert_no_content_in_logs(logs)


def debug_loggers(logs: list[Path]) -> set[str]:
    """The loggers of the JSON log lines (the processes log JSON when not on a terminal)
    at level debug."""
    found: set[str] = set()
    for path in logs:
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("level") == "debug":
                found.add(str(record.get("logger")))
    return found
