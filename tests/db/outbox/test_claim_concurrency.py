"""SKIP LOCKED is PostgreSQL semantics: these run only in the PostgreSQL run."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import transaction

from missedmail.clock import ManualClock
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import OutboundEmail
from missedmail.outbox.sender import claim_ready
from tests.factories import make_org
from tests.outbox_helpers import in_thread, make_draft, outbox_config

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 10  # a bound for a broken run, never a wait of a passing one


def queue_emails(clock: ManualClock, count: int) -> list[int]:
    make_org()
    drafts = [make_draft() for _ in range(count)]
    emails = enqueue_drafts(drafts, due_at=clock.now(), now=clock.now(), config=outbox_config())
    return [email.id for email in emails]


def test_a_claim_skips_rows_another_transaction_holds_instead_of_waiting(
    clock: ManualClock,
) -> None:
    ids = queue_emails(clock, 10)
    held, others = ids[:5], ids[5:]
    locked, release = threading.Event(), threading.Event()

    def hold_rows() -> None:
        with transaction.atomic():
            list(OutboundEmail.objects.select_for_update().filter(id__in=held))
            locked.set()
            release.wait(WAIT_SECONDS)

    holder = in_thread(hold_rows)
    try:
        assert locked.wait(WAIT_SECONDS)
        claimed = claim_ready(clock.now(), limit=10, lease_seconds=60, owner="b")
    finally:
        release.set()
        holder.join()

    assert sorted(email.id for email in claimed) == sorted(others)


def test_concurrent_senders_never_claim_the_same_email(clock: ManualClock) -> None:
    ids = queue_emails(clock, 60)
    senders = 4
    start = threading.Barrier(senders, timeout=WAIT_SECONDS)
    claims: dict[str, list[int]] = {f"sender-{n}": [] for n in range(senders)}

    def claim_until_empty(owner: str) -> Callable[[], None]:
        def run() -> None:
            start.wait()
            while batch := claim_ready(clock.now(), limit=3, lease_seconds=60, owner=owner):
                claims[owner].extend(email.id for email in batch)

        return run

    threads = [in_thread(claim_until_empty(owner)) for owner in claims]
    for thread in threads:
        thread.join()

    claimed = [email_id for owner_ids in claims.values() for email_id in owner_ids]
    assert sorted(claimed) == sorted(ids)  # each email exactly once
    owners = dict(OutboundEmail.objects.values_list("id", "lease_owner"))
    assert all(owners[email_id] == owner for owner, got in claims.items() for email_id in got)
