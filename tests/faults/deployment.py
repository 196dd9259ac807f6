"""missedmail as an operator runs it, for fault tests: `web` and `worker` processes of the
real CLI against a private database, broker vhost and SMTP sink, which a test can kill
(SIGKILL) and start again, and whose logs (JSON lines) it can read.

Settings that make faults quick to observe, not different: batching periods of a second,
a lease of a few seconds (so a killed worker's email is taken over in seconds rather than
5 minutes), and a short retry schedule where a test needs one.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from missedmail.queue.publisher import QueuePublisher
from tests.acceptance.org import SECRET_WORDS, load_org, stream_messages
from tests.acceptance.service import ServiceProcess, api, base_env, run_cli, wait_until
from tests.faults.postgres import connect
from tests.smtp_sink import free_port

SECRET_KEY = "fault-secret-key-0123456789-abcdefghijklmnop"
LEASE_SECONDS = 4
# Content and topics of the fault tests' messages: none of it may reach a log line.
SECRET_TOPICS = ("alpha-okapi-9931", "beta-narwhal-5512", "gamma-axolotl-7740")
SECRETS = (SECRET_WORDS, *SECRET_TOPICS)


@dataclass
class Deployment:
    root: Path
    database_url: str
    amqp_url: str | None
    smtp_env: dict[str, str]
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[ServiceProcess] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    _names: Iterator[int] = field(default_factory=lambda: iter(range(1, 1_000_000)))

    @property
    def env(self) -> dict[str, str]:
        extra = {
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": SECRET_KEY,
            "MISSEDMAIL_BIND": f"127.0.0.1:{self.port}",
            "MISSEDMAIL_SEND_LEASE_SECONDS": str(LEASE_SECONDS),
            "MISSEDMAIL_LOG_LEVEL": "DEBUG",
            **self.smtp_env,
            **self.extra_env,
        }
        if self.amqp_url:
            extra["AMQP_URL"] = self.amqp_url
        return base_env(self.root, **extra)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def migrate(self) -> None:
        done = run_cli(["migrate", "--quiet"], self.env)
        assert done.returncode == 0, done.stderr

    def start(self, command: str) -> ServiceProcess:
        """`missedmail <command>`, returned once it printed its banner."""
        name = f"{command}{next(self._names)}"
        process = ServiceProcess([command], self.env, self.root / f"{name}.log")
        self.processes.append(process)
        process.wait_for_banner()
        return process

    def kill(self, process: ServiceProcess) -> None:
        """kill -9: no handler runs, no transaction commits, no socket is closed politely."""
        process.proc.send_signal(signal.SIGKILL)
        process.proc.wait(timeout=30)

    def stop_all(self) -> list[int]:
        codes = []
        for process in self.processes:
            if process.proc.poll() is None:
                process.proc.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                codes.append(process.stop(timeout=60))
            except subprocess.TimeoutExpired:
                process.proc.kill()
                codes.append(process.proc.wait())
        return codes

    # -- data -------------------------------------------------------------------------------

    def load_org(self, users: int, period_seconds: int = 1) -> list[int]:
        load_org(self.base, users=users, period_seconds=period_seconds)
        return [10 + n for n in range(users)]

    def post_messages(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 500):
            status, body = api(self.base, "POST", "messages", {"messages": messages[start:][:500]})
            assert status == 200, body

    def conversations(
        self, recipients: list[int], topics: Iterable[str], *, first_id: int, per_topic: int = 2
    ) -> list[dict[str, Any]]:
        """Messages in #Denmark, `per_topic` in each topic, received by `recipients`."""
        messages: list[dict[str, Any]] = []
        for n, topic in enumerate(topics):
            messages += stream_messages(first_id + 100 * n, per_topic, recipients, topic=topic)
        return messages

    def publish(self, events: list[dict[str, Any]]) -> None:
        assert self.amqp_url
        with QueuePublisher(self.amqp_url) as publisher:
            publisher.publish(json.dumps(event).encode() for event in events)

    # -- looking at the database ---------------------------------------------------------------

    def count(self, sql: str, *params: object) -> int:
        with connect(self.database_url) as conn:
            row = conn.execute(sql, params).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with connect(self.database_url) as conn:
            return list(conn.execute(sql, params).fetchall())

    def outbox(self) -> dict[str, int]:
        with connect(self.database_url) as conn:
            rows = conn.execute(
                "SELECT status, count(*) FROM outbox_outboundemail GROUP BY status"
            ).fetchall()
        return {str(status): int(count) for status, count in rows}

    def outbox_message_ids(self) -> set[str]:
        with connect(self.database_url) as conn:
            rows = conn.execute("SELECT message_id_header FROM outbox_outboundemail").fetchall()
        return {row[0] for row in rows}

    def pending(self) -> int:
        return self.count("SELECT count(*) FROM scheduling_schedulednotification")

    def wait_until_all_sent(self, expected: int, timeout: float = 120) -> None:
        try:
            wait_until(
                lambda: self.pending() == 0 and self.outbox().get("sent", 0) == expected,
                timeout=timeout,
            )
        except AssertionError:
            raise AssertionError(
                f"{expected} emails not all sent: outbox {self.outbox()}, {self.pending()} pending"
            ) from None


def events_for(users: list[int], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"user_profile_id": user, "message_id": message["id"], "trigger": "stream_email_notify"}
        for user in users
        for message in messages
    ]


def log_entries(process: ServiceProcess) -> list[dict[str, Any]]:
    """The process's log lines (one JSON object each, as logged to a file)."""
    entries = []
    for line in process.log_path.read_text(encoding="utf-8").splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


def loud(entries: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    """The log entries of `action` at WARNING or above."""
    return [e for e in entries if e.get("action") == action and e["level"] in ("warning", "error")]


def assert_no_content_in_logs(paths: Iterable[Path], secrets: Iterable[str] = SECRETS) -> None:
    """Privacy: no message content and no topic in any log line of any process."""
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for secret in secrets:
            assert secret not in text, f"{secret!r} appears in {path}"


def wait_for_log(
    process: ServiceProcess, action: str, *, count: int = 1, timeout: float = 60
) -> None:
    """Wait until the process has logged `action` `count` times (reading its log file)."""
    wait_until(
        lambda: sum(1 for e in log_entries(process) if e.get("action") == action) >= count,
        timeout=timeout,
        what=f"{count} x action={action} in {process.log_path.name}",
    )
