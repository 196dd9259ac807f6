"""The outbox's raw bulk insert stores exactly what the ORM stored, and numbers the rows as
the ORM did (issue 5: `enqueue_drafts` writes with COPY / executemany, not `bulk_create`).

The reference is the ORM itself: each row is written again through `bulk_create`, and the
two rows are compared column by column as the database holds them (raw SQL, so a JSON text,
a timestamp's text on SQLite, an empty string against a NULL or a blob against text would
show), then as the ORM reads them back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.outbox import enqueue
from missedmail.outbox.enqueue import EMAIL_FIELDS, REPLY_ADDRESS_FIELDS, enqueue_drafts
from missedmail.outbox.models import EmailStatus, OutboundEmail, ReplyAddress
from tests.factories import Org, direct_message, make_org
from tests.outbox_helpers import make_draft, outbox_config

pytestmark = pytest.mark.django_db

GATEWAY = "%s@reply.chat.example.com"


@pytest.fixture
def org() -> Org:
    return make_org()


def stored(table: str, key: str, value: int | str) -> tuple[Any, ...]:
    """A row as the database holds it, with each column's storage type on SQLite."""
    columns = [field.attname for field in _model_of(table)._meta.concrete_fields]
    selected = ", ".join(columns)
    if connection.vendor == "sqlite":
        selected += ", " + ", ".join(f"typeof({column})" for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {selected} FROM {table} WHERE {key} = %s", [value])  # noqa: S608
        [row] = cursor.fetchall()
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)


def _model_of(table: str) -> type[OutboundEmail] | type[ReplyAddress]:
    return OutboundEmail if table == OutboundEmail._meta.db_table else ReplyAddress


def email_row(email_id: int) -> dict[str, Any]:
    names = [field.attname for field in OutboundEmail._meta.concrete_fields]
    row = stored(OutboundEmail._meta.db_table, "id", email_id)
    return dict(zip(names, row, strict=False)) | {"types": row[len(names) :]}


def orm_copy(email: OutboundEmail) -> OutboundEmail:
    """The same email written by the ORM, as `enqueue_drafts` did before (a fresh id and
    Message-ID: the header is unique)."""
    values = {name: getattr(email, name) for name in EMAIL_FIELDS}
    values["message_id_header"] = "<orm-" + email.message_id_header[1:]
    [copy] = OutboundEmail.objects.bulk_create([OutboundEmail(**values)])
    return copy


def without_identity(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("id", "message_id_header")}


def test_every_column_is_written_in_the_models_order() -> None:
    """A column added to the model must be written too (the raw insert has no defaults), and
    the returned instances are built positionally from the written values."""
    assert ("id", *EMAIL_FIELDS) == tuple(f.attname for f in OutboundEmail._meta.concrete_fields)
    assert tuple(f.attname for f in ReplyAddress._meta.concrete_fields) == REPLY_ADDRESS_FIELDS


def test_the_stored_rows_are_those_the_orm_stores(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    drafts = [
        make_draft(message_ids=(5, 7), subject="tab\there, back\\slash, line\nbreak, ünïcode"),
        make_draft(to_email="hamlet at example.com"),  # failed: no MIME, a reason
        make_draft(user_id=11, to_email="othello@bücher.example", message_ids=(9,)),
    ]

    emails = enqueue_drafts(
        drafts,
        due_at=[now - timedelta(seconds=n) for n in range(3)],
        now=now,
        config=outbox_config(),
    )

    assert [email.status for email in emails] == ["queued", "failed", "queued"]
    for email in emails:
        ours, theirs = email_row(email.id), email_row(orm_copy(email).id)
        assert without_identity(ours) == without_identity(theirs)
    failed = email_row(emails[1].id)
    assert (failed["mime"], failed["lease_owner"], failed["lease_expires_at"]) == (b"", "", None)


def test_the_returned_emails_are_the_stored_ones(org: Org, clock: ManualClock) -> None:
    drafts = [make_draft(message_ids=(n, n + 1)) for n in range(5)]

    emails = enqueue_drafts(drafts, due_at=clock.now(), now=clock.now(), config=outbox_config())

    for email in emails:
        read = OutboundEmail.objects.get(message_id_header=email.message_id_header)
        assert read.id == email.id
        assert model_to_dict(read) == model_to_dict(email)
        assert bytes(read.mime) == email.mime
        assert not email._state.adding
    assert [e.message_ids for e in emails] == [[n, n + 1] for n in range(5)]


def test_ids_ascend_in_the_drafts_order_and_are_never_reused(org: Org, clock: ManualClock) -> None:
    config = outbox_config()
    first = enqueue_drafts(
        [make_draft(), make_draft()], due_at=clock.now(), now=clock.now(), config=config
    )
    OutboundEmail.objects.filter(id=first[-1].id).delete()

    emails = enqueue_drafts(
        [make_draft() for _ in range(4)], due_at=clock.now(), now=clock.now(), config=config
    )

    ids = [email.id for email in emails]
    assert ids == sorted(ids)
    assert len(set(ids)) == 4
    assert ids[0] > first[-1].id  # as the ORM: the deleted row's id is not handed out again
    # The ORM's next row takes an id after ours: ours came from the same sequence.
    assert orm_copy(emails[0]).id > ids[-1]


def test_reply_addresses_are_stored_as_the_orm_stores_them(org: Org, clock: ManualClock) -> None:
    dm = direct_message(org.othello, [org.hamlet], "hello")
    drafts = [make_draft(reply_to_message_id=dm.id), make_draft(reply_to_message_id=dm.id)]

    enqueue_drafts(
        drafts, due_at=clock.now(), now=clock.now(), config=outbox_config(gateway_pattern=GATEWAY)
    )

    table = ReplyAddress._meta.db_table
    [ours, other] = ReplyAddress.objects.order_by("token")
    assert ours.token != other.token
    reference = ReplyAddress.objects.create(
        token="mm" + "0" * 32,
        user_id=ours.user_id,
        message_id=ours.message_id,
        created_at=ours.created_at,
    )
    assert stored(table, "token", ours.token)[1:] == stored(table, "token", reference.token)[1:]


def test_an_insert_that_fails_raises_the_orms_error_and_leaves_the_transaction_usable(
    org: Org, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batcher's per-user fallback relies on this: a failed bulk write is rolled back to
    its savepoint and the pass goes on."""
    [existing] = enqueue_drafts(
        [make_draft()], due_at=clock.now(), now=clock.now(), config=outbox_config()
    )
    monkeypatch.setattr(enqueue, "new_message_id", lambda config: existing.message_id_header)

    with pytest.raises(IntegrityError), transaction.atomic():
        enqueue_drafts(
            [make_draft(), make_draft()],
            due_at=clock.now(),
            now=clock.now(),
            config=outbox_config(),
        )

    assert list(OutboundEmail.objects.values_list("id", flat=True)) == [existing.id]
    assert OutboundEmail.objects.get().status == EmailStatus.QUEUED


def test_no_drafts_no_statement(org: Org, clock: ManualClock) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert enqueue_drafts([], due_at=clock.now(), now=clock.now(), config=outbox_config()) == []
    assert queries.captured_queries == []


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_rows_are_numbered_all_the_same(clock: ManualClock) -> None:
    """Autocommit (a caller with no transaction): the insert makes its own, so that on
    SQLite no other connection's row can come between ours."""
    make_org()
    assert connection.get_autocommit()

    emails = enqueue_drafts(
        [make_draft() for _ in range(3)],
        due_at=clock.now(),
        now=clock.now(),
        config=outbox_config(),
    )

    assert {e.id: e.message_id_header for e in emails} == dict(
        OutboundEmail.objects.values_list("id", "message_id_header")
    )
    assert connection.get_autocommit()
