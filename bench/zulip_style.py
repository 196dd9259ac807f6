"""The Zulip-style baseline, re-created from ../shared/spec/behaviour.md (nothing imported from
Zulip): the same work done the way Zulip's `missedmessage_emails` worker does it.

Run as a subprocess with the benchmark database in DATABASE_URL:
`python -m bench.zulip_style ingest|dispatch|poll ...`; it prints one JSON line.

- ingest: one event at a time, each in its own transaction — load the user, look up any
  pending row of theirs (the timestamp rule), insert one row — then ack that one message.
- dispatch: one pass claims every due row at once (`FOR UPDATE SKIP LOCKED`, no bound),
  groups them per user, and for each user runs per-user and per-message queries, composes
  the user's emails, and sends each one synchronously over one SMTP connection, inside the
  pass; the rows are deleted at the end of the pass.
- poll: the dispatch pass every `CHECK_FREQUENCY_SECONDS` = 5 s, for the punctuality run.

Composition itself is missedmail's (with its rendering caches): the baseline differs in its
data access and delivery pattern, so the comparison isolates what batching, bulk queries,
the outbox and punctual wake-ups buy. It is a conservative baseline: Zulip's own composer
does more per email than ours (lxml passes per message and recipient, html2text).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import smtplib
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CHECK_FREQUENCY_SECONDS = 5.0


def _setup() -> Any:
    from missedmail.startup import setup_django

    settings = setup_django()
    logging.disable(logging.INFO)
    return settings


def ingest(url: str, count: int) -> dict[str, Any]:
    import pika
    from django.db import transaction

    from missedmail.events import parse_event
    from missedmail.scheduling.models import ScheduledNotification

    from missedmail.core.models import UserProfile  # isort: skip

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=100)  # Zulip's queue workers' prefetch
    done = 0
    started: float | None = None
    for method, _props, body in channel.consume("missedmessage_emails", inactivity_timeout=10):
        if method is None:
            break
        started = started or time.perf_counter()
        event = parse_event(body)
        with transaction.atomic():
            user = UserProfile.objects.get(id=event.user_profile_id)
            pending = (
                ScheduledNotification.objects.filter(user_id=user.id)
                .order_by("scheduled_timestamp")
                .first()
            )
            due = (
                pending.scheduled_timestamp
                if pending is not None
                else datetime.now(UTC)
                + timedelta(seconds=user.email_notifications_batching_period_seconds)
            )
            ScheduledNotification.objects.create(
                user_id=user.id,
                message_id=event.message_id,
                trigger=event.trigger.value,
                mentioned_user_group_id=event.mentioned_user_group_id,
                scheduled_timestamp=due,
                created_at=datetime.now(UTC),
            )
        channel.basic_ack(method.delivery_tag)
        done += 1
        if done >= count:
            break
    seconds = time.perf_counter() - (started or time.perf_counter())
    channel.cancel()
    connection.close()
    return {"events": done, "seconds": seconds}


class _Dispatcher:
    def __init__(self, settings: Any, smtp_port: int) -> None:
        from missedmail.composing.batch import CompositionOptions
        from missedmail.outbox.config import OutboxConfig

        self.options = CompositionOptions(reply_by_email=False)
        self.outbox = OutboxConfig.from_settings(settings)
        self.smtp = smtplib.SMTP("127.0.0.1", smtp_port, timeout=30)
        self.emails = 0
        self.users = 0

    def one_pass(self, deadline: float | None = None) -> None:
        from django.db import transaction

        from missedmail.scheduling.models import ScheduledNotification

        now = datetime.now(UTC)
        with transaction.atomic():
            rows = list(
                ScheduledNotification.objects.select_for_update(skip_locked=True).filter(
                    scheduled_timestamp__lte=now
                )
            )
            by_user: dict[int, list[Any]] = defaultdict(list)
            for row in rows:
                by_user[row.user_id].append(row)
            done: list[int] = []
            for user_id, user_rows in by_user.items():
                if deadline is not None and time.perf_counter() > deadline:
                    break
                self._user(user_id, user_rows, now)
                done += [row.id for row in user_rows]
            ScheduledNotification.objects.filter(id__in=done).delete()

    def _user(self, user_id: int, rows: list[Any], now: datetime) -> None:
        from missedmail.composing.batch import NotificationEntry, compose_user_batch
        from missedmail.core.models import Message, UserMessage, UserProfile
        from missedmail.events import Trigger
        from missedmail.outbox.mime import build_message

        UserProfile.objects.select_related("realm").get(id=user_id)
        for row in rows:  # Zulip looks each message up, with its sender and recipient
            Message.objects.select_related("sender", "stream", "conversation").filter(
                id=row.message_id
            ).first()
            UserMessage.objects.filter(user_id=user_id, message_id=row.message_id).first()
        entries = [
            NotificationEntry(row.message_id, Trigger(row.trigger), row.mentioned_user_group_id)
            for row in rows
        ]
        batch = compose_user_batch(user_id, entries, self.options)
        due = min(row.scheduled_timestamp for row in rows).timestamp()
        for draft in batch.emails:
            message_id = f"<zdue-{due:.6f}-{uuid.uuid4().hex}@bench.example>"
            mime = build_message(
                draft,
                message_id_header=message_id,
                reply_to=self.outbox.noreply_email,
                headers_config=self.outbox,
                now=now,
            )
            self.smtp.sendmail(self.outbox.noreply_email, [draft.to_email], mime)
            self.emails += 1
        self.users += 1


def dispatch(settings: Any, smtp_port: int, budget_seconds: float) -> dict[str, Any]:
    dispatcher = _Dispatcher(settings, smtp_port)
    started = time.perf_counter()
    dispatcher.one_pass(deadline=started + budget_seconds)
    seconds = time.perf_counter() - started
    return {
        "emails": dispatcher.emails,
        "users": dispatcher.users,
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
    }


def poll(settings: Any, smtp_port: int, seconds: float) -> dict[str, Any]:
    dispatcher = _Dispatcher(settings, smtp_port)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        dispatcher.one_pass()
        time.sleep(CHECK_FREQUENCY_SECONDS)  # Zulip's batcher: a 5 s poll while work is pending
    dispatcher.one_pass()
    return {"emails": dispatcher.emails}


def api(count: int) -> dict[str, Any]:
    """The rows of `count` messages with five recipients each, one ORM row at a time, one
    transaction per message (the per-row baseline for the API's bulk insert)."""
    from django.db import transaction

    from missedmail.core.models import Message, UserMessage, UserProfile

    user_ids = list(UserProfile.objects.order_by("id").values_list("id", flat=True)[:500])
    sent = datetime.now(UTC)
    started = time.perf_counter()
    for n in range(count):
        message_id = 90_000_000 + n
        with transaction.atomic():
            Message.objects.create(
                id=message_id, realm_id=1, sender_id=user_ids[n % len(user_ids)],
                type="stream", stream_id=1, topic=f"api {n % 50}",
                content=f"Per-row insert number {n}, :tada:", date_sent=sent,
            )  # fmt: skip
            for k in range(5):
                UserMessage.objects.create(
                    user_id=user_ids[(n + k + 1) % len(user_ids)], message_id=message_id
                )
    return {"messages": count, "seconds": time.perf_counter() - started}


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.zulip_style")
    parser.add_argument("command", choices=("ingest", "dispatch", "poll", "api"))
    parser.add_argument("--amqp-url", default=os.environ.get("AMQP_URL", ""))
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--smtp-port", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    settings = _setup()
    if args.command == "ingest":
        result = ingest(args.amqp_url, args.count)
    elif args.command == "dispatch":
        result = dispatch(settings, args.smtp_port, args.seconds)
    elif args.command == "api":
        result = api(args.count)
    else:
        result = poll(settings, args.smtp_port, args.seconds)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
