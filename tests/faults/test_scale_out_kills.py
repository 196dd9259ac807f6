"""Three workers on one PostgreSQL and one broker, one of them killed again and again.

The victim is killed with SIGKILL every few emails the SMTP server accepts, so kills land
while it consumes, composes, claims and sends (the server takes a few milliseconds per
message, so an SMTP transaction is often in flight), and a fresh worker takes its place.

Invariants: every conversation notified becomes exactly one email (one Message-ID, none
missing, none extra); an email may cross the wire twice only if it was in flight when a
worker died, always with the same Message-ID, so repeats number at most the kills and each
has its lost attempt on record; nothing is left pending, every email ends `sent`.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import DeploymentFactory
from tests.faults.deployment import Deployment, events_for
from tests.faults.sink import FaultSink

WORKERS = 3
USERS = 30
TOPICS_PER_WAVE = 2


def run_with_kills(
    deployment: Deployment, sink: FaultSink, *, waves: int, kill_every: int
) -> tuple[int, int]:
    """Publish `waves` waves of events while killing worker 0 every `kill_every`
    accepted emails; returns (expected emails, kills)."""
    deployment.start("web")
    users = deployment.load_org(USERS)
    workers = [deployment.start("worker") for _ in range(WORKERS)]
    expected = kills = 0
    for wave in range(waves):
        topics = [f"wave{wave}-topic{n}" for n in range(TOPICS_PER_WAVE)]
        messages = deployment.conversations(users, topics, first_id=10_000 * (wave + 1))
        deployment.post_messages(messages)
        deployment.publish(events_for(users, messages))
        expected += USERS * TOPICS_PER_WAVE
        while (arrived := len(sink.message_ids())) < expected:
            sink.wait_for_distinct(min(arrived + kill_every, expected))
            if len(sink.message_ids()) >= expected:
                break
            deployment.kill(workers[0])
            kills += 1
            workers[0] = deployment.start("worker")
    return expected, kills


def assert_each_email_once(
    deployment: Deployment, sink: FaultSink, expected: int, kills: int
) -> None:
    deployment.wait_until_all_sent(expected, timeout=180)
    received = sink.message_ids()
    assert len(received) == expected
    assert set(received) == deployment.outbox_message_ids()
    repeated = {message_id: count for message_id, count in received.items() if count > 1}
    assert sum(count - 1 for count in repeated.values()) <= kills
    for message_id in repeated:
        lost = deployment.count(
            "SELECT count(*) FROM outbox_deliveryattempt a JOIN outbox_outboundemail e "
            "ON e.id = a.email_id WHERE e.message_id_header = %s AND a.outcome = 'lost'",
            message_id,
        )
        assert lost >= 1, f"{message_id} was sent twice without a lost attempt on record"
    print(f"\n{expected} emails, {kills} kills, {len(repeated)} repeated on the wire")


def test_three_workers_with_one_killed_repeatedly_send_every_email_once(
    deploy: DeploymentFactory, vhost: str, sink: FaultSink
) -> None:
    deployment = deploy(vhost)
    sink.data_delay_seconds = 0.005

    expected, kills = run_with_kills(deployment, sink, waves=5, kill_every=10)

    assert kills >= 5  # at least one per wave
    assert_each_email_once(deployment, sink, expected, kills)


@pytest.mark.faults_slow
def test_many_kills_over_many_waves(deploy: DeploymentFactory, vhost: str, sink: FaultSink) -> None:
    deployment = deploy(vhost)
    sink.data_delay_seconds = 0.005

    expected, kills = run_with_kills(deployment, sink, waves=20, kill_every=5)

    assert kills >= 20
    assert_each_email_once(deployment, sink, expected, kills)
