"""The limits: the same raw work with nothing of missedmail in it.

- ingest: pika consuming with prefetch, a bulk insert of each batch's rows in one
  transaction, and one multiple-ack after the commit — missedmail's shape, minus parsing,
  validation and the timestamp rule;
- delivery: smtplib sending prebuilt messages (missedmail's own MIME bytes, so the sizes are
  the same) over the same number of connections;
- API: a bulk insert of the rows a batch of messages becomes.
"""

from __future__ import annotations

import json
import smtplib
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pika

from bench.broker import QUEUE, Vhost
from bench.db import MESSAGE_COLUMNS, SCHEDULED, SCHEDULED_COLUMNS, BenchDatabase

BATCH = 500


def ingest(vhost: Vhost, db: BenchDatabase, count: int) -> float:
    """Events per second from the first delivery to the last commit."""
    connection = pika.BlockingConnection(pika.URLParameters(vhost.url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=BATCH)
    done = 0
    started: float | None = None
    batch: list[tuple[object, ...]] = []
    last_tag = 0
    for method, _props, body in channel.consume(QUEUE, inactivity_timeout=0.05):
        if method is None:
            if not batch:
                if done >= count:
                    break
                continue
        else:
            started = started or time.perf_counter()
            event = json.loads(body)
            now = datetime.now(UTC)
            batch.append(
                (
                    event["user_profile_id"],
                    event["message_id"],
                    event["trigger"],
                    event.get("mentioned_user_group_id"),
                    now + timedelta(hours=1),
                    now,
                    0,
                )
            )
            last_tag = method.delivery_tag
            if len(batch) < BATCH and done + len(batch) < count:
                continue
        db.load(SCHEDULED, SCHEDULED_COLUMNS, batch)  # one transaction per batch
        channel.basic_ack(last_tag, multiple=True)
        done += len(batch)
        batch = []
        if done >= count:
            break
    seconds = time.perf_counter() - (started or time.perf_counter())
    channel.cancel()
    connection.close()
    return done / seconds


def smtp(messages: Sequence[tuple[str, str, bytes]], port: int, connections: int) -> float:
    """Emails per second sending `messages` (from, to, bytes) over `connections` connections."""
    shares = [messages[n::connections] for n in range(connections)]
    ready = threading.Barrier(connections + 1)

    def send(share: Sequence[tuple[str, str, bytes]]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            ready.wait()
            for sender, recipient, data in share:
                client.sendmail(sender, [recipient], data)

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return len(messages) / (time.perf_counter() - started)


def api_insert(
    db: BenchDatabase, batches: Sequence[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]
) -> float:
    """Messages per second bulk-inserting each batch's messages and recipients, one
    transaction per batch."""
    started = time.perf_counter()
    messages = 0
    for rows, user_messages in batches:
        if db.kind == "postgresql":
            with db.connection().transaction():
                db.load("core_message", MESSAGE_COLUMNS, rows)
                db.load("core_usermessage", ("user_id", "message_id", "flags"), user_messages)
        else:
            db.load("core_message", MESSAGE_COLUMNS, rows)
            db.load("core_usermessage", ("user_id", "message_id", "flags"), user_messages)
        messages += len(rows)
    return messages / (time.perf_counter() - started)
