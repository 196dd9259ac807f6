"""Outages of the servers missedmail depends on: PostgreSQL, RabbitMQ and the mail server.

Each is really stopped (the private cluster by `pg_ctl stop`, the private node by
`rabbitmqctl shutdown`, the SMTP server by closing its socket) while a worker runs, and
started again. Invariants: the worker process keeps running; each component logs one
warning for the outage, not one per retry; after the outage every email expected is
delivered exactly once; the HTTP API answers 503 in JSON while the database is down.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.acceptance.service import ServiceProcess, api, run_cli, wait_until
from tests.faults.conftest import DeploymentFactory
from tests.faults.deployment import (
    SECRET_TOPICS,
    Deployment,
    events_for,
    log_entries,
    loud,
    wait_for_log,
)
from tests.faults.postgres import PrivatePostgres
from tests.faults.rabbitmq import PrivateRabbitMQ
from tests.faults.sink import FaultSink

USERS = 3


def wave(deployment: Deployment, users: list[int], topic: str, first_id: int) -> list[Any]:
    """Messages in one new topic for every user; their events (one email per user)."""
    messages = deployment.conversations(users, [topic], first_id=first_id)
    deployment.post_messages(messages)
    return events_for(users, messages)


def debug_count(process: ServiceProcess, action: str) -> int:
    return sum(1 for entry in log_entries(process) if entry.get("action") == action)


def warnings_by(process: ServiceProcess, action: str, key: str) -> Counter[str]:
    return Counter(str(entry.get(key)) for entry in loud(log_entries(process), action))


@pytest.mark.parametrize("mode", ["immediate", pytest.param("fast", marks=pytest.mark.faults_slow)])
def test_postgresql_stopped_and_restarted(
    deploy: DeploymentFactory, vhost: str, postgres: PrivatePostgres, sink: FaultSink, mode: str
) -> None:
    """Invariants: the worker lives through it and logs one warning per thread; events
    published during the outage wait in the queue and are all delivered afterwards; the
    API answers 503 JSON meanwhile and 200 afterwards."""
    deployment = deploy(vhost)
    web = deployment.start("web")
    users = deployment.load_org(USERS)
    worker = deployment.start("worker")
    deployment.publish(wave(deployment, users, SECRET_TOPICS[0], 1000))
    deployment.wait_until_all_sent(USERS)
    second = wave(deployment, users, SECRET_TOPICS[1], 2000)

    postgres.stop(mode)
    deployment.publish(second)  # the broker keeps them while the database is away
    # The consumer keeps failing: three batches refused (1 + 2 s of backoff) at least.
    wait_for_log(worker, "batch_failed", count=3)
    status, body = api(deployment.base, "GET", f"users/{users[0]}/notifications")
    assert (status, body["result"], body["code"]) == (503, "error", "DATABASE_UNAVAILABLE")
    status, body = api(deployment.base, "POST", "notifications", second[0])
    assert (status, body["code"]) == (503, "DATABASE_UNAVAILABLE")
    postgres.start()

    deployment.wait_until_all_sent(2 * USERS)
    received = sink.wait_for_distinct(2 * USERS)
    assert max(received.values()) == 1
    assert worker.proc.poll() is None
    assert web.proc.poll() is None
    status, _body = api(deployment.base, "GET", f"users/{users[0]}/notifications")
    assert status == 200
    assert warnings_by(worker, "batch_failed", "queue") == {"missedmessage_emails": 1}
    assert max(warnings_by(worker, "loop_error", "loop").values(), default=1) == 1
    assert len(loud(log_entries(worker), "listener_unavailable")) <= 1
    assert debug_count(worker, "batches_resumed") == 1
    # And it still stops cleanly, saying so in its heartbeat.
    assert worker.stop() == 0
    assert loud(log_entries(worker), "heartbeat_stop_failed") == []
    assert (
        deployment.count("SELECT count(*) FROM health_workerheartbeat WHERE stopped_at IS NOT NULL")
        == 1
    )


def test_rabbitmq_stopped_and_restarted(
    deploy: DeploymentFactory, rabbitmq: PrivateRabbitMQ, vhost: str, sink: FaultSink
) -> None:
    """Invariants: the worker lives through it, logs one warning, reconnects by itself;
    what was published before and after the outage is delivered exactly once."""
    deployment = deploy(vhost)
    deployment.start("web")
    users = deployment.load_org(USERS)
    worker = deployment.start("worker")
    deployment.publish(wave(deployment, users, SECRET_TOPICS[0], 1000))
    deployment.wait_until_all_sent(USERS)
    second = wave(deployment, users, SECRET_TOPICS[1], 2000)

    rabbitmq.stop()
    # Refused, then refused again after 1 and 2 s: still one warning.
    wait_for_log(worker, "broker_unavailable", count=3)
    rabbitmq.start()
    wait_for_log(worker, "broker_connected", count=2, timeout=90)
    deployment.publish(second)

    deployment.wait_until_all_sent(2 * USERS)
    received = sink.wait_for_distinct(2 * USERS)
    assert max(received.values()) == 1
    assert worker.proc.poll() is None
    assert len(loud(log_entries(worker), "broker_unavailable")) == 1


@pytest.mark.faults_slow
def test_events_waiting_in_the_queue_survive_a_broker_restart(
    deploy: DeploymentFactory, rabbitmq: PrivateRabbitMQ, vhost: str, sink: FaultSink
) -> None:
    """Invariant: persistent events published while no worker ran, then a broker restart,
    are all delivered by the worker started afterwards."""
    deployment = deploy(vhost)
    deployment.start("web")
    users = deployment.load_org(USERS)
    deployment.publish(wave(deployment, users, SECRET_TOPICS[0], 1000))

    rabbitmq.stop()
    rabbitmq.start()
    deployment.start("worker")

    deployment.wait_until_all_sent(USERS)
    assert max(sink.wait_for_distinct(USERS).values()) == 1


def smtp_outage(deployment: Deployment, sink: FaultSink, *, probes: int) -> ServiceProcess:
    """Emails composed while the mail server refuses connections, for `probes` attempts
    of the sender to reach it; then the server comes back. Returns the worker."""
    deployment.start("web")
    users = deployment.load_org(USERS)
    worker = deployment.start("worker")
    sink.stop()
    deployment.publish(wave(deployment, users, SECRET_TOPICS[0], 1000))
    wait_for_log(worker, "mail_transport_unavailable", count=probes, timeout=600)
    sink.start()
    return worker


def assert_delivered_on_first_attempt(deployment: Deployment, sink: FaultSink) -> None:
    deployment.wait_until_all_sent(USERS)
    assert max(sink.wait_for_distinct(USERS).values()) == 1
    # The outage used none of the emails' attempts: each went out on its first.
    assert deployment.count("SELECT max(attempts) FROM outbox_outboundemail") == 1
    assert deployment.count("SELECT count(*) FROM outbox_deliveryattempt") == USERS


def test_emails_wait_out_an_smtp_outage_and_are_all_delivered_after_it(
    deploy: DeploymentFactory, vhost: str, sink: FaultSink
) -> None:
    """Invariants: nothing fails while the mail server is down; every email is delivered
    once it is back, on its first attempt; the outage is one warning and one recovery."""
    deployment = deploy(vhost)

    worker = smtp_outage(deployment, sink, probes=4)

    assert_delivered_on_first_attempt(deployment, sink)
    wait_for_log(worker, "mail_transport_available")
    assert len(loud(log_entries(worker), "mail_transport_unavailable")) == 1
    assert worker.proc.poll() is None


@pytest.mark.faults_slow
def test_an_smtp_outage_of_minutes_fails_no_email(
    deploy: DeploymentFactory, vhost: str, sink: FaultSink
) -> None:
    """As above, with the server down long enough (about 3 minutes: 10 probes, the last
    ones a minute apart at most) to outlast a retry schedule of 3 short attempts."""
    deployment = deploy(
        vhost, MISSEDMAIL_RETRY_ATTEMPTS="3", MISSEDMAIL_RETRY_BASE_SECONDS="1",
        MISSEDMAIL_RETRY_MAX_SECONDS="2",
    )  # fmt: skip

    worker = smtp_outage(deployment, sink, probes=10)

    assert_delivered_on_first_attempt(deployment, sink)
    assert len(loud(log_entries(worker), "mail_transport_unavailable")) == 1


def test_refusals_are_retried_or_failed_by_their_code_and_operators_can_requeue(
    deploy: DeploymentFactory, vhost: str, sink: FaultSink
) -> None:
    """One user's server answers 451 twice, another's 421 once, a third's 550 always, the
    fourth's accepts. Invariants: the 4xx emails arrive on attempts 3 and 2; the 5xx one
    fails at once with the server's answer, which `missedmail failed` and the API show;
    the healthy user's email is not held up; requeued after the fix, the failed one
    arrives. Every email exactly once."""
    deployment = deploy(
        vhost, MISSEDMAIL_RETRY_BASE_SECONDS="0.2", MISSEDMAIL_RETRY_MAX_SECONDS="0.5"
    )
    deployment.start("web")
    busy, closing, gone, fine = deployment.load_org(4)
    deployment.start("worker")
    sink.refuse(f"user{busy}@example.com", "451 4.3.0 mailbox busy", times=2)
    sink.refuse(f"user{closing}@example.com", "421 4.3.2 shutting down", times=1)
    sink.refuse(f"user{gone}@example.com", "550 5.1.1 no such user")
    deployment.publish(wave(deployment, [busy, closing, gone, fine], SECRET_TOPICS[0], 1000))

    wait_until(
        lambda: deployment.outbox() == {"sent": 3, "failed": 1},
        what=f"3 sent and 1 failed (outbox {deployment.outbox()})",
    )
    attempts = dict(deployment.rows("SELECT user_id, attempts FROM outbox_outboundemail"))
    assert attempts == {busy: 3, closing: 2, gone: 1, fine: 1}
    listed = run_cli(["failed", "--json"], deployment.env)
    assert listed.returncode == 0, listed.stderr
    [failed] = json.loads(listed.stdout)["emails"]
    assert (failed["user_id"], failed["response"]) == (gone, "550 5.1.1 no such user")
    status, body = api(deployment.base, "GET", "outbox/failed")
    assert (status, [e["id"] for e in body["emails"]]) == (200, [failed["id"]])

    sink.stop_refusing(f"user{gone}@example.com")  # the mailbox was fixed
    requeued = run_cli(["requeue", str(failed["id"])], deployment.env)
    assert (requeued.returncode, requeued.stdout) == (0, f"requeued 1 email: {failed['id']}\n")
    deployment.wait_until_all_sent(4)
    assert max(sink.wait_for_distinct(4).values()) == 1
