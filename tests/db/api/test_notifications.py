"""POST /notifications (events over HTTP) and GET /users/{id}/notifications."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from missedmail.clock import ManualClock
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.scheduling import wakeups
from missedmail.scheduling.models import (
    NotificationSkip,
    RejectedEvent,
    ScheduledNotification,
)
from tests.db.api.conftest import ApiClient, error_of, ok
from tests.factories import Org, direct_message, make_group, stream_message

pytestmark = pytest.mark.django_db


def test_valid_and_invalid_events_are_answered_one_by_one_and_the_invalid_recorded(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    dm = direct_message(org.othello, [org.hamlet], "x")
    other = stream_message(org.iago, org.denmark, "t", "y", [org.othello])
    events = [
        {"user_profile_id": 10, "message_id": dm.id, "trigger": "direct_message"},
        {"user_profile_id": 10, "message_id": dm.id, "trigger": "private_message"},
        {"user_profile_id": "10", "message_id": dm.id, "trigger": "mentioned"},
        {"user_profile_id": 10, "message_id": other.id, "trigger": "mentioned"},
        {"user_profile_id": 10, "message_id": dm.id, "trigger": "shouted"},
        "not an event",
    ]
    body = ok(api.post("notifications", {"events": events}))
    due = "2026-11-28T10:02:00Z"
    assert body["events"] == [
        {"status": "scheduled", "scheduled_timestamp": due},
        {"status": "duplicate", "scheduled_timestamp": due},
        {
            "status": "rejected",
            "reason": "user_profile_id: expected an integer id, got str",
            "field": "user_profile_id",
        },
        {
            "status": "rejected",
            "reason": f"message_id: user 10 is not a recipient of message {other.id}",
            "field": "message_id",
        },
        {"status": "rejected", "reason": "trigger: unknown trigger 'shouted'", "field": "trigger"},
        {
            "status": "rejected",
            "reason": "event: expected a JSON object, got string",
            "field": None,
        },
    ]
    assert list(ScheduledNotification.objects.values_list("user_id", "message_id")) == [(10, dm.id)]
    assert RejectedEvent.objects.filter(source="api").count() == 4


def test_one_event_may_be_posted_alone_and_extra_keys_are_ignored(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    dm = direct_message(org.othello, [org.hamlet], "x")
    event = {"user_profile_id": 10, "message_id": dm.id, "trigger": "direct_message", "extra": 1}
    body = ok(api.post("notifications", event))
    assert body["events"] == [
        {"status": "scheduled", "scheduled_timestamp": "2026-11-28T10:02:00Z"}
    ]
    row = ScheduledNotification.objects.get()
    assert (row.user_id, row.message_id, row.trigger) == (10, dm.id, "direct_message")
    assert row.scheduled_timestamp == api_clock.now() + timedelta(seconds=120)


def test_an_array_of_events_is_accepted(api: ApiClient, org: Org) -> None:
    dm = direct_message(org.othello, [org.hamlet, org.iago], "x")
    events = [
        {"user_profile_id": 10, "message_id": dm.id, "trigger": "direct_message"},
        {"user_profile_id": 12, "message_id": dm.id, "trigger": "direct_message"},
    ]
    assert [e["status"] for e in ok(api.post("notifications", events))["events"]] == [
        "scheduled",
        "scheduled",
    ]


def test_scheduling_wakes_the_batchers_for_the_new_due_time(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    dm = direct_message(org.othello, [org.hamlet], "x")
    announced: list[datetime] = []
    wakeups.subscribe(announced.append)
    try:
        ok(
            api.post(
                "notifications",
                {"user_profile_id": 10, "message_id": dm.id, "trigger": "direct_message"},
            )
        )
    finally:
        wakeups.unsubscribe(announced.append)
    assert announced == [api_clock.now() + timedelta(seconds=120)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("event", "body: expected an event object or an array of events, got string"),
        (5, "body: expected an event object or an array of events, got number"),
        ([], "body: expected 1 to 1000 events, got 0"),
        ({"events": {}}, "events: expected an array of events, got object"),
        ({"events": [{}] * 1001}, "events: expected 1 to 1000 events, got 1001"),
        ({"events": [{}], "more": 1}, "more: unknown field (a batch has only `events`)"),
    ],
)
def test_a_body_that_holds_no_events_is_a_400(
    api: ApiClient, org: Org, body: object, expected: str
) -> None:
    assert error_of(api.post("notifications", body), 400)[1] == expected
    assert not RejectedEvent.objects.exists()


def _email(
    org: Org, status: str, message_ids: list[int], at: datetime, **fields: object
) -> OutboundEmail:
    return OutboundEmail.objects.create(
        user=org.hamlet,
        realm=org.realm,
        message_ids=message_ids,
        subject=fields.pop("subject", "#Denmark > test"),
        to_address="King Hamlet <hamlet@example.com>",
        envelope_from="noreply@localhost",
        message_id_header=f"<{status}.{at.timestamp()}@localhost>",
        thread_root="<3.dGVzdA==@chat.example.com>",
        mime=b"",
        status=status,
        next_attempt_at=at,
        due_at=at,
        created_at=at,
        updated_at=at,
        **fields,
    )


def test_a_users_notifications_show_pending_rows_and_recent_outcomes_newest_first(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    group = make_group(org.realm, 40, "actors", [org.hamlet])
    m1 = stream_message(org.iago, org.denmark, "t", "a", [org.hamlet])
    m2 = stream_message(org.iago, org.denmark, "t", "b", [org.hamlet])
    m3 = stream_message(org.iago, org.denmark, "t", "c", [org.hamlet])
    t0 = api_clock.now()
    ScheduledNotification.objects.create(
        user=org.hamlet,
        message=m2,
        trigger="mentioned",
        mentioned_user_group=group,
        scheduled_timestamp=t0 + timedelta(seconds=120),
        created_at=t0,
    )
    ScheduledNotification.objects.create(
        user=org.hamlet,
        message=m1,
        trigger="stream_email_notify",
        scheduled_timestamp=t0 + timedelta(seconds=120),
        created_at=t0,
    )
    ScheduledNotification.objects.create(
        user=org.hamlet,
        message=m3,
        trigger="direct_message",
        scheduled_timestamp=t0 + timedelta(seconds=60),
        created_at=t0,
    )
    ScheduledNotification.objects.create(
        user=org.othello,
        message=m3,
        trigger="direct_message",
        scheduled_timestamp=t0,
        created_at=t0,
    )
    _email(
        org,
        EmailStatus.SENT,
        [1230, 1231],
        t0 - timedelta(minutes=9),
        sent_at=t0 - timedelta(minutes=2),
    )
    _email(
        org,
        EmailStatus.FAILED,
        [1228],
        t0 - timedelta(minutes=20),
        last_response="550 5.1.1 mailbox unavailable",
    )
    _email(org, EmailStatus.RETRYING, [1227], t0 - timedelta(minutes=30), last_response="")
    _email(org, EmailStatus.QUEUED, [1226], t0 - timedelta(minutes=40), last_response="old")
    NotificationSkip.objects.create(
        user=org.hamlet, message_ids=[1229], reason="read", at=t0 - timedelta(minutes=10)
    )
    NotificationSkip.objects.create(user=org.othello, message_ids=[1], reason="read", at=t0)

    body = ok(api.get("users/10/notifications"))

    assert set(body) == {"result", "msg", "pending", "recent"}
    # By due time, then by message id.
    assert body["pending"] == [
        {
            "message_id": m3.id,
            "trigger": "direct_message",
            "mentioned_user_group_id": None,
            "scheduled_timestamp": "2026-11-28T10:01:00Z",
        },
        {
            "message_id": m1.id,
            "trigger": "stream_email_notify",
            "mentioned_user_group_id": None,
            "scheduled_timestamp": "2026-11-28T10:02:00Z",
        },
        {
            "message_id": m2.id,
            "trigger": "mentioned",
            "mentioned_user_group_id": 40,
            "scheduled_timestamp": "2026-11-28T10:02:00Z",
        },
    ]
    assert body["recent"] == [
        {
            "status": "sent",
            "message_ids": [1230, 1231],
            "subject": "#Denmark > test",
            "reason": None,
            "at": "2026-11-28T09:58:00Z",
        },
        {
            "status": "skipped",
            "message_ids": [1229],
            "subject": None,
            "reason": "read",
            "at": "2026-11-28T09:50:00Z",
        },
        {
            "status": "failed",
            "message_ids": [1228],
            "subject": "#Denmark > test",
            "reason": "550 5.1.1 mailbox unavailable",
            "at": "2026-11-28T09:40:00Z",
        },
        {
            "status": "retrying",
            "message_ids": [1227],
            "subject": "#Denmark > test",
            "reason": None,
            "at": "2026-11-28T09:30:00Z",
        },
        {
            "status": "queued",
            "message_ids": [1226],
            "subject": "#Denmark > test",
            "reason": None,
            "at": "2026-11-28T09:20:00Z",
        },
    ]


def test_recent_outcomes_are_bounded(api: ApiClient, org: Org, api_clock: ManualClock) -> None:
    t0 = api_clock.now()
    NotificationSkip.objects.bulk_create(
        NotificationSkip(
            user=org.hamlet, message_ids=[i], reason="read", at=t0 - timedelta(seconds=i)
        )
        for i in range(1, 61)
    )
    recent = ok(api.get("users/10/notifications"))["recent"]
    assert [r["message_ids"] for r in recent] == [[i] for i in range(1, 51)]


def test_a_user_without_notifications_has_empty_lists(api: ApiClient, org: Org) -> None:
    body = ok(api.get("users/10/notifications"))
    assert (body["pending"], body["recent"]) == ([], [])


def test_the_notifications_of_an_unknown_user_are_404(api: ApiClient, org: Org) -> None:
    assert error_of(api.get("users/99/notifications"), 404) == ("NOT_FOUND", "unknown user 99")
