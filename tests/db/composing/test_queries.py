"""The composer's database cost does not grow with the batch: a fixed set of bulk
queries, whatever the number of messages, conversations and groups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoAssertNumQueries

from missedmail.composing.batch import NotificationEntry
from missedmail.core.models import UserGroup
from tests.db.composing.batches import compose_directly, entry
from tests.factories import Org, direct_message, make_group, make_user, stream_message

pytestmark = pytest.mark.django_db

# reader, messages, flags, context candidates, context messages, people, groups,
# linked streams, shared-address check; a few to spare for the content package.
MAX_QUERIES = 12


def busy_batch(org: Org, scale: int, first: int = 0) -> list[NotificationEntry]:
    """Per unit of scale: a DM sender, a group DM, a mentioned topic with context, a
    group nested in the previous one."""
    start = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    people = {n: make_user(org.realm, 100 + n, f"Person {n}") for n in range(first, first + scale)}
    groups: dict[int, UserGroup] = {}
    for n, person in people.items():
        previous = [groups[n - 1]] if n - 1 in groups else []
        groups[n] = make_group(org.realm, 1 + n, f"group {n}", [person], subgroups=previous)
    entries = []
    for n, person in people.items():
        moment = start + timedelta(minutes=n)
        dm = direct_message(person, [org.hamlet], f"dm {n} #**Verona**", date_sent=moment)
        group = direct_message(person, [org.hamlet, org.othello, org.iago], "g", date_sent=moment)
        topic = f"topic {n}"
        for c in range(3):
            stream_message(
                org.othello,
                org.denmark,
                topic,
                f"context {c}",
                [org.hamlet],
                date_sent=moment - timedelta(minutes=c + 1),
            )
        mentioned = stream_message(
            person,
            org.denmark,
            topic,
            "ping",
            [org.hamlet],
            date_sent=moment,
            flags={10: ["group_mentioned"]},
        )
        entries += [
            entry(dm, "direct_message"),
            entry(group, "direct_message"),
            entry(mentioned, "mentioned", groups[n].id),
        ]
    return entries


def test_a_large_batch_costs_no_more_queries_than_a_small_one(
    org: Org, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    small = busy_batch(org, 2)
    with CaptureQueriesContext(connection) as small_run:
        small_batch = compose_directly(org.hamlet, *small)
    large = small + busy_batch(org, 20, first=2)

    with django_assert_max_num_queries(MAX_QUERIES) as large_run:
        large_batch = compose_directly(org.hamlet, *large)

    assert len(large_run.captured_queries) == len(small_run.captured_queries)
    assert (len(small_batch.emails), len(large_batch.emails)) == (6, 66)
    assert large_batch.skips == ()
    assert sum(len(email.message_ids) for email in large_batch.emails) == len(large)
