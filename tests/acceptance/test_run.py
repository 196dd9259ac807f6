"""`missedmail run` end to end: HTTP API in, batching, SMTP out, clean stop."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.org import SECRET_WORDS, dm, load_org, stream_messages
from tests.acceptance.service import ServiceProcess, api, base_env, wait_until
from tests.smtp_sink import SmtpSink, free_port

pytestmark = pytest.mark.acceptance


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


def test_run_sends_one_email_per_conversation_and_stops_cleanly(
    tmp_path: Path, sink: SmtpSink
) -> None:
    port = free_port()
    env = base_env(tmp_path, MISSEDMAIL_BIND=f"127.0.0.1:{port}", **sink.env)
    service = ServiceProcess(["run"], env, tmp_path / "run.log")
    try:
        banner = "\n".join(service.wait_for_banner())
        base = f"http://127.0.0.1:{port}"
        assert f"URL:         {base}" in banner
        assert "API token:   acceptance-token-0123456789" in banner
        assert f"SMTP 127.0.0.1:{sink.port}" in banner

        load_org(base, period_seconds=1)
        messages = [
            *stream_messages(500, 3, [10, 11, 12]),
            dm(600, 12, [10], f"psst {SECRET_WORDS}"),
        ]
        status, body = api(base, "POST", "messages", {"messages": messages})
        assert status == 200, body
        events = [
            {"user_profile_id": 10, "message_id": 500 + n, "trigger": "stream_email_notify"}
            for n in range(3)
        ]
        events.append({"user_profile_id": 10, "message_id": 600, "trigger": "direct_message"})
        status, body = api(base, "POST", "notifications", {"events": events})
        assert status == 200, body
        assert [e["status"] for e in body["events"]] == ["scheduled"] * 4

        received = sink.handler.wait_for(2)
        subjects = sorted(r.message["Subject"] for r in received)
        assert subjects == ["#Denmark > test", "DMs with Iago"]
        assert {r.recipients[0] for r in received} == {"user10@example.com"}
        assert len({r.message["Message-ID"] for r in received}) == 2

        def all_sent() -> bool:
            _, notifications = api(base, "GET", "users/10/notifications")
            return [item["status"] for item in notifications["recent"]] == ["sent", "sent"]

        wait_until(all_sent, what="both emails recorded as sent")
        _, notifications = api(base, "GET", "users/10/notifications")
        assert notifications["pending"] == []
    finally:
        code = service.stop(signal.SIGTERM)
    assert code == 0
    log = (tmp_path / "run.log").read_text()
    assert "action=worker_stopped" in log
    assert SECRET_WORDS not in log
    assert "Traceback" not in log
