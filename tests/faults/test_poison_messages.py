"""Poison messages on the real queue, consumed by a real worker: recorded, never looping.

Invariant: a message that cannot become a notification (garbage, wrong types, unknown ids,
NUL bytes, a megabyte of nothing, or one the database itself refuses) is acknowledged and
recorded as a rejected event exactly once; the events around it are delivered; the queue
ends empty; no batch is retried forever.
"""

from __future__ import annotations

import json

from missedmail.queue.depth import queue_depth
from missedmail.queue.publisher import QueuePublisher
from tests.acceptance.service import wait_until
from tests.faults.conftest import DeploymentFactory
from tests.faults.deployment import events_for, log_entries, loud
from tests.faults.postgres import connect
from tests.faults.sink import FaultSink

POISON = [
    b"\xff\xfe\xfd not even UTF-8",
    b"[" * 200_000,
    b"{" + b'"a":' * 5_000 + b"1" + b"}" * 5_000,
    b'{"user_profile_id": "10", "message_id": 1000, "trigger": "mentioned"}',
    b'{"user_profile_id": 10, "message_id": 1000, "trigger": "mentioned\\r\\nBcc: x"}',
    b'{"user_profile_id": 99999, "message_id": 1000, "trigger": "mentioned"}',
    b'{"user_profile_id": 10, "message_id": 99999, "trigger": "mentioned"}',
    b'{"user_profile_id": 9223372036854775808, "message_id": 1000, "trigger": "mentioned"}',
    b"null",
    b"",
    b"x" * 1_000_000,
    b"\x00",  # PostgreSQL text cannot hold NUL: this one once failed its batch for ever
    b'{"user_profile_id": 10, "message_id": 1000, "trigger": "\x00"}',
]


def test_poison_messages_on_the_queue_are_recorded_once_and_never_loop(
    deploy: DeploymentFactory, vhost: str, sink: FaultSink
) -> None:
    """Invariant: each of the 13 poison bodies becomes one rejected event, the good events
    their emails; the queue ends empty; no batch ever failed (nothing was redelivered)."""
    deployment = deploy(vhost)
    deployment.start("web")
    users = deployment.load_org(2)
    messages = deployment.conversations(users, ["poison-test"], first_id=1000)
    deployment.post_messages(messages)
    worker = deployment.start("worker")

    with_poison: list[bytes] = []
    for good, bad in zip(events_for(users, messages), POISON, strict=False):
        with_poison += [json.dumps(good).encode(), bad]
    with_poison += POISON[len(with_poison) // 2 :]
    _publish_raw(deployment.amqp_url or "", with_poison)

    deployment.wait_until_all_sent(len(users))
    wait_until(
        lambda: deployment.count("SELECT count(*) FROM scheduling_rejectedevent") == len(POISON),
        what="every poison message recorded",
    )
    assert max(sink.wait_for_distinct(len(users)).values()) == 1
    assert loud(log_entries(worker), "batch_failed") == []
    assert queue_depth(deployment.amqp_url or "") == (0, 1)
    assert worker.proc.poll() is None


def _publish_raw(url: str, bodies: list[bytes]) -> None:
    with QueuePublisher(url) as publisher:
        publisher.publish(bodies)


def test_an_event_the_database_refuses_is_recorded_and_never_holds_the_queue(
    deploy: DeploymentFactory, vhost: str, sink: FaultSink
) -> None:
    """A database trigger refuses to store notifications of message 1001 (standing in for
    any bug that fails a batch while the database is up). Invariants: the other events of
    the batch are stored and their emails sent; the refused one is recorded as rejected,
    once; the queue ends empty; the worker lives."""
    deployment = deploy(vhost)
    deployment.start("web")
    users = deployment.load_org(2)
    messages = deployment.conversations(users, ["refused-test"], first_id=1000)
    deployment.post_messages(messages)
    with connect(deployment.database_url) as conn:
        conn.execute(REFUSING_TRIGGER)
    worker = deployment.start("worker")

    deployment.publish(events_for(users, messages))

    deployment.wait_until_all_sent(len(users))
    wait_until(
        lambda: deployment.count("SELECT count(*) FROM scheduling_rejectedevent") == len(users),
        what="the refused events recorded",
    )
    reasons = [row[0] for row in deployment.rows("SELECT reason FROM scheduling_rejectedevent")]
    assert all(reason.startswith("event: could not be stored (") for reason in reasons), reasons
    assert queue_depth(deployment.amqp_url or "") == (0, 1)
    assert worker.proc.poll() is None


REFUSING_TRIGGER = """
CREATE FUNCTION refuse_1001() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.message_id = 1001 THEN RAISE EXCEPTION 'refused by the test'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_1001 BEFORE INSERT ON scheduling_schedulednotification
    FOR EACH ROW EXECUTE FUNCTION refuse_1001();
"""
