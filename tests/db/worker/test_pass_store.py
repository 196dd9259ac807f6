"""A pass's store step with the raw bulk inserts (issue 5): whatever its size, the same
statements; and a bulk insert the database refuses falls back to writing user by user."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from missedmail.clock import ManualClock
from missedmail.outbox import enqueue
from missedmail.outbox.drafts import EmailDraft
from missedmail.outbox.mime import new_message_id
from missedmail.outbox.models import OutboundEmail
from missedmail.scheduling.models import EmailedNotification, ScheduledNotification
from missedmail.worker import batching
from missedmail.worker.batching import send_due_batches
from tests.db.worker.test_pass_queries import CONFIG, dm, readers, run_pass, schedule
from tests.factories import Org, make_org
from tests.outbox_helpers import make_draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Org:
    return make_org()


def test_a_pass_of_many_emails_makes_the_same_queries_as_one_of_a_few(
    org: Org, clock: ManualClock
) -> None:
    """Past the point where `bulk_create` split the outbox insert on SQLite (49 emails) and
    the ledger's (333 pairs): each is still one write."""
    now = clock.now()
    counts = []
    for first_id, count in ((1000, 3), (2000, 340)):
        schedule([dm(org, reader) for reader in readers(org, first_id, count)], now)
        result, queries = run_pass(now)
        assert (result.users, result.emails, result.failed_users) == (count, count, 0)
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert OutboundEmail.objects.count() == EmailedNotification.objects.count() == 343
    assert ScheduledNotification.objects.count() == 0


def test_when_the_database_refuses_the_bulk_insert_each_user_is_written_alone(
    org: Org, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One user's email repeats a Message-ID already in the outbox: the database refuses the
    pass's insert (a unique violation inside COPY on PostgreSQL), the savepoint is rolled back,
    and the other users' emails are written one user at a time."""
    people = readers(org, 1000, 3)
    refused = people[1].id
    schedule([dm(org, reader) for reader in people], clock.now())
    taken = "<taken@missedmail.example.org>"
    with _message_ids(monkeypatch, iter([taken])):
        [existing] = enqueue.enqueue_drafts(
            [make_draft()], due_at=clock.now(), now=clock.now(), config=CONFIG.outbox
        )
    real_enqueue = enqueue.enqueue_drafts

    def enqueue_with_a_taken_header(
        drafts: Sequence[EmailDraft], **options: Any
    ) -> list[OutboundEmail]:
        headers = iter(
            [taken if d.user_id == refused else new_message_id(CONFIG.outbox) for d in drafts]
        )
        with _message_ids(monkeypatch, headers):
            return real_enqueue(drafts, **options)

    monkeypatch.setattr(batching, "enqueue_drafts", enqueue_with_a_taken_header)

    result = send_due_batches(clock.now(), CONFIG)

    assert (result.users, result.emails, result.failed_users) == (2, 2, 1)
    emailed = set(OutboundEmail.objects.exclude(id=existing.id).values_list("user_id", flat=True))
    assert emailed == {people[0].id, people[2].id}
    assert set(EmailedNotification.objects.values_list("user_id", flat=True)) == emailed
    assert OutboundEmail.objects.get(message_id_header=taken).id == existing.id
    assert ScheduledNotification.objects.get().user_id == refused


@contextmanager
def _message_ids(monkeypatch: pytest.MonkeyPatch, headers: Iterator[str]) -> Iterator[None]:
    with monkeypatch.context() as patch:
        patch.setattr(enqueue, "new_message_id", lambda config: next(headers))
        yield
