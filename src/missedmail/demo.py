"""`missedmail demo`: a throw-away instance, a small organisation, a conversation, the emails.

Everything goes through the public ways in — the HTTP API and, when a broker is reachable,
the RabbitMQ queue — exactly as a chat server would use them.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

DEMO_PERIOD_SECONDS = 5
DEFAULT_LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"
WAIT_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _broker_reachable(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 1):
            return True
    except OSError:
        return False


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def call(self, method: str, path: str, body: object | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 -- our own server on loopback
            f"{self.base}/api/v1/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            result: dict[str, Any] = json.loads(response.read())
            return result


def _load_organisation(api: Api) -> None:
    api.call("PUT", "realms/1", {"name": "Elsinore", "url": "https://chat.example.com"})
    people = [
        (10, "King Hamlet", "hamlet@example.com"),
        (11, "Othello, the Moor of Venice", "othello@example.com"),
        (12, "Iago", "iago@example.com"),
        (13, "Cordelia, Lear's daughter", "cordelia@example.com"),
        (14, "Prospero from The Tempest", "prospero@example.com"),
    ]
    for user_id, name, address in people:
        api.call(
            "PUT",
            f"users/{user_id}",
            {
                "realm_id": 1,
                "email": address,
                "full_name": name,
                "timezone": "Europe/Copenhagen",
                "email_notifications_batching_period_seconds": DEMO_PERIOD_SECONDS,
            },
        )
    api.call("PUT", "streams/3", {"realm_id": 1, "name": "Denmark"})
    api.call("PUT", "streams/4", {"realm_id": 1, "name": "Verona"})
    api.call("PUT", "user_groups/20", {"realm_id": 1, "name": "castle guards", "members": [10, 13]})


def _messages(now: datetime) -> list[dict[str, Any]]:
    def at(minutes_ago: float) -> str:
        return (now - timedelta(minutes=minutes_ago)).isoformat()

    def everyone(flags: dict[int, list[str]]) -> list[dict[str, Any]]:
        return [{"user_id": uid, "flags": flags.get(uid, [])} for uid in (10, 11, 12, 13, 14)]

    return [
        {
            "id": 101,
            "realm_id": 1,
            "sender_id": 11,
            "type": "direct",
            "to": [10],
            "content": "Are you coming to the rehearsal tonight?",
            "date_sent": at(4),
            "recipients": [{"user_id": 10, "flags": []}, {"user_id": 11, "flags": ["read"]}],
        },
        {
            "id": 102,
            "realm_id": 1,
            "sender_id": 11,
            "type": "direct",
            "to": [10],
            "content": "I saved you a seat in the **front row**.",
            "date_sent": at(3.5),
            "recipients": [{"user_id": 10, "flags": []}, {"user_id": 11, "flags": ["read"]}],
        },
        {
            "id": 103,
            "realm_id": 1,
            "sender_id": 12,
            "type": "direct",
            "to": [10, 13],
            "content": "Shall we meet at the gate at nine?",
            "date_sent": at(3),
            "recipients": [
                {"user_id": 10, "flags": []},
                {"user_id": 12, "flags": ["read"]},
                {"user_id": 13, "flags": []},
            ],
        },
        {
            "id": 104,
            "realm_id": 1,
            "sender_id": 12,
            "type": "stream",
            "stream_id": 3,
            "topic": "castle walls",
            "content": "The east tower looks odd tonight.",
            "date_sent": at(6),
            "recipients": everyone({12: ["read"]}),
        },
        {
            "id": 105,
            "realm_id": 1,
            "sender_id": 13,
            "type": "stream",
            "stream_id": 3,
            "topic": "castle walls",
            "content": "I saw it too :ghost:",
            "date_sent": at(5),
            "recipients": everyone({13: ["read"]}),
        },
        {
            "id": 106,
            "realm_id": 1,
            "sender_id": 14,
            "type": "stream",
            "stream_id": 3,
            "topic": "castle walls",
            "content": "@**King Hamlet** can you check the east tower? "
            "See [the map](/user_uploads/1/map.png).",
            "date_sent": at(2),
            "recipients": everyone({14: ["read"], 10: ["mentioned"]}),
        },
        {
            "id": 107,
            "realm_id": 1,
            "sender_id": 14,
            "type": "stream",
            "stream_id": 4,
            "topic": "release plan",
            "content": "Release on Friday.\n\n```spoiler Who is on call?\nIago, sadly.\n```",
            "date_sent": at(1),
            "recipients": everyone({14: ["read"]}),
        },
        {
            "id": 108,
            "realm_id": 1,
            "sender_id": 12,
            "type": "direct",
            "to": [10],
            "content": "Never mind, found it.",
            "date_sent": at(0.5),
            "recipients": [{"user_id": 10, "flags": []}, {"user_id": 12, "flags": ["read"]}],
        },
    ]


def _events() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events for the queue, events for the API)."""
    queue = [
        {"user_profile_id": 10, "message_id": 101, "trigger": "direct_message"},
        {"user_profile_id": 10, "message_id": 102, "trigger": "direct_message"},
        {"user_profile_id": 10, "message_id": 103, "trigger": "direct_message"},
    ]
    api = [
        {"user_profile_id": 10, "message_id": 106, "trigger": "mentioned"},
        {"user_profile_id": 10, "message_id": 107, "trigger": "stream_email_notify"},
        {"user_profile_id": 10, "message_id": 108, "trigger": "direct_message"},
        {"user_profile_id": 13, "message_id": 103, "trigger": "direct_message"},
    ]
    return queue, api


def _print_email(path: Path) -> None:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # noqa: S101 -- policy.default builds these
    print("─" * 72)
    for header in ("From", "To", "Subject", "Reply-To", "In-Reply-To", "List-Unsubscribe"):
        print(f"{header}: {message[header]}")
    body = message.get_body(preferencelist=("plain",))
    print()
    print(body.get_content().rstrip() if body is not None else "(no text part)")


def run_demo(*, keep: bool = False) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="missedmail-demo-"))
    port = _free_port()
    amqp_url = os.environ.get("AMQP_URL") or (
        DEFAULT_LOCAL_AMQP if _broker_reachable(DEFAULT_LOCAL_AMQP) else ""
    )
    # A private queue unless the operator named a broker: the demo must not steal the
    # events of a real instance consuming missedmessage_emails on the same broker.
    queue_name = (
        "missedmessage_emails"
        if os.environ.get("AMQP_URL")
        else f"missedmail-demo-{uuid.uuid4().hex[:8]}"
    )
    os.environ.update(
        MISSEDMAIL_DATA_DIR=str(data_dir),
        MISSEDMAIL_BIND=f"127.0.0.1:{port}",
        MISSEDMAIL_INSTALLATION_NAME="missedmail demo",
        MISSEDMAIL_EMAIL_GATEWAY_PATTERN="%s@replies.example.com",
    )
    for variable in ("DATABASE_URL", "EMAIL_HOST", "MISSEDMAIL_PUBLIC_URL", "MISSEDMAIL_API_TOKEN"):
        os.environ.pop(variable, None)
    if amqp_url:
        os.environ["AMQP_URL"] = amqp_url
    else:
        os.environ.pop("AMQP_URL", None)

    from missedmail.startup import build_transport, check_database, setup_django

    settings = setup_django()
    check_database(settings, migrate_embedded=True)

    from missedmail.clock import SystemClock
    from missedmail.httpserver import HttpServer
    from missedmail.ops.figures import status_figures
    from missedmail.queue.publisher import QueuePublisher
    from missedmail.worker.service import WorkerOptions, WorkerService

    server = HttpServer("127.0.0.1", port)
    service = WorkerService(
        settings, SystemClock(), build_transport(settings), WorkerOptions(queue_name=queue_name)
    )
    service.start()
    server.start()
    started = time.monotonic()
    try:
        api = Api(f"http://127.0.0.1:{port}", settings.api_token)
        print(f"missedmail demo: service on http://127.0.0.1:{port}, data in {data_dir}")
        _load_organisation(api)
        api.call("POST", "messages", {"messages": _messages(datetime.now(UTC))})
        print("Loaded realm Elsinore: 5 users, 2 channels, 8 messages.")
        queue_events, api_events = _events()
        if amqp_url:
            with QueuePublisher(amqp_url, queue=queue_name) as publisher:
                publisher.declare()
                publisher.publish(json.dumps(event).encode() for event in queue_events)
            print(f"Published {len(queue_events)} events to RabbitMQ queue {queue_name}.")
        else:
            api_events = queue_events + api_events
            print("No RabbitMQ broker reachable: all events go through the HTTP API.")
        api.call("POST", "notifications", {"events": api_events})
        print(f"Posted {len(api_events)} events to /api/v1/notifications.")
        # Hamlet reads Iago's last DM before the batch is due: it must not be emailed.
        api.call(
            "POST",
            "messages/flags",
            {"user_id": 10, "op": "add", "flag": "read", "messages": [108]},
        )
        print(f"Hamlet read message 108. Batching period {DEMO_PERIOD_SECONDS} s. Waiting…")

        expected = 5  # hamlet: DM othello, group DM, Denmark mention, Verona; cordelia: group DM
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            sent = status_figures(SystemClock().now()).outbox.get("sent", 0)
            if sent >= expected:
                break
            time.sleep(0.2)  # a demo polling its own progress; tests never do this
        files = sorted(settings.outbox_dir.glob("*.eml"))
        for path in files:
            _print_email(path)
        print("─" * 72)
        notifications = api.call("GET", "users/10/notifications")
        print("Hamlet's recent outcomes (GET /api/v1/users/10/notifications):")
        for item in notifications["recent"]:
            detail = item["subject"] or item["reason"] or ""
            print(f"  {item['status']:8} messages {item['message_ids']}  {detail}")
        elapsed = time.monotonic() - started
        print(f"\n{len(files)} emails written to {settings.outbox_dir} in {elapsed:.1f} s.")
        return 0 if len(files) >= expected else 1
    finally:
        server.stop()
        service.stop()
        if amqp_url and queue_name != "missedmessage_emails":
            with QueuePublisher(amqp_url, queue=queue_name) as publisher:
                publisher.delete_queue()
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"Kept {data_dir}", file=sys.stderr)
