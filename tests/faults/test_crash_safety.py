"""kill -9 of a worker at the moments that matter loses nothing and doubles nothing.

Each moment is made deterministic without any hook in missedmail: the test holds a lock on a
table the worker is about to read (PostgreSQL then holds the worker at that exact query,
which `pg_stat_activity` shows), freezes the worker's acknowledgements on their way to the
broker, or has the SMTP server hold the DATA command. Then the worker is killed with
SIGKILL, the fault is lifted, another worker is started, and the test counts.

Invariant of every test: E conversations were notified, E emails arrive, each Message-ID
once (except where stated: the one email in flight during an SMTP transaction), nothing
is left pending, nothing was rejected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import psycopg
import pytest

from missedmail.queue.broker import QUEUE_NAME
from missedmail.queue.depth import queue_depth
from missedmail.queue.publisher import QueuePublisher
from tests.acceptance.service import wait_until
from tests.faults.conftest import DeploymentFactory
from tests.faults.deployment import SECRET_TOPICS, Deployment, events_for, wait_for_log
from tests.faults.postgres import wait_for_blocked_query
from tests.faults.rabbitmq import PrivateRabbitMQ
from tests.faults.relay import FreezableRelay
from tests.faults.sink import FaultSink

USERS = 3
TOPICS = SECRET_TOPICS[:2]
EXPECTED_EMAILS = USERS * len(TOPICS)  # one email per user and topic


@contextmanager
def table_locked(database_url: str, table: str) -> Iterator[None]:
    """Hold ACCESS EXCLUSIVE on `table`: every query on it waits until the block ends."""
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        conn.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
        yield
        conn.rollback()


def prepare(deployment: Deployment) -> list[dict[str, object]]:
    """An organisation whose USERS each get one email per topic; returns the events."""
    deployment.start("web")
    users = deployment.load_org(USERS, period_seconds=1)
    messages = deployment.conversations(users, TOPICS, first_id=1000)
    deployment.post_messages(messages)
    return events_for(users, messages)


def assert_every_email_once(deployment: Deployment, sink: FaultSink) -> None:
    deployment.wait_until_all_sent(EXPECTED_EMAILS)
    received = sink.wait_for_distinct(EXPECTED_EMAILS)
    assert set(received) == deployment.outbox_message_ids()
    assert max(received.values()) == 1, f"duplicates: {received}"
    assert deployment.count("SELECT count(*) FROM scheduling_rejectedevent") == 0


def test_a_worker_killed_while_consuming_loses_no_event(
    deploy: DeploymentFactory, vhost: str, sink: FaultSink
) -> None:
    deployment = deploy(vhost)
    events = prepare(deployment)
    first = deployment.start("worker")

    with table_locked(deployment.database_url, "core_usermessage"):
        deployment.publish(events)
        # The consumer's transaction has locked the users and waits to check receipts.
        wait_for_blocked_query(deployment.database_url, '"core_usermessage"')
        deployment.kill(first)

    assert deployment.pending() == 0  # its transaction never committed...
    deployment.start("worker")  # ...and the broker delivers the unacknowledged events again
    assert_every_email_once(deployment, sink)
    assert deployment.count("SELECT count(*) FROM scheduling_schedulednotification") == 0


@pytest.mark.parametrize("emailed_before_the_kill", [False, True], ids=["pending", "emailed"])
def test_a_worker_killed_after_committing_a_batch_but_before_its_ack_stores_it_once(
    deploy: DeploymentFactory,
    rabbitmq: PrivateRabbitMQ,
    vhost: str,
    sink: FaultSink,
    emailed_before_the_kill: bool,
) -> None:
    """Invariant: the broker delivers the N committed events again, and the next worker
    stores none of them twice: N rows, then E emails, each once.

    "pending": the first worker dies with its rows still scheduled (its batcher is held at
    the claim by a lock on core_realm, which ingest does not touch). "emailed": it dies
    after every email was sent and recorded, so the scheduled rows are gone when the events
    come back (the ledger of emailed notifications must tell). Neither kill can land in an
    SMTP transaction, whose repeat is another test's subject."""
    relay = FreezableRelay(rabbitmq.port)
    try:
        vhost_path = vhost.rsplit("/", 1)[1]
        deployment = deploy(f"amqp://guest:guest@127.0.0.1:{relay.port}/{vhost_path}")
        events = prepare(deployment)
        first = deployment.start("worker")
        wait_for_log(first, "broker_connected")
        relay.freeze()  # from now on the worker's acks stop at the relay

        held = (
            nullcontext()
            if emailed_before_the_kill
            else table_locked(deployment.database_url, "core_realm")
        )
        with held:
            with QueuePublisher(vhost) as publisher:  # straight to the broker
                publisher.publish(json.dumps(event).encode() for event in events)
            if emailed_before_the_kill:
                wait_until(
                    lambda: (
                        deployment.pending() == 0
                        and deployment.outbox() == {"sent": EXPECTED_EMAILS}
                    ),
                    what="every email sent and recorded",
                )
            else:
                wait_until(lambda: deployment.pending() == len(events), what="events committed")
            deployment.kill(first)
    finally:
        relay.close()

    # Unacknowledged, so the broker holds every event again, for the next consumer.
    wait_until(lambda: queue_depth(vhost, QUEUE_NAME) == (len(events), 0), what="redelivery")
    deployment.amqp_url = vhost
    deployment.start("worker")
    assert_every_email_once(deployment, sink)
    assert queue_depth(vhost, QUEUE_NAME) == (0, 1)


@pytest.mark.parametrize(
    ("moment", "table", "query"),
    [
        # The pass has claimed its rows (locked FOR UPDATE) and reads the first user.
        ("claimed", "core_realm", '"core_realm"'),
        # The pass is composing: it loads the batch's messages.
        ("composing", "core_stream", '"core_stream"'),
        # The emails are composed; the pass copies them into the outbox (core.bulk).
        ("enqueueing", "outbox_outboundemail", 'COPY "outbox_outboundemail"'),
    ],
)
def test_a_worker_killed_during_a_batcher_pass_leaves_its_batch_to_the_next_worker(
    deploy: DeploymentFactory, vhost: str, sink: FaultSink, moment: str, table: str, query: str
) -> None:
    deployment = deploy(vhost)
    events = prepare(deployment)
    first = deployment.start("worker")

    with table_locked(deployment.database_url, table):
        deployment.publish(events)
        wait_for_blocked_query(deployment.database_url, query)
        deployment.kill(first)

    # The pass's transaction died with the worker: the batch is still pending, whole.
    assert deployment.pending() == len(events)
    assert deployment.outbox() == {}
    deployment.start("worker")
    assert_every_email_once(deployment, sink)


@pytest.mark.parametrize("server_kept_it", [True, False])
def test_a_worker_killed_during_an_smtp_transaction_repeats_at_most_that_email(
    deploy: DeploymentFactory, vhost: str, sink: FaultSink, server_kept_it: bool
) -> None:
    """Invariant: E emails arrive; the one held in DATA when the worker died arrives twice
    with the same Message-ID if the server had kept it (it could not tell us), once if not;
    every other email exactly once."""
    deployment = deploy(vhost)
    events = prepare(deployment)
    hold = sink.hold_next(deliver=server_kept_it)
    first = deployment.start("worker")

    deployment.publish(events)
    assert hold.held.wait(60), "no email reached the DATA command"
    deployment.kill(first)
    hold.release.set()

    deployment.start("worker")  # it takes the dead worker's emails over when their lease ends
    deployment.wait_until_all_sent(EXPECTED_EMAILS)
    received = sink.wait_for_distinct(EXPECTED_EMAILS)
    assert set(received) == deployment.outbox_message_ids()
    repeated = [message_id for message_id, count in received.items() if count > 1]
    assert len(repeated) == (1 if server_kept_it else 0)
    assert max(received.values()) <= 2
    # The repeat is recorded: its first attempt is "lost", its second "sent".
    lost = deployment.count("SELECT count(*) FROM outbox_deliveryattempt WHERE outcome = 'lost'")
    assert lost >= 1
