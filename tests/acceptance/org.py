"""A small organisation loaded through the public HTTP API."""

from __future__ import annotations

from typing import Any

from tests.acceptance.service import api

REALM_URL = "https://chat.example.com"
SECRET_WORDS = "zanzibar-quokka-4471"  # message content that must never reach a log line


def load_org(base: str, *, users: int = 5, period_seconds: int = 1) -> None:
    status, body = api(base, "PUT", "realms/1", {"name": "Zulip Dev", "url": REALM_URL})
    assert status == 200, body
    names = [
        "King Hamlet",
        "Othello, the Moor of Venice",
        "Iago",
        "Cordelia, Lear's daughter",
        "Prospero",
    ]
    for index in range(users):
        user_id = 10 + index
        name = names[index] if index < len(names) else f"User {user_id}"
        status, body = api(
            base,
            "PUT",
            f"users/{user_id}",
            {
                "realm_id": 1,
                "email": f"user{user_id}@example.com",
                "full_name": name,
                "email_notifications_batching_period_seconds": period_seconds,
            },
        )
        assert status == 200, body
    status, body = api(base, "PUT", "streams/3", {"realm_id": 1, "name": "Denmark"})
    assert status == 200, body


def stream_messages(
    first_id: int, count: int, recipients: list[int], *, topic: str = "test"
) -> list[dict[str, Any]]:
    return [
        {
            "id": first_id + n,
            "realm_id": 1,
            "sender_id": 11,
            "type": "stream",
            "stream_id": 3,
            "topic": topic,
            "content": f"message {n} {SECRET_WORDS}",
            "date_sent": f"2026-11-28T09:{n // 60:02d}:{n % 60:02d}Z",
            "recipients": [{"user_id": uid, "flags": []} for uid in recipients],
        }
        for n in range(count)
    ]


def dm(message_id: int, sender: int, to: list[int], content: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "realm_id": 1,
        "sender_id": sender,
        "type": "direct",
        "to": to,
        "content": content,
        "date_sent": "2026-11-28T09:30:00Z",
        "recipients": [{"user_id": uid, "flags": []} for uid in [sender, *to]],
    }
