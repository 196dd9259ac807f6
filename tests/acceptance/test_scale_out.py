"""Several worker processes on one PostgreSQL + RabbitMQ: every email exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from missedmail.queue.publisher import QueuePublisher
from tests.acceptance.org import load_org, stream_messages
from tests.acceptance.service import ServiceProcess, api, base_env, run_cli
from tests.services import require_postgres, require_rabbitmq
from tests.smtp_sink import SmtpSink, free_port

pytestmark = [pytest.mark.acceptance]

USERS = 20
WORKERS = 3


@pytest.fixture
def database() -> Iterator[str]:
    admin_url = require_postgres()
    name = f"mm_accept_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def amqp_url() -> Iterator[str]:
    require_rabbitmq()
    vhost = f"mm-accept-{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, capture_output=True)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


def test_three_workers_send_every_email_exactly_once(
    tmp_path: Path, database: str, amqp_url: str, sink: SmtpSink
) -> None:
    port = free_port()
    env = base_env(
        tmp_path,
        DATABASE_URL=database,
        AMQP_URL=amqp_url,
        SECRET_KEY="acceptance-secret-key-0123456789-abcdefghij",
        MISSEDMAIL_BIND=f"127.0.0.1:{port}",
        **sink.env,
    )
    assert run_cli(["migrate", "--quiet"], env).returncode == 0
    processes = [ServiceProcess(["web"], env, tmp_path / "web.log")]
    processes += [
        ServiceProcess(["worker"], env, tmp_path / f"worker{n}.log") for n in range(WORKERS)
    ]
    try:
        for process in processes:
            process.wait_for_banner()
        base = f"http://127.0.0.1:{port}"
        # Long enough that every event is consumed before the first batch falls due, so
        # each conversation is exactly one email whichever worker consumed its events.
        load_org(base, users=USERS, period_seconds=5)
        recipients = [10 + n for n in range(USERS)]
        # Two topics, three messages each: two emails per user.
        messages = stream_messages(1000, 3, recipients, topic="alpha") + stream_messages(
            2000, 3, recipients, topic="beta"
        )
        status, body = api(base, "POST", "messages", {"messages": messages})
        assert status == 200, body
        events = [
            {"user_profile_id": uid, "message_id": m["id"], "trigger": "stream_email_notify"}
            for uid in recipients
            for m in messages
        ]
        with QueuePublisher(amqp_url) as publisher:
            publisher.publish(json.dumps(event).encode() for event in events)

        expected = USERS * 2
        received = sink.handler.wait_for(expected, timeout=60)
    finally:
        codes = [process.stop(signal.SIGTERM) for process in processes]
    assert codes == [0] * len(processes)
    received = sink.handler.received  # everything, including anything sent while stopping
    ids = Counter(r.message["Message-ID"] for r in received)
    assert len(received) == expected, f"{len(received)} emails for {expected} conversations"
    assert max(ids.values()) == 1
    per_user = Counter(r.recipients[0] for r in received)
    assert set(per_user.values()) == {2}
    status_json = json.loads(run_cli(["status", "--json"], env).stdout)
    assert status_json["pending"] == 0
    assert status_json["outbox"]["sent"] == expected
