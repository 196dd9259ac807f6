"""Listing and requeueing failed emails: the service, the API and the command's functions."""

from __future__ import annotations

import io
import json
import random
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from missedmail.clock import ManualClock
from missedmail.outbox import operations
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.outbox.sender import send_once
from missedmail.outbox.transports import MemoryTransport
from tests.db.outbox import outbox_urls
from tests.factories import make_org
from tests.outbox_helpers import make_draft, outbox_config

pytestmark = pytest.mark.django_db


@pytest.fixture
def emails(clock: ManualClock) -> dict[str, OutboundEmail]:
    """Four emails: refused for good, sent, never buildable, and still queued."""
    make_org()
    drafts = [
        make_draft(user_id=10, to_email="hamlet@example.com", subject="#Denmark > secret plan"),
        make_draft(user_id=11, to_email="othello@example.com"),
        make_draft(user_id=12, to_email="not an address"),
    ]
    refused, sent, unbuildable = enqueue_drafts(
        drafts, due_at=clock.now(), now=clock.now(), config=outbox_config()
    )
    transport = MemoryTransport()
    transport.fail_next(1, permanent=True, code=550, recipient="hamlet@example.com")
    clock.advance(1)  # refused after the unbuildable one failed
    send_once(clock.now(), transport, owner="a", clock=clock, rng=random.Random(1))
    clock.advance(60)
    [queued] = enqueue_drafts(
        [make_draft(user_id=13, to_email="cordelia@example.com")],
        due_at=clock.now() + timedelta(hours=1),
        now=clock.now(),
        config=outbox_config(),
    )
    OutboundEmail.objects.filter(id=queued.id).update(
        next_attempt_at=clock.now() + timedelta(hours=1)
    )
    return {"refused": refused, "sent": sent, "unbuildable": unbuildable, "queued": queued}


def test_failed_emails_are_listed_newest_first_with_their_server_response(
    emails: dict[str, OutboundEmail],
) -> None:
    listed = operations.failed_emails()

    assert [email.id for email in listed] == [emails["refused"].id, emails["unbuildable"].id]
    refused = listed[0]
    assert refused.response == "550 5.1.1 mailbox unavailable"
    assert (refused.user_id, refused.to_address, refused.attempts) == (
        10,
        "hamlet@example.com",
        1,
    )
    assert refused.requeueable
    assert not listed[1].requeueable
    assert operations.failed_count() == 2


def test_requeue_says_what_happened_to_every_email_asked_for(
    emails: dict[str, OutboundEmail], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="missedmail.outbox")
    ids = [emails[name].id for name in ("refused", "sent", "unbuildable")]

    result = operations.requeue([*ids, 999_999], clock.now())

    assert result.requeued == [emails["refused"].id]
    assert result.not_failed == {emails["sent"].id: "sent"}
    assert result.unbuildable == [emails["unbuildable"].id]
    assert result.unknown == [999_999]
    assert not result.complete
    refused = OutboundEmail.objects.get(id=emails["refused"].id)
    assert (refused.status, refused.attempts, refused.next_attempt_at) == (
        EmailStatus.QUEUED,
        0,
        clock.now(),
    )
    assert "action=operator_requeue requeued=1 unknown=1 not_failed=1 unbuildable=1" in caplog.text
    assert "secret plan" not in caplog.text
    assert "hamlet@example.com" not in caplog.text


def test_a_requeued_email_is_delivered_by_the_next_round(
    emails: dict[str, OutboundEmail], clock: ManualClock
) -> None:
    operations.requeue_all_failed(clock.now())
    transport = MemoryTransport()

    send_once(clock.now(), transport, owner="b", clock=clock)

    assert [sent.email_id for sent in transport.sent] == [emails["refused"].id]
    assert OutboundEmail.objects.get(id=emails["refused"].id).status == EmailStatus.SENT


def test_the_failed_command_prints_a_listing_without_content(
    emails: dict[str, OutboundEmail],
) -> None:
    out = io.StringIO()

    code = operations.failed_command(as_json=False, out=out)

    text = out.getvalue()
    assert code == 0
    assert text.startswith("2 failed emails:\n")
    assert f"  #{emails['refused'].id}  user 10  to hamlet@example.com  attempts 1  " in text
    assert "      550 5.1.1 mailbox unavailable\n" in text
    assert "(cannot be requeued)" in text
    assert f"requeue with: missedmail requeue {emails['refused'].id}   (or --all-failed)" in text
    assert "secret plan" not in text


def test_the_failed_command_prints_json_with_subjects(emails: dict[str, OutboundEmail]) -> None:
    out = io.StringIO()

    operations.failed_command(as_json=True, out=out)

    document = json.loads(out.getvalue())
    assert document["count"] == 2
    first = document["emails"][0]
    assert first["id"] == emails["refused"].id
    assert first["subject"] == "#Denmark > secret plan"
    assert first["response"] == "550 5.1.1 mailbox unavailable"
    assert first["failed_at"] == "2026-11-28T10:00:01Z"
    assert set(first) == {
        "id",
        "user_id",
        "to",
        "subject",
        "message_ids",
        "attempts",
        "response",
        "created_at",
        "failed_at",
        "requeueable",
    }


def test_the_failed_command_says_when_nothing_failed() -> None:
    out = io.StringIO()

    operations.failed_command(as_json=False, out=out)

    assert out.getvalue() == "no failed emails\n"


@pytest.mark.parametrize(
    ("words", "all_failed", "expected_code", "expected_err"),
    [
        ([], False, 2, "give email ids or --all-failed"),
        (["7"], True, 2, "give email ids or --all-failed"),
        (["seven"], False, 2, "not an email id: 'seven'"),
        (["0"], False, 2, "not an email id: '0'"),
    ],
)
def test_the_requeue_command_refuses_a_wrong_usage(
    clock: ManualClock,
    words: list[str],
    all_failed: bool,
    expected_code: int,
    expected_err: str,
) -> None:
    out, err = io.StringIO(), io.StringIO()

    code = operations.requeue_command(
        words, all_failed=all_failed, now=clock.now(), out=out, err=err
    )

    assert code == expected_code
    assert expected_err in err.getvalue()
    assert out.getvalue() == ""


def test_the_requeue_command_reports_each_email_it_could_not_requeue(
    emails: dict[str, OutboundEmail], clock: ManualClock
) -> None:
    out, err = io.StringIO(), io.StringIO()
    refused, sent = emails["refused"].id, emails["sent"].id

    code = operations.requeue_command(
        [f"#{refused}", str(sent), "424242"], all_failed=False, now=clock.now(), out=out, err=err
    )

    assert code == 1
    assert out.getvalue() == f"requeued 1 email: {refused}\n"
    assert err.getvalue().splitlines() == [
        "email 424242: unknown",
        f"email {sent}: sent, not failed; nothing to do",
    ]


def test_requeueing_all_failed_emails_succeeds_and_names_those_that_cannot_be_sent(
    emails: dict[str, OutboundEmail], clock: ManualClock
) -> None:
    out, err = io.StringIO(), io.StringIO()

    code = operations.requeue_command([], all_failed=True, now=clock.now(), out=out, err=err)

    assert code == 0
    assert out.getvalue() == f"requeued 1 email: {emails['refused'].id}\n"
    assert "its message could not be built" in err.getvalue()


# -- the API -------------------------------------------------------------------------------


def call(
    client: Client, method: str, path: str, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    token = token or settings.MISSEDMAIL.api_token
    response = client.generic(
        method, f"/api/v1/{path}", headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code, json.loads(response.content)


@pytest.mark.urls(outbox_urls.__name__)
def test_the_api_lists_failed_emails(client: Client, emails: dict[str, OutboundEmail]) -> None:
    status, body = call(client, "GET", "outbox/failed?limit=1")

    assert status == 200
    assert (body["result"], body["count"]) == ("success", 2)
    assert [email["id"] for email in body["emails"]] == [emails["refused"].id]
    assert body["emails"][0]["response"] == "550 5.1.1 mailbox unavailable"


@pytest.mark.urls(outbox_urls.__name__)
@pytest.mark.parametrize("limit", ["0", "1001", "ten", "-1"])
def test_the_api_refuses_a_limit_out_of_range(client: Client, limit: str) -> None:
    status, body = call(client, "GET", f"outbox/failed?limit={limit}")

    assert status == 400
    assert body["code"] == "INVALID_INPUT"
    assert body["msg"].startswith("limit: expected an integer from 1 to 1000")


@pytest.mark.urls(outbox_urls.__name__)
def test_the_api_requeues_a_failed_email(client: Client, emails: dict[str, OutboundEmail]) -> None:
    email_id = emails["refused"].id

    status, body = call(client, "POST", f"outbox/{email_id}/requeue")

    assert (status, body) == (
        200,
        {"result": "success", "msg": "", "id": email_id, "status": "queued"},
    )
    refused = OutboundEmail.objects.get(id=email_id)
    assert (refused.status, refused.next_attempt_at) == (
        EmailStatus.QUEUED,
        outbox_urls.CLOCK.now(),
    )


@pytest.mark.urls(outbox_urls.__name__)
@pytest.mark.parametrize(
    ("name", "expected_status", "expected_msg"),
    [
        ("sent", 409, "is sent, not failed"),
        ("queued", 409, "is queued, not failed"),
        ("unbuildable", 409, "its message could not be built"),
    ],
)
def test_the_api_refuses_to_requeue_an_email_that_is_not_failed_or_cannot_be_sent(
    client: Client,
    emails: dict[str, OutboundEmail],
    name: str,
    expected_status: int,
    expected_msg: str,
) -> None:
    before = OutboundEmail.objects.get(id=emails[name].id).status

    status, body = call(client, "POST", f"outbox/{emails[name].id}/requeue")

    assert status == expected_status
    assert body["code"] == "CONFLICT"
    assert expected_msg in body["msg"]
    assert OutboundEmail.objects.get(id=emails[name].id).status == before


@pytest.mark.urls(outbox_urls.__name__)
def test_the_api_answers_404_for_an_unknown_email(client: Client) -> None:
    status, body = call(client, "POST", "outbox/424242/requeue")

    assert (status, body["code"]) == (404, "NOT_FOUND")
    assert body["msg"] == "unknown email 424242"


@pytest.mark.urls(outbox_urls.__name__)
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "outbox/failed"), ("POST", "outbox/1/requeue")]
)
def test_the_outbox_endpoints_need_the_api_token(client: Client, method: str, path: str) -> None:
    status, body = call(client, method, path, token="wrong-token-0123456789")

    assert (status, body["code"]) == (403, "FORBIDDEN")
