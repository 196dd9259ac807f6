"""Privacy and access: content never reaches a log; the token check reveals nothing.

Invariants: (1) after every path a message can take (stored, edited, notified, rejected,
composed, sent, refused, retried, partially delivered, failed, requeued, deleted), no log
record at any level holds any message's content, topic, or the reader's address (the real
processes' logs: test_process_logs.py, and every fault test's teardown). (2) The API compares tokens
with `hmac.compare_digest` and answers every wrong token alike. (3) A notification for a
user who did not receive the message is rejected, and nothing the user can see, and no
record, shows that message.
"""

from __future__ import annotations

import ast
import inspect
import json
import logging
import random
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from missedmail.api import auth
from missedmail.clock import ManualClock
from missedmail.composing.batch import CompositionOptions
from missedmail.outbox import operations
from missedmail.outbox.models import OutboundEmail
from missedmail.outbox.sender import send_once
from missedmail.outbox.transports import MemoryTransport
from missedmail.scheduling.models import RejectedEvent
from missedmail.worker.batching import BatcherConfig, send_due_batches
from tests.factories import make_org, stream_message
from tests.outbox_helpers import outbox_config

CONTENT = "the-crown-jewels-are-under-the-floorboards"
EDITED = "moved-them-to-the-attic-42"
TOPIC = "heist-planning-7731"
ADDRESS = "hamlet.secret.mailbox@example.com"
SECRETS = (CONTENT, EDITED, TOPIC, ADDRESS)


def call(client: Client, method: str, path: str, body: object = None) -> Any:
    response = client.generic(
        method,
        f"/api/v1/{path}",
        data=b"" if body is None else json.dumps(body).encode(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {settings.MISSEDMAIL.api_token}"},
    )
    return response.status_code, json.loads(response.content)


def message(message_id: int, content: str, recipients: list[int]) -> dict[str, Any]:
    return {
        "id": message_id,
        "realm_id": 1,
        "sender_id": 11,
        "type": "stream",
        "stream_id": 3,
        "topic": TOPIC,
        "content": f"@**King Hamlet** {content}",
        "date_sent": "2026-11-28T09:59:00Z",
        "recipients": [{"user_id": uid, "flags": ["mentioned"]} for uid in recipients],
    }


@pytest.mark.django_db
@pytest.mark.urls("missedmail.urls")
def test_no_log_record_of_any_path_holds_content_topics_or_addresses(
    client: Client, caplog: pytest.LogCaptureFixture, clock: ManualClock
) -> None:
    caplog.set_level(logging.DEBUG)
    assert (
        call(client, "PUT", "realms/1", {"name": "Zulip Dev", "url": "https://c.example"})[0] == 200
    )
    for user_id, name, email in (
        (10, "King Hamlet", ADDRESS),
        (11, "Othello", "othello@example.com"),
        (12, "Iago", "iago@example.com"),
    ):
        body = {"realm_id": 1, "email": email, "full_name": name}
        assert call(client, "PUT", f"users/{user_id}", body)[0] == 200
    assert call(client, "PUT", "streams/3", {"realm_id": 1, "name": "Denmark"})[0] == 200
    messages = [message(1000 + n, f"{CONTENT} {n}", [10, 11]) for n in range(4)]
    assert call(client, "POST", "messages", {"messages": messages})[0] == 200
    assert call(client, "PATCH", "messages/1000", {"content": EDITED, "topic": TOPIC})[0] == 200
    events = [
        {"user_profile_id": 10, "message_id": m["id"], "trigger": "mentioned"} for m in messages
    ]
    events += [
        {"user_profile_id": 12, "message_id": 1001, "trigger": "mentioned"},  # not a recipient
        {"user_profile_id": 10, "message_id": 1002, "trigger": f"{CONTENT}"},  # bad trigger
    ]
    status, _ = call(client, "POST", "notifications", {"events": events})
    assert status == 200
    assert call(client, "DELETE", "messages/1003")[0] == 200
    assert call(client, "GET", "users/10/notifications")[0] == 200

    config = BatcherConfig(
        composition=CompositionOptions(reply_by_email=False), outbox=outbox_config()
    )
    later = clock.now() + timedelta(days=1)
    send_due_batches(later, config)
    transport = MemoryTransport()
    transport.fail_next(1, code=451, response=f"451 {ADDRESS} {TOPIC} busy")
    send_once(later, transport, owner="p", clock=clock, rng=random.Random(1))
    transport.unavailable = "cannot use the mail server: ConnectionRefusedError"
    send_once(later + timedelta(hours=1), transport, owner="p", clock=clock)
    transport.unavailable = None
    transport.fail_next(1, permanent=True, response=f"550 5.1.1 <{ADDRESS}>: {CONTENT}")
    send_once(later + timedelta(hours=2), transport, owner="p", clock=clock)
    failed = operations.failed_emails()
    assert failed, "the permanent refusal failed the email"
    assert call(client, "GET", "outbox/failed")[0] in (200, 404)  # 404 until the routes are wired
    operations.requeue([email.id for email in failed], later + timedelta(hours=3))
    send_once(later + timedelta(hours=3), transport, owner="p", clock=clock)
    assert OutboundEmail.objects.filter(status="sent").exists()

    everything = caplog.text + "".join(
        repr(record.args) + repr(record.exc_info) for record in caplog.records
    )
    assert len(caplog.records) > 20  # the paths above did log
    for secret in SECRETS:
        assert secret not in everything, secret


def test_the_api_token_is_compared_in_constant_time() -> None:
    """By inspection of the code, since a timing measurement would be flaky: the token is
    compared with hmac.compare_digest, and never with == or !=."""
    tree = ast.parse(inspect.getsource(auth))
    digest_calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "compare_digest"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "hmac"
    ]
    token_compares = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops)
        and "token" in ast.unparse(node)
    ]
    assert len(digest_calls) == 1
    assert "api_token" in ast.unparse(digest_calls[0])
    assert token_compares == []


@pytest.mark.django_db
@pytest.mark.urls("missedmail.urls")
@pytest.mark.parametrize(
    "guess",
    [
        "x",
        "wrong-token-of-another-length-entirely",
        "PREFIX",  # replaced by the right token's first half
        "RIGHT_BUT_LAST",  # the right token with its last character changed
        "tëst-token-0123456789abcdéf",
        "\x00" * 26,
    ],
)
def test_every_wrong_token_is_answered_alike(client: Client, guess: str) -> None:
    token = settings.MISSEDMAIL.api_token
    if guess == "PREFIX":
        guess = token[: len(token) // 2]
    elif guess == "RIGHT_BUT_LAST":
        guess = token[:-1] + ("x" if token[-1] != "x" else "y")

    response = client.get(
        "/api/v1/users/10/notifications", headers={"Authorization": f"Bearer {guess}"}
    )

    assert response.status_code == 403
    assert json.loads(response.content) == {
        "result": "error",
        "msg": "Authorization: invalid API token",
        "code": "FORBIDDEN",
    }


@pytest.mark.django_db
@pytest.mark.urls("missedmail.urls")
def test_a_notification_for_a_non_recipient_is_rejected_and_reveals_nothing(
    client: Client, clock: ManualClock
) -> None:
    org = make_org()
    secret = stream_message(org.othello, org.denmark, TOPIC, CONTENT, [org.othello, org.hamlet])
    event = {"user_profile_id": org.iago.id, "message_id": secret.id, "trigger": "mentioned"}

    status, body = call(client, "POST", "notifications", event)

    assert status == 200
    [outcome] = body["events"]
    assert outcome["status"] == "rejected"
    assert outcome["reason"] == (
        f"message_id: user {org.iago.id} is not a recipient of message {secret.id}"
    )
    shown = json.dumps(body) + json.dumps(
        call(client, "GET", f"users/{org.iago.id}/notifications")[1]
    )
    [rejected] = RejectedEvent.objects.all()
    shown += rejected.payload + rejected.reason
    for text in (CONTENT, TOPIC):
        assert text not in shown
    config = BatcherConfig(
        composition=CompositionOptions(reply_by_email=False), outbox=outbox_config()
    )
    send_due_batches(clock.now() + timedelta(days=8), config)
    assert not OutboundEmail.objects.filter(user_id=org.iago.id).exists()
