"""A backlog of 1,000,000 pending notifications, 100,000 of them due at once.

Loaded straight into a private database (seeding is set-up, not what is measured): 100,000
users; 9,500 of them have 10 due notifications each (one conversation, so one email each),
one "heavy" user has 5,000 due notifications in 50 conversations, and 90,000 users have 10
notifications each that fall due in an hour. One real `missedmail worker` drains it into an
SMTP server. While it does, a probe user's notification is enqueued with `missedmail
enqueue` and falls due a second later.

Invariants: every due notification becomes its email (9,550 emails, each Message-ID once);
the 900,000 not yet due are left alone; the probe's email is not starved: it arrives while
the backlog still drains, not after it. The worker's peak resident memory (VmHWM) and the
drain time are printed for docs/reliability.md; memory is asserted to stay bounded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.acceptance.service import run_cli
from tests.faults.conftest import DeploymentFactory
from tests.faults.deployment import Deployment
from tests.faults.postgres import connect
from tests.faults.sink import FaultSink

pytestmark = pytest.mark.faults_slow

USERS = 100_000
FIRST_USER = 10
DUE_USERS = 9_500
PER_USER = 10
HEAVY_USER, HEAVY_TOPICS, HEAVY_PER_TOPIC = 5, 50, 100
SENDER, PROBE = 7, 8
DUE_EMAILS = DUE_USERS + HEAVY_TOPICS
NOT_DUE = (USERS - DUE_USERS) * PER_USER
# Generous: a few hundred MB would mean something holds the backlog in memory.
PEAK_RSS_LIMIT_MB = 400


BACKLOG_SQL = [
    "INSERT INTO core_realm VALUES (1, 'Zulip Dev', 'https://chat.example.com', false, true)",
    "INSERT INTO core_stream (id, name, realm_id) VALUES (3, 'Denmark', 1)",
    """INSERT INTO core_userprofile (id, email, full_name, is_active, is_bot, timezone,
         default_language, twenty_four_hour_time, email_notifications_batching_period_seconds,
         enable_offline_email_notifications, message_content_in_email_notifications,
         realm_name_in_email_notifications_policy, enable_stream_email_notifications,
         enable_followed_topic_email_notifications, realm_id)
       SELECT g, 'user' || g || '@example.com', 'User ' || g, true, false, '', 'en', false,
              1, true, true, 1, false, true, 1
       FROM (SELECT generate_series(%(first)s, %(last)s) AS g
             UNION ALL VALUES (%(heavy)s), (%(sender)s), (%(probe)s)) AS users""",
    # The messages everybody received (one conversation), the heavy user's, the probe's.
    """INSERT INTO core_message (id, type, topic, content, date_sent, realm_id, stream_id,
         sender_id)
       SELECT g, 'stream', 'backlog', 'backlog message ' || g, now() - interval '1 hour', 1, 3,
              %(sender)s
       FROM generate_series(1, %(per_user)s) g""",
    """INSERT INTO core_message (id, type, topic, content, date_sent, realm_id, stream_id,
         sender_id)
       SELECT 1000 + g, 'stream', 'heavy ' || (g %% %(heavy_topics)s), 'heavy message ' || g,
              now() - interval '1 hour', 1, 3, %(sender)s
       FROM generate_series(1, %(heavy_messages)s) g""",
    """INSERT INTO core_message (id, type, topic, content, date_sent, realm_id, stream_id,
         sender_id)
       VALUES (999, 'stream', 'probe', 'probe', now(), 1, 3, %(sender)s)""",
    """INSERT INTO core_usermessage (flags, user_id, message_id)
       SELECT 0, u, m FROM generate_series(%(first)s, %(last)s) u,
                          generate_series(1, %(per_user)s) m""",
    """INSERT INTO core_usermessage (flags, user_id, message_id)
       SELECT 0, %(heavy)s, 1000 + g FROM generate_series(1, %(heavy_messages)s) g""",
    "INSERT INTO core_usermessage (flags, user_id, message_id) VALUES (0, %(probe)s, 999)",
    """INSERT INTO scheduling_schedulednotification (trigger, scheduled_timestamp, created_at,
         compose_failures, message_id, user_id)
       SELECT 'stream_email_notify',
              CASE WHEN u < %(first_not_due)s THEN now() - interval '1 minute'
                   ELSE now() + interval '1 hour' END,
              now(), 0, m, u
       FROM generate_series(%(first)s, %(last)s) u, generate_series(1, %(per_user)s) m""",
    """INSERT INTO scheduling_schedulednotification (trigger, scheduled_timestamp, created_at,
         compose_failures, message_id, user_id)
       SELECT 'stream_email_notify', now() - interval '1 minute', now(), 0, 1000 + g,
              %(heavy)s
       FROM generate_series(1, %(heavy_messages)s) g""",
    "ANALYZE",
]


def load_backlog(database_url: str) -> None:
    params = {
        "first": FIRST_USER,
        "last": FIRST_USER + USERS - 1,
        "first_not_due": FIRST_USER + DUE_USERS,
        "per_user": PER_USER,
        "heavy": HEAVY_USER,
        "heavy_topics": HEAVY_TOPICS,
        "heavy_messages": HEAVY_TOPICS * HEAVY_PER_TOPIC,
        "sender": SENDER,
        "probe": PROBE,
    }
    with connect(database_url) as conn:
        for statement in BACKLOG_SQL:
            conn.execute(statement, params if "%(" in statement else None)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_backlog_of_a_million_is_drained_in_bounded_memory_without_starving_new_batches(
    deploy: DeploymentFactory, sink: FaultSink
) -> None:
    deployment: Deployment = deploy(None, MISSEDMAIL_LOG_LEVEL="INFO")  # as in production
    load_backlog(deployment.database_url)
    pending = deployment.pending()
    assert pending == USERS * PER_USER + HEAVY_TOPICS * HEAVY_PER_TOPIC

    started = time.monotonic()
    worker = deployment.start("worker")
    sink.wait_for_distinct(1)  # the drain has begun
    probe_event = {"user_profile_id": PROBE, "message_id": 999, "trigger": "mentioned"}
    enqueued = run_cli(["enqueue", json.dumps(probe_event)], deployment.env)
    assert enqueued.returncode == 0, enqueued.stderr
    probe_enqueued_at = time.monotonic()

    received = sink.wait_for_distinct(DUE_EMAILS + 1, timeout=1800)
    drained = time.monotonic() - started
    peak = peak_rss_mb(worker.proc.pid)

    assert max(received.values()) == 1
    assert deployment.outbox().get("sent", 0) == DUE_EMAILS + 1
    assert deployment.pending() == NOT_DUE
    probe_id = deployment.rows(
        "SELECT message_id_header FROM outbox_outboundemail WHERE user_id = %s", PROBE
    )[0][0]
    order = [accepted.message_id for accepted in sink.accepted]
    probe_position = order.index(probe_id)
    print(
        f"\nbacklog: {pending} pending, {DUE_USERS * PER_USER + HEAVY_TOPICS * HEAVY_PER_TOPIC}"
        f" due; {DUE_EMAILS} emails in {drained:.1f} s ({DUE_EMAILS / drained:.0f}/s); "
        f"peak RSS {peak:.0f} MB; probe email arrived {probe_position + 1}th of "
        f"{len(order)}, enqueued {probe_enqueued_at - started:.1f} s after start"
    )
    assert probe_position < len(order) * 0.9, "the probe waited for the whole backlog"
    assert peak < PEAK_RSS_LIMIT_MB
