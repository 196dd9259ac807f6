"""POST, PATCH and DELETE messages, and per-user flags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from missedmail.clock import ManualClock
from missedmail.core.models import (
    DeletedMessage,
    DirectConversation,
    Message,
    UserMessage,
    UserMessageFlag,
)
from missedmail.scheduling.ingest import raw_events_from_objects, schedule_events
from missedmail.scheduling.models import EventSource, NotificationSkip, ScheduledNotification
from tests.db.api.conftest import ApiClient, error_of, ok
from tests.factories import Org, direct_message, stream_message

pytestmark = pytest.mark.django_db


def stream_body(message_id: int = 1234, **fields: Any) -> dict[str, Any]:
    return {
        "id": message_id,
        "realm_id": 1,
        "sender_id": 11,
        "type": "stream",
        "stream_id": 3,
        "topic": "release plan",
        "content": "@**King Hamlet** can you look at this?",
        "rendered_content": None,
        "date_sent": "2026-11-28T10:00:00Z",
        "recipients": [{"user_id": 10, "flags": ["mentioned"]}, {"user_id": 11, "flags": ["read"]}],
        **fields,
    }


def direct_body(message_id: int, to: list[int], **fields: Any) -> dict[str, Any]:
    return {
        "id": message_id,
        "realm_id": 1,
        "sender_id": 11,
        "type": "direct",
        "to": to,
        "content": "hello",
        "date_sent": "2026-11-28T10:00:00+01:00",
        "recipients": [{"user_id": user_id} for user_id in sorted({11, *to})],
        **fields,
    }


def flags_of(message_id: int) -> dict[int, list[str]]:
    return {
        row.user_id: UserMessageFlag.names(row.flags)
        for row in UserMessage.objects.filter(message_id=message_id)
    }


def test_posting_one_stream_message_stores_it_and_who_received_it(api: ApiClient, org: Org) -> None:
    assert ok(api.post("messages", stream_body()))["ids"] == [1234]
    message = Message.objects.get(id=1234)
    assert (message.realm_id, message.sender_id, message.type) == (1, 11, "stream")
    assert (message.stream_id, message.topic) == (3, "release plan")
    assert message.content == "@**King Hamlet** can you look at this?"
    assert message.rendered_content is None
    assert message.date_sent == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert flags_of(1234) == {10: ["mentioned"], 11: ["read"]}


def test_a_stream_message_may_have_an_empty_topic(api: ApiClient, org: Org) -> None:
    ok(api.post("messages", stream_body(topic="")))
    assert Message.objects.get(id=1234).topic == ""


def test_posting_a_batch_stores_every_message_and_returns_their_ids_in_order(
    api: ApiClient, org: Org
) -> None:
    batch = {"messages": [stream_body(5), direct_body(3, [10]), direct_body(4, [10, 12])]}
    assert ok(api.post("messages", batch))["ids"] == [5, 3, 4]
    assert Message.objects.count() == 3


def test_direct_messages_map_to_one_conversation_per_set_of_participants(
    api: ApiClient, org: Org
) -> None:
    batch = {
        "messages": [
            direct_body(1, [10]),
            direct_body(2, [11], sender_id=10),
            direct_body(3, [10, 12]),
            direct_body(4, [], recipients=[{"user_id": 11}]),
        ]
    }
    ok(api.post("messages", batch))
    conversations = {m.id: m.conversation for m in Message.objects.select_related("conversation")}
    assert conversations[1] == conversations[2]
    assert conversations[1] is not None
    assert conversations[1].participant_ids() == [10, 11]
    assert conversations[3] is not None
    assert conversations[3].participant_ids() == [10, 11, 12]
    assert conversations[4] is not None
    assert conversations[4].participant_ids() == [11]
    assert DirectConversation.objects.count() == 3
    assert Message.objects.get(id=1).date_sent == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_a_batch_with_one_bad_message_writes_nothing_and_names_the_field(
    api: ApiClient, org: Org
) -> None:
    bad = stream_body(7, recipients=[{"user_id": 10}, {"user_id": 99}])
    batch = {"messages": [stream_body(5), direct_body(6, [10]), bad]}
    code, msg = error_of(api.post("messages", batch), 400)
    assert (code, msg) == (
        "UNKNOWN_REFERENCE",
        "messages[2].recipients[1].user_id: unknown user 99",
    )
    assert not Message.objects.exists()
    assert not UserMessage.objects.exists()
    assert not DirectConversation.objects.exists()


def test_a_batch_with_one_invalid_message_names_the_field_with_its_index(
    api: ApiClient, org: Org
) -> None:
    batch = {"messages": [stream_body(5), stream_body(6, sender_id="11")]}
    code, msg = error_of(api.post("messages", batch), 400)
    assert (code, msg) == (
        "INVALID_INPUT",
        "messages[1].sender_id: expected an integer, got string",
    )
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"sender_id": 99}, "sender_id: unknown user 99"),
        ({"stream_id": 99}, "stream_id: unknown stream 99"),
        ({"realm_id": 99}, "realm_id: unknown realm 99"),
        ({"stream_id": None}, "stream_id: required for a stream message"),
        ({"topic": None}, "topic: required for a stream message"),
        ({"to": [10]}, "to: only for direct messages"),
        ({"type": "private"}, "type: expected 'stream' or 'direct', got 'private'"),
        ({"date_sent": "2026-11-28T10:00:00"}, "date_sent: must include a timezone"),
        ({"date_sent": "yesterday"}, "date_sent: expected an ISO-8601 date-time"),
        ({"date_sent": 1764324000}, "date_sent: expected an ISO-8601 date-time string, got number"),
        (
            {"recipients": [{"user_id": 10, "flags": ["shiny"]}]},
            "recipients[0].flags[0]: unknown flag 'shiny'",
        ),
        (
            {"recipients": [{"user_id": 10}, {"user_id": 10}]},
            "recipients[1].user_id: user 10 is listed twice",
        ),
        ({"recipients": [{"user_id": 10, "colour": 1}]}, "recipients[0].colour: unknown field"),
        ({"content": "a\x00b"}, "content: must not contain NUL characters"),
        ({"topic": "x" * 601}, "topic: at most 600 characters, got 601"),
        ({"id": 0}, "id: must be between 1 and 2^63-1, got 0"),
        ({"id": True}, "id: expected an integer, got boolean"),
    ],
)
def test_an_invalid_message_is_a_400_naming_the_field(
    api: ApiClient, org: Org, fields: dict[str, object], expected: str
) -> None:
    code, msg = error_of(api.post("messages", stream_body(**fields)), 400)
    assert code in ("INVALID_INPUT", "UNKNOWN_REFERENCE")
    assert msg.startswith(expected)
    assert not Message.objects.exists()


def test_a_missing_required_message_field_is_named(api: ApiClient, org: Org) -> None:
    body = stream_body()
    del body["recipients"]
    assert error_of(api.post("messages", body), 400)[1] == "recipients: missing"


def test_a_message_of_another_realm_cannot_reference_this_realms_users(
    api: ApiClient, org: Org
) -> None:
    ok(api.put("realms/2", {"name": "Other", "url": "https://other.example.com"}))
    ok(api.put("users/50", {"realm_id": 2, "email": "a@other.example.com", "full_name": "A"}))
    body = direct_body(9, [10], realm_id=2, sender_id=50, recipients=[{"user_id": 50}])
    code, msg = error_of(api.post("messages", body), 400)
    assert (code, msg) == ("UNKNOWN_REFERENCE", "to[0]: user 10 is not in realm 2")


def test_a_direct_message_needs_its_participants(api: ApiClient, org: Org) -> None:
    body = direct_body(9, [10])
    del body["to"]
    assert error_of(api.post("messages", body), 400)[1].startswith("to: required for a direct")
    assert error_of(api.post("messages", direct_body(9, [10], topic="t")), 400)[1] == (
        "topic: only for stream messages"
    )


def test_a_batch_must_hold_1_to_1000_messages(api: ApiClient, org: Org) -> None:
    assert error_of(api.post("messages", {"messages": []}), 400)[1] == (
        "messages: at least 1 items, got 0"
    )
    many = {"messages": [stream_body(i) for i in range(1, 1002)]}
    assert error_of(api.post("messages", many), 400)[1] == "messages: at most 1000 items, got 1001"
    assert not Message.objects.exists()


def test_the_same_id_twice_in_one_batch_is_refused(api: ApiClient, org: Org) -> None:
    code, msg = error_of(api.post("messages", {"messages": [stream_body(5), stream_body(5)]}), 400)
    assert code == "INVALID_INPUT"
    assert msg == "messages[1].id: message 5 appears twice in this request"
    assert not Message.objects.exists()


def test_reposting_a_message_is_an_idempotent_upsert(api: ApiClient, org: Org) -> None:
    ok(api.post("messages", stream_body()))
    ok(api.post("messages", stream_body()))
    assert Message.objects.count() == 1
    assert flags_of(1234) == {10: ["mentioned"], 11: ["read"]}

    edited = stream_body(
        content="edited",
        topic="new topic",
        recipients=[{"user_id": 10, "flags": ["mentioned", "read"]}, {"user_id": 12}],
    )
    ok(api.post("messages", edited))
    message = Message.objects.get(id=1234)
    assert (message.content, message.topic) == ("edited", "new topic")
    assert flags_of(1234) == {10: ["read", "mentioned"], 12: []}


def test_reposting_a_message_cannot_change_its_sender_or_type(api: ApiClient, org: Org) -> None:
    ok(api.post("messages", stream_body()))
    code, msg = error_of(api.post("messages", stream_body(sender_id=12, content="x")), 400)
    assert code == "IMMUTABLE_FIELD"
    assert msg == "sender_id: message 1234 exists with sender_id 11; it cannot change to 12"
    code, msg = error_of(api.post("messages", direct_body(1234, [10])), 400)
    assert msg.startswith("type: message 1234 exists with type stream")
    assert Message.objects.get(id=1234).content.startswith("@**King Hamlet**")


def test_reposting_a_direct_message_cannot_change_its_participants(
    api: ApiClient, org: Org
) -> None:
    ok(api.post("messages", direct_body(9, [10])))
    code, msg = error_of(api.post("messages", direct_body(9, [10, 12])), 400)
    assert code == "IMMUTABLE_FIELD"
    assert msg.startswith("to: message 9 exists with other participants")


def test_editing_a_message_changes_only_the_given_fields(api: ApiClient, org: Org) -> None:
    ok(api.post("messages", stream_body(rendered_content="<p>old</p>")))
    ok(api.patch("messages/1234", {"topic": "moved"}))
    message = Message.objects.get(id=1234)
    assert (message.topic, message.rendered_content) == ("moved", "<p>old</p>")
    assert message.content.startswith("@**King Hamlet**")


def test_editing_the_content_alone_drops_the_stale_rendered_html(api: ApiClient, org: Org) -> None:
    ok(api.post("messages", stream_body(rendered_content="<p>old</p>")))
    ok(api.patch("messages/1234", {"content": "new"}))
    message = Message.objects.get(id=1234)
    assert (message.content, message.rendered_content) == ("new", None)

    ok(api.patch("messages/1234", {"content": "newer", "rendered_content": "<p>newer</p>"}))
    message = Message.objects.get(id=1234)
    assert (message.content, message.rendered_content) == ("newer", "<p>newer</p>")


def test_rendered_content_can_be_cleared_with_null(api: ApiClient, org: Org) -> None:
    ok(api.post("messages", stream_body(rendered_content="<p>old</p>")))
    ok(api.patch("messages/1234", {"rendered_content": None}))
    assert Message.objects.get(id=1234).rendered_content is None


def test_editing_refuses_bad_fields_and_unknown_messages(api: ApiClient, org: Org) -> None:
    ok(api.post("messages", direct_body(9, [10])))
    assert error_of(api.patch("messages/9", {"topic": "t"}), 400)[1] == (
        "topic: direct messages have no topic"
    )
    assert error_of(api.patch("messages/9", {"content": None}), 400)[1] == (
        "content: must not be null"
    )
    assert error_of(api.patch("messages/9", {}), 400)[1].startswith("body: give at least one")
    code, msg = error_of(api.patch("messages/77", {"content": "x"}), 404)
    assert (code, msg) == ("NOT_FOUND", "unknown message 77")
    assert Message.objects.get(id=9).content == "hello"


def _schedule(org: Org, clock: ManualClock, *pairs: tuple[int, int]) -> None:
    events = [
        {"user_profile_id": user_id, "message_id": message_id, "trigger": "mentioned"}
        for user_id, message_id in pairs
    ]
    schedule_events(raw_events_from_objects(events), source=EventSource.API, now=clock.now())


def test_deleting_a_message_drops_its_pending_notifications_with_a_recorded_skip(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    doomed = stream_message(org.iago, org.denmark, "t", "x", [org.hamlet, org.othello, org.iago])
    kept = stream_message(org.iago, org.denmark, "t", "y", [org.hamlet])
    _schedule(org, api_clock, (10, doomed.id), (11, doomed.id), (10, kept.id))
    api_clock.advance(5)

    ok(api.delete(f"messages/{doomed.id}"))

    assert not Message.objects.filter(id=doomed.id).exists()
    assert not UserMessage.objects.filter(message_id=doomed.id).exists()
    assert list(ScheduledNotification.objects.values_list("user_id", "message_id")) == [
        (10, kept.id)
    ]
    skips = {
        (s.user_id, tuple(s.message_ids), s.reason, s.at) for s in NotificationSkip.objects.all()
    }
    assert skips == {
        (10, (doomed.id,), "deleted", api_clock.now()),
        (11, (doomed.id,), "deleted", api_clock.now()),
    }
    assert DeletedMessage.objects.get(id=doomed.id).deleted_at == api_clock.now()


def test_an_event_about_a_deleted_message_is_skipped_not_rejected(api: ApiClient, org: Org) -> None:
    message = direct_message(org.othello, [org.hamlet], "x")
    ok(api.delete(f"messages/{message.id}"))
    body = ok(
        api.post(
            "notifications",
            {"user_profile_id": 10, "message_id": message.id, "trigger": "direct_message"},
        )
    )
    assert body["events"] == [{"status": "skipped", "reason": "deleted"}]


def test_deleting_an_unknown_message_is_404(api: ApiClient, org: Org) -> None:
    code, msg = error_of(api.delete("messages/77"), 404)
    assert (code, msg) == ("NOT_FOUND", "unknown message 77")
    assert not DeletedMessage.objects.exists()


def test_adding_and_removing_a_flag_changes_only_that_flag(api: ApiClient, org: Org) -> None:
    m1 = stream_message(org.iago, org.denmark, "t", "x", [org.hamlet], flags={10: ["mentioned"]})
    m2 = stream_message(org.iago, org.denmark, "t", "y", [org.hamlet])
    body = ok(
        api.post(
            "messages/flags",
            {"user_id": 10, "op": "add", "flag": "read", "messages": [m1.id, m2.id]},
        )
    )
    assert (body["messages"], body["ignored"]) == ([m1.id, m2.id], [])
    assert flags_of(m1.id) == {10: ["read", "mentioned"]}
    assert flags_of(m2.id) == {10: ["read"]}

    ok(
        api.post(
            "messages/flags", {"user_id": 10, "op": "remove", "flag": "read", "messages": [m1.id]}
        )
    )
    assert flags_of(m1.id) == {10: ["mentioned"]}
    assert flags_of(m2.id) == {10: ["read"]}


def test_flags_of_messages_the_user_did_not_receive_are_ignored_and_reported(
    api: ApiClient, org: Org
) -> None:
    mine = stream_message(org.iago, org.denmark, "t", "x", [org.hamlet])
    theirs = stream_message(org.iago, org.denmark, "t", "y", [org.othello])
    body = ok(
        api.post(
            "messages/flags",
            {"user_id": 10, "op": "add", "flag": "starred", "messages": [mine.id, theirs.id, 999]},
        )
    )
    assert (body["messages"], body["ignored"]) == ([mine.id], [theirs.id, 999])
    assert flags_of(theirs.id) == {11: []}


def test_reading_a_message_before_its_email_only_changes_the_flag(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    message = direct_message(org.othello, [org.hamlet], "x")
    _schedule(org, api_clock, (10, message.id))
    ok(
        api.post(
            "messages/flags", {"user_id": 10, "op": "add", "flag": "read", "messages": [message.id]}
        )
    )
    assert flags_of(message.id)[10] == ["read"]
    # The composer skips read messages when the batch falls due, recording why.
    assert ScheduledNotification.objects.filter(user_id=10, message_id=message.id).exists()
    assert not NotificationSkip.objects.exists()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"user_id": 99, "op": "add", "flag": "read", "messages": [1]}, "user_id: unknown user 99"),
        (
            {"user_id": 10, "op": "toggle", "flag": "read", "messages": [1]},
            "op: expected 'add' or 'remove', got 'toggle'",
        ),
        (
            {"user_id": 10, "op": "add", "flag": "shiny", "messages": [1]},
            "flag: unknown flag 'shiny'",
        ),
        (
            {"user_id": 10, "op": "add", "flag": "read", "messages": ["1"]},
            "messages[0]: expected an integer, got string",
        ),
        ({"user_id": 10, "op": "add", "flag": "read"}, "messages: missing"),
    ],
)
def test_an_invalid_flags_request_is_a_400_naming_the_field(
    api: ApiClient, org: Org, body: dict[str, object], expected: str
) -> None:
    assert error_of(api.post("messages/flags", body), 400)[1] == expected
