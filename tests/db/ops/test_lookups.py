from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from missedmail.clock import ManualClock
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import AttemptOutcome, EmailStatus, OutboundEmail
from missedmail.scheduling.models import EventSource
from missedmail.skips import SkipReason
from tests.db.ops.pages import table_rows, text
from tests.db.ops.rows import attempt, outbound_email, rejected, scheduled, skip
from tests.factories import Org
from tests.outbox_helpers import make_draft, outbox_config

pytestmark = pytest.mark.django_db

SECRET_TOPIC = "merger with Elsinore"
SECRET_TEXT = "the ghost walks at midnight"


@pytest.fixture
def signed_in(ops_client: Client, superuser: User) -> Client:
    ops_client.force_login(superuser)
    return ops_client


@pytest.fixture
def composed(org: Org, clock: ManualClock) -> OutboundEmail:
    """A real outbox email for Hamlet, as the batcher writes it (MIME frozen)."""
    draft = make_draft(
        subject=f"#Denmark > {SECRET_TOPIC}",
        text=f"Othello, the Moor of Venice:\n> {SECRET_TEXT}\n",
        html=(
            f"<html><body><p><b>Othello</b>: {SECRET_TEXT}</p>"
            '<img src="https://tracker.example.com/pixel.png">'
            "<script>alert(1)</script></body></html>"
        ),
    )
    [email] = enqueue_drafts([draft], due_at=clock.now(), now=clock.now(), config=outbox_config())
    return email


def test_looking_a_user_up_by_id_or_address_leads_to_their_page(
    signed_in: Client, org: Org
) -> None:
    by_id = signed_in.get("/ops/users/", {"q": "10"})
    by_address = signed_in.get("/ops/users/", {"q": "Hamlet@Example.com"})
    unknown = signed_in.get("/ops/users/", {"q": "nobody@example.com"})

    assert by_id.status_code == 302
    assert by_id["Location"] == "/ops/users/10/"
    assert by_address["Location"] == "/ops/users/10/"
    assert unknown.status_code == 200
    assert "No user matches" in text(unknown.content.decode(), "not-found")


def test_an_unknown_user_page_is_not_found(signed_in: Client, org: Org) -> None:
    assert signed_in.get("/ops/users/999/").status_code == 404


def test_the_user_page_says_why_an_email_failed_and_lists_everything_without_content(
    signed_in: Client, org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    scheduled(org, org.hamlet, now + timedelta(seconds=90))
    email = outbound_email(
        org.hamlet,
        EmailStatus.FAILED,
        now - timedelta(minutes=5),
        subject=f"#Denmark > {SECRET_TOPIC}",
        attempts=1,
        last_response="550 5.1.1 mailbox unavailable",
    )
    skip(org.hamlet, 3, SkipReason.READ, now - timedelta(hours=1))
    rejected(now - timedelta(hours=2), user_id=org.hamlet.id, message_id=77)
    rejected(now - timedelta(days=8), user_id=org.hamlet.id)  # older than a week
    rejected(now, user_id=org.othello.id)

    html = signed_in.get("/ops/users/10/").content.decode()

    findings = text(html, "findings")
    assert f"The latest email (#{email.id}" in findings
    assert "550 5.1.1 mailbox unavailable" in findings
    assert (
        "1 notification(s) wait for the batching period; the next batch falls due in 1 min 30 s"
        in findings
    )
    assert "1 event(s) naming this user were rejected" in findings
    pending = table_rows(html, "pending")[1:]
    assert [row[1:4] for row in pending] == [
        ["stream_email_notify", "2026-11-28 10:01:30", "waiting"]
    ]
    emails = table_rows(html, "emails")[1:]
    assert [(row[0], row[1], row[6]) for row in emails] == [
        (str(email.id), "failed", "550 5.1.1 mailbox unavailable")
    ]
    assert [row[1:3] for row in table_rows(html, "skips")[1:]] == [
        ["read before the email was due", "3"]
    ]
    assert [row[3] for row in table_rows(html, "rejected")[1:]] == ["77"]
    assert SECRET_TOPIC not in html


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"is_active": False}, "the user is deactivated"),
        (
            {"enable_offline_email_notifications": False},
            "the user turned missed-message emails off",
        ),
        ({"email": ""}, "the user has no email address"),
        ({"is_bot": True}, "the user is a bot"),
    ],
)
def test_the_user_page_names_a_setting_that_stops_every_email(
    signed_in: Client, org: Org, change: dict[str, object], expected: str
) -> None:
    for field, value in change.items():
        setattr(org.hamlet, field, value)
    org.hamlet.save()

    findings = text(signed_in.get("/ops/users/10/").content.decode(), "findings")

    assert f"No email can be sent: {expected}" in findings


def test_the_user_page_warns_when_due_notifications_wait_too_long(
    signed_in: Client, org: Org, clock: ManualClock
) -> None:
    scheduled(org, org.hamlet, clock.now() - timedelta(minutes=10))

    findings = text(signed_in.get("/ops/users/10/").content.decode(), "findings")

    assert "1 notification(s) are due and not sent yet (due for 10 min 0 s)" in findings
    assert "are the workers running?" in findings


def test_a_user_with_no_records_is_told_so(signed_in: Client, org: Org) -> None:
    findings = text(signed_in.get("/ops/users/11/").content.decode(), "findings")

    assert findings.startswith("Nothing on record for this user")


def test_the_email_page_shows_headers_text_preview_and_attempts_and_says_it_shows_content(
    signed_in: Client, composed: OutboundEmail, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    attempt(composed, AttemptOutcome.TRANSIENT, clock.now(), "451 4.3.0 try again later")

    with caplog.at_level(logging.INFO, logger="missedmail.ops"):
        html = signed_in.get(f"/ops/emails/{composed.id}/").content.decode()

    assert "This page shows message content" in text(html, "content-warning")
    headers = {row[0]: row[1] for row in table_rows(html, "headers")}
    assert headers["Subject"] == f"#Denmark > {SECRET_TOPIC}"
    assert headers["To"] == "King Hamlet <hamlet@example.com>"
    assert headers["Message-ID"] == composed.message_id_header
    assert SECRET_TEXT in text(html, "text-part")
    assert f'src="/ops/emails/{composed.id}/preview/"' in html
    assert 'sandbox=""' in html
    assert [row[1] for row in table_rows(html, "attempts")[1:]] == ["transient"]
    assert f"action=ops_view_email operator=root email_id={composed.id} user_id=10" in (caplog.text)


def test_the_preview_is_the_html_part_under_a_policy_that_runs_and_loads_nothing(
    signed_in: Client, composed: OutboundEmail
) -> None:
    response = signed_in.get(f"/ops/emails/{composed.id}/preview/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert SECRET_TEXT in response.content.decode()
    policy = response["Content-Security-Policy"]
    assert policy.startswith("sandbox;")
    assert "default-src 'none'" in policy
    assert "img-src data:" in policy
    assert "frame-ancestors 'self'" in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Referrer-Policy"] == "no-referrer"


def test_the_email_page_needs_the_permission_to_view_emails(
    ops_client: Client, operator: User, composed: OutboundEmail
) -> None:
    ops_client.force_login(operator)

    assert ops_client.get(f"/ops/emails/{composed.id}/").status_code == 403
    assert ops_client.get(f"/ops/emails/{composed.id}/preview/").status_code == 403
    assert ops_client.get("/ops/users/10/").status_code == 200


def test_the_email_list_shows_failed_emails_by_default_without_subjects(
    signed_in: Client, org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    failed = outbound_email(
        org.hamlet,
        EmailStatus.FAILED,
        now,
        subject=SECRET_TOPIC,
        last_response="550 5.1.1 mailbox unavailable",
    )
    outbound_email(org.hamlet, EmailStatus.SENT, now, subject=SECRET_TOPIC)

    html = signed_in.get("/ops/emails/").content.decode()

    rows = table_rows(html, "email-list")[1:]
    assert [(row[0], row[2], row[7]) for row in rows] == [
        (str(failed.id), "failed", "550 5.1.1 mailbox unavailable")
    ]
    assert SECRET_TOPIC not in html
    assert '<option value="failed" selected>' in html
    assert '<option value="all" selected>' in html  # the period applied is the one shown


def test_the_email_list_filters_by_state_user_and_period(
    signed_in: Client, org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    recent = outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(minutes=10))
    outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(days=2))
    outbound_email(org.othello, EmailStatus.SENT, now)
    outbound_email(org.hamlet, EmailStatus.FAILED, now)

    def ids(**filters: str) -> list[str]:
        html = signed_in.get("/ops/emails/", filters).content.decode()
        return [row[0] for row in table_rows(html, "email-list")[1:]]

    assert ids(status="sent", user="10", period="day") == [str(recent.id)]
    assert len(ids(status="sent", user="10")) == 2
    assert len(ids(user="10")) == 3
    assert len(ids(status="sent")) == 3


def test_lists_are_paged_without_counting_the_table(
    signed_in: Client, org: Org, clock: ManualClock
) -> None:
    for minutes in range(51):
        outbound_email(org.hamlet, EmailStatus.FAILED, clock.now() - timedelta(minutes=minutes))

    first = signed_in.get("/ops/emails/", {"status": "failed"}).content.decode()
    second = signed_in.get("/ops/emails/", {"status": "failed", "page": "2"}).content.decode()

    assert len(table_rows(first, "email-list")) == 51  # a header and 50 rows
    assert 'href="?status=failed&amp;page=2"' in first
    assert len(table_rows(second, "email-list")) == 2
    assert 'rel="next"' not in second


def test_a_bad_filter_is_named_and_nothing_is_listed(signed_in: Client) -> None:
    response = signed_in.get("/ops/emails/", {"user": "hamlet"})

    assert response.status_code == 200
    assert "User id: Enter a whole number." in response.content.decode()


def test_the_rejected_list_filters_by_source_user_message_and_period(
    signed_in: Client, clock: ManualClock
) -> None:
    now = clock.now()
    wanted = rejected(now, source=EventSource.API, user_id=10, message_id=5)
    rejected(now, source=EventSource.QUEUE, user_id=10, message_id=5)
    rejected(now, source=EventSource.API, user_id=11, message_id=5)
    rejected(now - timedelta(days=3), source=EventSource.API, user_id=10, message_id=5)

    def links(**filters: str) -> int:
        html = signed_in.get("/ops/rejected/", filters).content.decode()
        return len(table_rows(html, "rejected-list")) - 1

    html = signed_in.get(
        "/ops/rejected/", {"source": "api", "user": "10", "message": "5", "period": "day"}
    ).content.decode()
    assert f'href="/ops/rejected/{wanted.id}/"' in html
    assert links(source="api", user="10", message="5", period="day") == 1
    assert links(user="10") == 3  # the default period is the last 7 days
    assert links(period="all") == 4


def test_a_rejected_event_payload_is_on_its_detail_page_only(
    signed_in: Client, clock: ManualClock
) -> None:
    event = rejected(clock.now(), payload=f'{{"user_profile_id": 10, "note": "{SECRET_TOPIC}"}}')

    listing = signed_in.get("/ops/rejected/").content.decode()
    detail = signed_in.get(f"/ops/rejected/{event.id}/")

    assert "message_id: field required" in listing
    assert SECRET_TOPIC not in listing
    assert detail.status_code == 200
    assert SECRET_TOPIC in detail.content.decode()
    assert signed_in.get("/ops/rejected/999999/").status_code == 404
