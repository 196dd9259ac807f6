from __future__ import annotations

from datetime import timedelta

import pytest

from missedmail.clock import ManualClock
from missedmail.scheduling.ingest import (
    raw_event_from_body,
    raw_events_from_objects,
    schedule_events,
)
from missedmail.scheduling.models import (
    EventSource,
    NotificationSkip,
    RejectedEvent,
    ScheduledNotification,
)
from tests.factories import Org, direct_message, make_org, stream_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Org:
    return make_org()


def event(
    user_id: int, message_id: int, trigger: str = "mentioned", group: int | None = None
) -> dict[str, object]:
    return {
        "user_profile_id": user_id,
        "message_id": message_id,
        "trigger": trigger,
        "mentioned_user_group_id": group,
    }


def test_later_events_join_the_pending_batch_and_do_not_extend_it(
    org: Org, clock: ManualClock
) -> None:
    m1 = direct_message(org.othello, [org.hamlet], "one")
    m2 = direct_message(org.othello, [org.hamlet], "two")
    m3 = stream_message(org.iago, org.denmark, "test", "three", [org.othello, org.iago])
    t0 = clock.now()
    schedule_events(
        raw_events_from_objects(
            [event(10, m1.id, "direct_message"), event(11, m3.id, "stream_email_notify")]
        ),
        source=EventSource.API,
        now=t0,
    )
    clock.advance(3)
    result = schedule_events(
        raw_events_from_objects([event(10, m2.id, "direct_message")]),
        source=EventSource.API,
        now=clock.now(),
    )

    due = {
        (r.user_id, r.message_id): r.scheduled_timestamp
        for r in ScheduledNotification.objects.all()
    }
    assert due == {
        (10, m1.id): t0 + timedelta(seconds=120),
        (11, m3.id): t0 + timedelta(seconds=120),
        (10, m2.id): t0 + timedelta(seconds=120),
    }
    assert result.earliest_new_due is None  # joined an existing batch: nothing new to wake for


def test_a_duplicate_event_keeps_the_stronger_trigger(org: Org, clock: ManualClock) -> None:
    m = stream_message(org.iago, org.denmark, "test", "hi", [org.hamlet, org.iago])
    schedule_events(
        raw_events_from_objects([event(10, m.id, "stream_email_notify")]),
        source=EventSource.QUEUE,
        now=clock.now(),
    )
    result = schedule_events(
        raw_events_from_objects(
            [event(10, m.id, "mentioned"), event(10, m.id, "stream_wildcard_mentioned")]
        ),
        source=EventSource.QUEUE,
        now=clock.now(),
    )
    rows = list(ScheduledNotification.objects.all())
    assert [(r.trigger, r.user_id) for r in rows] == [("mentioned", 10)]
    assert [o.status for o in result.outcomes] == ["duplicate", "duplicate"]


def test_invalid_events_are_recorded_as_rejected_with_the_field(
    org: Org, clock: ManualClock
) -> None:
    m = stream_message(org.iago, org.denmark, "test", "hi", [org.iago])
    raws = [
        raw_event_from_body(b"{not json"),
        raw_event_from_body(b'{"user_profile_id": 10, "message_id": 1, "trigger": "bogus"}'),
        raw_event_from_body(b'{"user_profile_id": 999, "message_id": 1, "trigger": "mentioned"}'),
        raw_event_from_body(
            f'{{"user_profile_id": 10, "message_id": {m.id}, "trigger": "mentioned"}}'.encode()
        ),
        raw_event_from_body(
            b'{"user_profile_id": 10, "message_id": 424242, "trigger": "mentioned"}'
        ),
    ]
    result = schedule_events(raws, source=EventSource.QUEUE, now=clock.now())
    assert [o.status for o in result.outcomes] == ["rejected"] * 5
    fields = list(RejectedEvent.objects.order_by("id").values_list("field", flat=True))
    assert fields == ["", "trigger", "user_profile_id", "message_id", "message_id"]
    assert "not a recipient" in RejectedEvent.objects.order_by("id")[3].reason
    assert ScheduledNotification.objects.count() == 0


def test_an_event_for_a_deleted_message_is_skipped_not_rejected(
    org: Org, clock: ManualClock
) -> None:
    from missedmail.core.models import DeletedMessage

    DeletedMessage.objects.create(id=5555, deleted_at=clock.now())
    result = schedule_events(
        raw_events_from_objects([event(10, 5555)]), source=EventSource.API, now=clock.now()
    )
    assert [o.status for o in result.outcomes] == ["skipped"]
    assert list(NotificationSkip.objects.values_list("user_id", "message_ids", "reason")) == [
        (10, [5555], "deleted")
    ]
