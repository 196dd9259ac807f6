"""Re-posting messages that exist (contract §4: POST /api/v1/messages is an upsert) through
the set-based update path (core/writes.py, `bulk.update_rows`), on SQLite and on PostgreSQL
(where changed rows are written with one `UPDATE ... FROM unnest(arrays)` per table)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from missedmail.core.models import Message, UserMessage, UserMessageFlag
from tests.db.api.conftest import ApiClient, error_of, ok
from tests.db.api.test_messages import direct_body, stream_body
from tests.db.api.test_messages_bulk import AWKWARD
from tests.factories import Org

pytestmark = pytest.mark.django_db

READ = UserMessageFlag.READ
MENTIONED = UserMessageFlag.MENTIONED
STARRED = UserMessageFlag.STARRED

# What a PostgreSQL array literal treats specially (braces, quotes, commas, backslashes,
# the unquoted word NULL), on top of COPY's escapes.
ARRAY_AWKWARD = AWKWARD + ' {"a",b} NULL'

WRITES = ("INSERT", "UPDATE", "DELETE", "COPY")


def message_rows() -> dict[int, tuple[object, ...]]:
    return {
        row[0]: row[1:]
        for row in Message.objects.values_list(
            "id",
            "realm_id",
            "sender_id",
            "type",
            "stream_id",
            "topic",
            "conversation_id",
            "content",
            "rendered_content",
            "date_sent",
        )
    }


def recipient_rows() -> dict[tuple[int, int], tuple[int, int]]:
    """(message, user) -> (row id, flags): the row id tells an update from a re-insert."""
    return {
        (message_id, user_id): (row_id, flags)
        for row_id, message_id, user_id, flags in UserMessage.objects.values_list(
            "id", "message_id", "user_id", "flags"
        )
    }


def writes_in(captured: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith(WRITES)
        # SQLite's executemany is logged as "<n> times: <sql>".
        or query["sql"].split(": ", 1)[-1].lstrip().upper().startswith(WRITES)
    ]


def test_reposting_a_batch_changes_exactly_what_it_asks_and_leaves_the_rest_alone(
    api: ApiClient, org: Org
) -> None:
    ok(
        api.post(
            "messages",
            {
                "messages": [
                    stream_body(1),
                    stream_body(2, topic="kept"),
                    direct_body(3, [10]),
                    stream_body(4, content="not re-posted"),
                ]
            },
        )
    )
    before_messages = message_rows()
    before_recipients = recipient_rows()

    ok(
        api.post(
            "messages",
            {
                "messages": [
                    stream_body(
                        1,
                        stream_id=4,
                        topic="moved",
                        content=ARRAY_AWKWARD,
                        rendered_content="<p>rendered</p>",
                        date_sent="2026-11-28T12:30:00.250000+02:00",
                        recipients=[
                            {"user_id": 10, "flags": ["mentioned", "read"]},  # flag added
                            {"user_id": 11, "flags": ["read"]},  # unchanged
                            {"user_id": 12, "flags": ["starred"]},  # new recipient
                        ],
                    ),
                    stream_body(2, topic="kept"),  # the same again: nothing to change
                    direct_body(
                        3,
                        [10],
                        content="edited DM",
                        rendered_content=ARRAY_AWKWARD,
                        recipients=[{"user_id": 10, "flags": ["read"]}],  # 11 dropped
                    ),
                ]
            },
        )
    )

    after_messages = message_rows()
    assert after_messages[1] == (
        1,
        11,
        "stream",
        4,
        "moved",
        None,
        ARRAY_AWKWARD,
        "<p>rendered</p>",
        datetime(2026, 11, 28, 10, 30, 0, 250000, tzinfo=UTC),
    )
    assert after_messages[2] == before_messages[2]
    assert after_messages[3] == (
        *before_messages[3][:6],
        "edited DM",
        ARRAY_AWKWARD,
        before_messages[3][8],
    )
    assert after_messages[4] == before_messages[4]

    after_recipients = recipient_rows()
    # Existing recipients keep their rows (updated in place), new ones get rows, dropped
    # ones lose theirs; messages 2 and 4 are as they were.
    assert after_recipients == {
        (1, 10): (before_recipients[(1, 10)][0], MENTIONED | READ),
        (1, 11): before_recipients[(1, 11)],
        (1, 12): (after_recipients[(1, 12)][0], STARRED),
        (2, 10): before_recipients[(2, 10)],
        (2, 11): before_recipients[(2, 11)],
        (3, 10): (before_recipients[(3, 10)][0], READ),
        (4, 10): before_recipients[(4, 10)],
        (4, 11): before_recipients[(4, 11)],
    }
    assert after_recipients[(1, 12)][0] not in {row_id for row_id, _ in before_recipients.values()}


def test_reposting_only_direct_messages_edits_them(api: ApiClient, org: Org) -> None:
    # Every changed row has no stream and no HTML: PostgreSQL gets columns of NULLs only.
    ok(api.post("messages", {"messages": [direct_body(1, [10]), direct_body(2, [12, 13])]}))
    conversations = dict(Message.objects.values_list("id", "conversation_id"))

    ok(
        api.post(
            "messages",
            {"messages": [direct_body(1, [10], content="one"), direct_body(2, [12, 13])]},
        )
    )

    assert dict(Message.objects.values_list("id", "content")) == {1: "one", 2: "hello"}
    assert dict(Message.objects.values_list("id", "conversation_id")) == conversations
    assert not Message.objects.filter(stream__isnull=False).exists()
    assert not Message.objects.filter(rendered_content__isnull=False).exists()


def test_a_repost_that_changes_nothing_writes_nothing(api: ApiClient, org: Org) -> None:
    batch = {
        "messages": [
            stream_body(1, date_sent="2026-11-28T10:00:00.123456Z", rendered_content="<p>x</p>"),
            stream_body(2, content=ARRAY_AWKWARD, topic=ARRAY_AWKWARD),
            direct_body(3, [10, 12]),
        ]
    }
    ok(api.post("messages", batch))
    before = (message_rows(), recipient_rows())
    # The same instants written in another offset are the same values.
    batch["messages"][2]["date_sent"] = "2026-11-28T04:00:00-05:00"

    with CaptureQueriesContext(connection) as captured:
        ok(api.post("messages", batch))

    assert writes_in(captured) == []
    assert (message_rows(), recipient_rows()) == before


def test_a_repost_costs_the_same_statements_whatever_its_size(api: ApiClient, org: Org) -> None:
    conversations = [[10], [12], [13], [14], [10, 12], [12, 13, 14]]

    def batch(first_id: int, count: int, content: str, flags: list[str]) -> dict[str, Any]:
        messages = []
        for n in range(count):
            message_id = first_id + n
            recipients = [{"user_id": 11, "flags": flags}]
            if n % 2:
                to = conversations[n % len(conversations)]
                messages.append(
                    direct_body(
                        message_id,
                        to,
                        content=content,
                        recipients=[*recipients, *({"user_id": u} for u in to)],
                    )
                )
            else:
                messages.append(stream_body(message_id, content=content, recipients=recipients))
        return {"messages": messages}

    def repost_queries(first_id: int, count: int) -> int:
        ok(api.post("messages", batch(first_id, count, "first", [])))
        with CaptureQueriesContext(connection) as captured:
            ok(api.post("messages", batch(first_id, count, "edited", ["read"])))
        assert set(
            Message.objects.filter(id__gte=first_id, id__lt=first_id + count).values_list(
                "content", flat=True
            )
        ) == {"edited"}
        assert UserMessage.objects.get(message_id=first_id, user_id=11).flags == READ
        return len(captured.captured_queries)

    assert repost_queries(1, 2) == repost_queries(100, 50) == repost_queries(300, 300)


def test_a_repost_refused_deep_in_a_batch_changes_nothing(api: ApiClient, org: Org) -> None:
    messages = [stream_body(n) for n in range(1, 201)]
    ok(api.post("messages", {"messages": messages}))
    before = (message_rows(), recipient_rows())
    edited = [
        stream_body(n, content="edited", recipients=[{"user_id": 12, "flags": ["read"]}])
        for n in range(1, 201)
    ]
    edited[150]["sender_id"] = 12

    code, msg = error_of(api.post("messages", {"messages": edited}), 400)

    assert (code, msg) == (
        "IMMUTABLE_FIELD",
        "messages[150].sender_id: message 151 exists with sender_id 11; it cannot change to 12",
    )
    assert (message_rows(), recipient_rows()) == before


@pytest.mark.postgres_only
def test_a_repost_rewrites_only_the_rows_it_changes(api: ApiClient, org: Org) -> None:
    """PostgreSQL gives every written row version a new xmin (the writing transaction's id),
    even when an UPDATE sets the values it already had."""

    def row_versions(table: str) -> dict[int, str]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, xmin::text FROM {table}")  # noqa: S608 -- a constant
            return dict(cursor.fetchall())

    ok(api.post("messages", {"messages": [stream_body(1), stream_body(2), stream_body(3)]}))
    # Inside the test's transaction each request's atomic block is a savepoint, that is a
    # subtransaction with its own id: xmin still tells the re-post's writes from the first's.
    messages_before, recipients_before = (
        row_versions("core_message"),
        row_versions("core_usermessage"),
    )
    recipient_id = UserMessage.objects.get(message_id=3, user_id=10).id

    ok(
        api.post(
            "messages",
            {
                "messages": [
                    stream_body(1),
                    stream_body(2, content="edited"),
                    stream_body(
                        3,
                        recipients=[
                            {"user_id": 10, "flags": ["read"]},
                            {"user_id": 11, "flags": ["read"]},
                        ],
                    ),
                ]
            },
        )
    )

    messages_after, recipients_after = (
        row_versions("core_message"),
        row_versions("core_usermessage"),
    )
    assert {i for i in messages_before if messages_after[i] != messages_before[i]} == {2}
    assert {i for i in recipients_before if recipients_after[i] != recipients_before[i]} == {
        recipient_id
    }
