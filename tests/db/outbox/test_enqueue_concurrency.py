"""Several workers enqueue at once (PostgreSQL: one batcher per worker process). The outbox
insert takes its ids from the table's sequence before it copies the rows in; they must never
collide with another transaction's, whether that one enqueues too or inserts through the ORM.
Runs only in the PostgreSQL run (SQLite has one writer at a time)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import transaction

from missedmail.clock import ManualClock
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import OutboundEmail
from tests.factories import make_org
from tests.outbox_helpers import in_thread, make_draft, outbox_config

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 10  # a bound for a broken run, never a wait of a passing one


def orm_insert(like: OutboundEmail, header: str) -> OutboundEmail:
    """A row inserted through the ORM (its id from the sequence's default), as the ORM's own
    paths (tests, tools) insert."""
    fields = OutboundEmail._meta.concrete_fields
    values = {f.attname: getattr(like, f.attname) for f in fields if not f.primary_key}
    return OutboundEmail.objects.create(**values | {"message_id_header": header})


def test_two_open_transactions_enqueueing_at_once_get_distinct_ids(clock: ManualClock) -> None:
    make_org()
    config, now = outbox_config(), clock.now()
    theirs: list[OutboundEmail] = []
    their_rows_written, ours_written = threading.Event(), threading.Event()

    def other_worker() -> None:
        with transaction.atomic():
            assert ours_written.wait(WAIT_SECONDS)
            theirs.extend(
                enqueue_drafts([make_draft() for _ in range(4)], due_at=now, now=now, config=config)
            )
            theirs.append(orm_insert(theirs[0], "<orm-1@missedmail.example.org>"))
            their_rows_written.set()

    with transaction.atomic():
        ours = enqueue_drafts([make_draft() for _ in range(4)], due_at=now, now=now, config=config)
        other = in_thread(other_worker)
        ours_written.set()  # both transactions now hold uncommitted rows
        assert their_rows_written.wait(WAIT_SECONDS)
    other.join(WAIT_SECONDS)

    our_ids, their_ids = [e.id for e in ours], [e.id for e in theirs]
    assert len(set(our_ids + their_ids)) == 9
    assert min(their_ids) > max(our_ids)  # taken after ours, from the same sequence
    stored = dict(OutboundEmail.objects.values_list("id", "message_id_header"))
    assert stored == {e.id: e.message_id_header for e in [*ours, *theirs]}
    assert orm_insert(ours[0], "<orm-2@missedmail.example.org>").id > max(their_ids)


def test_concurrent_enqueues_never_share_an_id(clock: ManualClock) -> None:
    make_org()
    config, now = outbox_config(), clock.now()
    workers, rounds = 3, 5
    start = threading.Barrier(workers, timeout=WAIT_SECONDS)
    ids: dict[int, list[int]] = {n: [] for n in range(workers)}

    def worker(n: int) -> Callable[[], None]:
        def run() -> None:
            start.wait()
            for _ in range(rounds):
                with transaction.atomic():
                    emails = enqueue_drafts(
                        [make_draft() for _ in range(20)], due_at=now, now=now, config=config
                    )
                ids[n].extend(email.id for email in emails)

        return run

    threads = [in_thread(worker(n)) for n in range(workers)]
    for thread in threads:
        thread.join(WAIT_SECONDS)

    every_id = [email_id for worker_ids in ids.values() for email_id in worker_ids]
    assert len(every_id) == len(set(every_id)) == workers * rounds * 20
    assert set(OutboundEmail.objects.values_list("id", flat=True)) == set(every_id)
