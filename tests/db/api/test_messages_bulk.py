"""POST /api/v1/messages through the bulk path (core/writes.py, core/bulk.py): what the ORM
used to guarantee and must still hold, on SQLite and on PostgreSQL (where new rows go in
with COPY)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from missedmail.core.models import Message, UserMessage, UserMessageFlag
from tests.db.api.conftest import ApiClient, error_of, ok
from tests.db.api.test_messages import direct_body, flags_of, stream_body
from tests.factories import Org

pytestmark = pytest.mark.django_db

# What COPY's text format escapes (tab, newline, carriage return, backslash, its NULL
# marker), and text beyond the Basic Multilingual Plane.
AWKWARD = "tab\there\nline\r\nback\\slash \\N \\\\N ünïcødé 🎉 \u2028 end\\"


def test_text_with_copy_escapes_is_stored_exactly(api: ApiClient, org: Org) -> None:
    ok(
        api.post(
            "messages",
            {
                "messages": [
                    stream_body(1, content=AWKWARD, topic="\\N", rendered_content=AWKWARD),
                    stream_body(2, content="\\N", topic="", rendered_content=None),
                    direct_body(3, [10], content=AWKWARD * 100),
                ]
            },
        )
    )

    stored = {m.id: (m.content, m.topic, m.rendered_content) for m in Message.objects.all()}
    assert stored == {
        1: (AWKWARD, "\\N", AWKWARD),
        2: ("\\N", "", None),
        3: (AWKWARD * 100, "", None),
    }
    assert Message.objects.get(id=1).date_sent == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_a_batch_mixing_new_and_reposted_messages_writes_each_as_asked(
    api: ApiClient, org: Org
) -> None:
    ok(api.post("messages", {"messages": [stream_body(1), stream_body(2)]}))

    ok(
        api.post(
            "messages",
            {
                "messages": [
                    stream_body(
                        2,
                        content="edited",
                        recipients=[{"user_id": 10, "flags": ["read"]}, {"user_id": 13}],
                    ),
                    stream_body(3, recipients=[{"user_id": 12, "flags": ["starred", "read"]}]),
                ]
            },
        )
    )

    assert dict(Message.objects.values_list("id", "content")) == {
        1: stream_body()["content"],
        2: "edited",
        3: stream_body()["content"],
    }
    assert flags_of(1) == {10: ["mentioned"], 11: ["read"]}
    assert flags_of(2) == {10: ["read"], 13: []}
    assert flags_of(3) == {12: ["read", "starred"]}
    assert UserMessage.objects.get(message_id=3).flags == (
        UserMessageFlag.READ | UserMessageFlag.STARRED
    )


def test_a_batch_costs_the_same_queries_whatever_its_size(api: ApiClient, org: Org) -> None:
    def queries(first_id: int, count: int) -> int:
        body: dict[str, Any] = {
            "messages": [stream_body(first_id + n) for n in range(count)],
        }
        with CaptureQueriesContext(connection) as captured:
            ok(api.post("messages", body))
        return len(captured.captured_queries)

    assert queries(1, 1) == queries(100, 50) == queries(200, 200)


def test_an_error_deep_in_a_large_batch_names_the_message_and_writes_nothing(
    api: ApiClient, org: Org
) -> None:
    messages = [stream_body(n) for n in range(1, 301)]
    messages[250]["recipients"] = [{"user_id": 10}, {"user_id": 11}, {"user_id": 10}]
    messages[260]["recipients"] = [{"user_id": 999}]

    code, msg = error_of(api.post("messages", {"messages": messages}), 400)

    assert (code, msg) == (
        "INVALID_INPUT",
        "messages[250].recipients[2].user_id: user 10 is listed twice",
    )
    assert not Message.objects.exists()
    assert not UserMessage.objects.exists()
