"""The outbox's indexes: only those something reads (each is written once per version of
a row, and a status change is never a HOT update: migration 0005), and the claim's in the
claim's order, so that a claim reads its first entries instead of sorting every ready row."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import OutboundEmail
from missedmail.outbox.sender import claim_ready
from tests.factories import make_org
from tests.outbox_helpers import make_draft, outbox_config

pytestmark = pytest.mark.django_db


def indexes() -> dict[str, Any]:
    """The table's plain indexes (not its primary key or unique constraints), by name."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, OutboundEmail._meta.db_table)
    return {
        name: details
        for name, details in found.items()
        if details["index"] and not details["unique"] and not details["primary_key"]
    }


def queue(clock: ManualClock, count: int) -> list[OutboundEmail]:
    make_org()
    drafts = [make_draft(to_email=f"reader{n}@example.com") for n in range(count)]
    return enqueue_drafts(drafts, due_at=clock.now(), now=clock.now(), config=outbox_config())


def test_the_outbox_has_no_index_that_nothing_reads() -> None:
    # Not the foreign keys' own indexes (user: `email_user_recent` leads with it; realm:
    # nothing reads by it), nor PostgreSQL's LIKE copy of the Message-ID's unique index.
    assert set(indexes()) == {
        "email_ready",
        "email_leased",
        "email_user_recent",
        "email_status_updated",
    }


def test_the_claims_index_is_in_the_claims_order() -> None:
    assert indexes()["email_ready"]["columns"] == ["next_attempt_at", "id"]


def test_two_emails_cannot_have_the_same_message_id(clock: ManualClock) -> None:
    first, second = queue(clock, 2)

    with pytest.raises(IntegrityError), transaction.atomic():
        OutboundEmail.objects.filter(id=second.id).update(message_id_header=first.message_id_header)


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in plan_nodes(child))]


@pytest.mark.postgres_only  # PostgreSQL's planner
def test_a_claim_reads_the_ready_emails_in_order_and_sorts_none_of_them(
    clock: ManualClock,
) -> None:
    queue(clock, 60)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE outbox_outboundemail")
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        claim_ready(clock.now(), limit=5, lease_seconds=60, owner="a")
        transaction.set_rollback(True)
    sql = [query["sql"] for query in captured.captured_queries]
    [select] = [statement for statement in sql if "SKIP LOCKED" in statement]

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {select}")
        [explained] = cursor.fetchone()
    [plan] = json.loads(explained) if isinstance(explained, str) else explained
    [ready] = [node for node in plan_nodes(plan["Plan"]) if node.get("Subplan Name") == "CTE ready"]

    nodes = plan_nodes(ready)
    assert any(node.get("Index Name") == "email_ready" for node in nodes)
    assert not any("Sort" in node["Node Type"] for node in nodes)
