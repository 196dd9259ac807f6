"""A batcher pass costs a fixed number of queries, whatever the number of its users (issue 5):
what composing needs is read in bulk for all of them, and their emails, skips and deletions
are written in bulk.

Each scenario runs one pass over 3 users, then one over 30 users of the same shape, and
compares the statements. The sizes stay below the point where Django splits the skips'
`bulk_create` into several statements on SQLite (999 parameters a statement: 249 skips),
which is a property of the backend, not of the pass; the outbox and ledger inserts are one
statement at any size (test_pass_store.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.composing.batch import CompositionOptions
from missedmail.core.models import UserProfile
from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.models import OutboundEmail
from missedmail.scheduling.models import NotificationSkip, ScheduledNotification
from missedmail.worker.batching import BatcherConfig, PassResult, send_due_batches
from tests.factories import Org, direct_message, make_group, make_org, make_user, stream_message

pytestmark = pytest.mark.django_db

OUTBOX = OutboxConfig(
    from_name="missedmail notifications",
    noreply_email="noreply@example.com",
    gateway_pattern="",
    public_url="http://127.0.0.1:8000",
)
CONFIG = BatcherConfig(composition=CompositionOptions(reply_by_email=False), outbox=OUTBOX)
# A generous ceiling, to notice a pass that starts reading per user even in the small case:
# claim (3), preload (at most 9 and a savepoint), writes (at most 5 and a savepoint), the
# next due time (1).
MAX_PASS_QUERIES = 24

# (user id, message id, trigger, mentioned group id)
Event = tuple[int, int, str, int | None]
Scenario = Callable[[Org, list[UserProfile], int], list[Event]]


@pytest.fixture
def org() -> Org:
    return make_org()


def readers(org: Org, first_id: int, count: int) -> list[UserProfile]:
    return [
        make_user(org.realm, user_id, f"Reader {user_id}", f"reader{user_id}@example.com")
        for user_id in range(first_id, first_id + count)
    ]


def dm(org: Org, reader: UserProfile) -> Event:
    message = direct_message(org.othello, [reader], "hi, see #**Verona**")
    return (reader.id, message.id, "direct_message", None)


def group_dm(org: Org, reader: UserProfile) -> Event:
    message = direct_message(org.othello, [reader, org.iago], "hello all :tada:")
    return (reader.id, message.id, "direct_message", None)


def mention_with_context(org: Org, reader: UserProfile, group_id: int) -> Event:
    """A group mention in the reader's own topic, after two messages they received."""
    topic = f"topic of {reader.id}"
    mentioned_at = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    for minutes in (3, 2):
        stream_message(
            org.othello,
            org.denmark,
            topic,
            f"context {minutes}",
            [reader, org.othello],
            date_sent=mentioned_at - timedelta(minutes=minutes),
        )
    subgroup = make_group(org.realm, group_id + 1, f"sub {reader.id}", [org.iago])
    make_group(org.realm, group_id, f"group {reader.id}", [reader], subgroups=[subgroup])
    message = stream_message(
        org.iago,
        org.denmark,
        topic,
        "@*group* have a look at #**Verona**",
        [reader, org.iago],
        date_sent=mentioned_at,
        flags={reader.id: ["group_mentioned"]},
    )
    return (reader.id, message.id, "mentioned", group_id)


def read_message(org: Org, reader: UserProfile) -> Event:
    message = stream_message(
        org.iago, org.verona, "old", "seen it", [reader], flags={reader.id: ["read"]}
    )
    return (reader.id, message.id, "stream_email_notify", None)


def not_received(org: Org, reader: UserProfile) -> Event:
    message = stream_message(org.iago, org.verona, "elsewhere", "not for you", [org.othello])
    return (reader.id, message.id, "stream_email_notify", None)


def content_deleted(org: Org, reader: UserProfile) -> Event:
    message = stream_message(org.iago, org.verona, "gone", "(deleted)", [reader])
    return (reader.id, message.id, "stream_email_notify", None)


def dms(org: Org, people: list[UserProfile], first_group: int) -> list[Event]:
    return [dm(org, reader) for reader in people]


def group_dms(org: Org, people: list[UserProfile], first_group: int) -> list[Event]:
    return [group_dm(org, reader) for reader in people]


def stream_mentions(org: Org, people: list[UserProfile], first_group: int) -> list[Event]:
    return [
        mention_with_context(org, reader, first_group + 2 * n) for n, reader in enumerate(people)
    ]


GATES: list[dict[str, object]] = [
    {"is_active": False},
    {"is_bot": True},
    {"enable_offline_email_notifications": False},
]


def gated(org: Org, people: list[UserProfile], first_group: int) -> list[Event]:
    for n, reader in enumerate(people):
        UserProfile.objects.filter(id=reader.id).update(**GATES[n % len(GATES)])
    return [dm(org, reader) for reader in people]


def skipped(org: Org, people: list[UserProfile], first_group: int) -> list[Event]:
    return [
        event
        for reader in people
        for event in (
            read_message(org, reader),
            not_received(org, reader),
            content_deleted(org, reader),
        )
    ]


def everything(org: Org, people: list[UserProfile], first_group: int) -> list[Event]:
    """A third gated, a third with a group DM, a third with a DM; the two thirds with a
    mentioned topic and a skipped message each."""
    events: list[Event] = []
    for n, reader in enumerate(people):
        if n % 3 == 0:
            UserProfile.objects.filter(id=reader.id).update(
                enable_offline_email_notifications=False
            )
            events.append(dm(org, reader))
            continue
        events.append(group_dm(org, reader) if n % 3 == 1 else dm(org, reader))
        events.append(mention_with_context(org, reader, first_group + 2 * n))
        events.append(read_message(org, reader) if n % 3 == 1 else not_received(org, reader))
    return events


def schedule(events: list[Event], due: datetime, *, spread: bool = False) -> None:
    """With `spread`, each user is due at a time of their own, as in production (one
    window per user), a few milliseconds before `due`."""
    ScheduledNotification.objects.bulk_create(
        ScheduledNotification(
            user_id=user_id,
            message_id=message_id,
            trigger=trigger,
            mentioned_user_group_id=group_id,
            scheduled_timestamp=due - timedelta(milliseconds=user_id % 1000 if spread else 0),
            created_at=due,
        )
        for user_id, message_id, trigger, group_id in events
    )


def run_pass(now: datetime) -> tuple[PassResult, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        result = send_due_batches(now, CONFIG)
    return result, [query["sql"] for query in captured.captured_queries]


def outcomes(events: list[Event]) -> Counter[tuple[int, int]]:
    """How many times each of these users' (user, message) pairs ended in an email or a
    skip: accountability wants exactly once each."""
    users = {user_id for user_id, *_ in events}
    found: Counter[tuple[int, int]] = Counter()
    for user_id, message_ids in OutboundEmail.objects.filter(user_id__in=users).values_list(
        "user_id", "message_ids"
    ):
        found.update((user_id, message_id) for message_id in message_ids)
    for user_id, message_ids in NotificationSkip.objects.filter(user_id__in=users).values_list(
        "user_id", "message_ids"
    ):
        found.update((user_id, message_id) for message_id in message_ids)
    return found


@pytest.mark.parametrize(
    ("scenario", "emails_per_user"),
    [
        (dms, 1),
        (group_dms, 1),
        (stream_mentions, 1),
        (gated, 0),
        (skipped, 0),
        (everything, 4 / 3),
    ],
    ids=["dm", "group-dm", "stream-mention-context", "gated", "skipped", "everything"],
)
def test_a_pass_over_30_users_makes_the_same_queries_as_one_over_3(
    org: Org, clock: ManualClock, scenario: Scenario, emails_per_user: float
) -> None:
    now = clock.now()
    results = []
    for first_id, count in ((1000, 3), (2000, 30)):
        events = scenario(org, readers(org, first_id, count), first_id)
        schedule(events, now - timedelta(seconds=1), spread=True)
        result, queries = run_pass(now)
        results.append((count, events, result, queries))

    few_queries, many_queries = results[0][3], results[1][3]
    assert len(many_queries) == len(few_queries), "\n".join(many_queries)
    assert len(few_queries) <= MAX_PASS_QUERIES, "\n".join(few_queries)
    for count, events, result, _ in results:
        assert (result.users, result.failed_users) == (count, 0)
        assert result.emails == round(count * emails_per_user)
        assert outcomes(events) == Counter((user_id, m) for user_id, m, *_ in events)
    assert ScheduledNotification.objects.count() == 0


def test_a_pass_of_gated_users_reads_nothing_but_the_users(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    schedule(gated(org, readers(org, 1000, 6), 1000), now)
    _, queries = run_pass(now)
    tables = " ".join(queries)
    assert "core_usermessage" not in tables
    assert "core_message" not in tables
