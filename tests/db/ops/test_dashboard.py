from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.health.heartbeats import beat, mark_stopped, register
from missedmail.outbox.models import EmailStatus
from missedmail.scheduling.models import EventSource, NotificationSkip, RejectedEvent
from tests.db.ops.rows import outbound_email, scheduled
from tests.factories import Org, next_id

pytestmark = pytest.mark.django_db

SECRET_TOPIC = "merger with Elsinore"


def rejected(clock: ManualClock, payload: str = '{"user_profile_id": 10}') -> RejectedEvent:
    return RejectedEvent.objects.create(
        received_at=clock.now(),
        source=EventSource.QUEUE,
        payload=payload,
        reason="message_id: field required",
        field="message_id",
        user_id=10,
    )


def test_the_operator_page_sends_anonymous_visitors_to_the_login_page(
    ops_client: Client,
) -> None:
    response = ops_client.get("/ops/")

    assert response.status_code == 302
    assert response["Location"] == "/ops/login/?next=/ops/"


def test_a_rejected_event_page_requires_a_login_too(ops_client: Client, clock: ManualClock) -> None:
    event = rejected(clock)

    response = ops_client.get(f"/ops/rejected/{event.id}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/ops/login/")


def test_logging_in_with_the_form_leads_to_the_operator_page(
    ops_client: Client, operator: User
) -> None:
    page = ops_client.get("/ops/login/")
    assert page.status_code == 200
    assert b'name="password"' in page.content

    response = ops_client.post(
        "/ops/login/",
        {"username": "operator", "password": "correct horse battery", "next": "/ops/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/ops/"
    assert ops_client.get("/ops/").status_code == 200


def test_a_wrong_password_shows_the_form_again_with_an_error(
    ops_client: Client, operator: User
) -> None:
    response = ops_client.post("/ops/login/", {"username": "operator", "password": "wrong"})

    assert response.status_code == 200
    assert b"did not match" in response.content
    assert ops_client.get("/ops/").status_code == 302


def test_logging_out_ends_the_session(ops_client: Client, operator: User) -> None:
    ops_client.force_login(operator)

    response = ops_client.post("/ops/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/ops/login/"
    assert ops_client.get("/ops/").status_code == 302


def test_the_operator_page_shows_the_status_figures(
    ops_client: Client, operator: User, org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    scheduled(org, org.hamlet, now - timedelta(seconds=150))
    scheduled(org, org.othello, now + timedelta(seconds=10))
    scheduled(org, org.iago, now + timedelta(seconds=20))
    outbound_email(org.hamlet, EmailStatus.SENT, now)
    outbound_email(org.hamlet, EmailStatus.RETRYING, now)
    NotificationSkip.objects.create(user=org.hamlet, message_ids=[1, 2], reason="read", at=now)
    rejected(clock)
    register("host:1:a", "worker", now)
    ops_client.force_login(operator)

    html = ops_client.get("/ops/").content.decode()

    assert 'id="figure-pending">3<' in html
    assert 'id="figure-due">1<' in html
    assert 'id="figure-oldest-due">2 min 30 s<' in html
    assert 'id="figure-workers">1<' in html
    assert 'id="figure-skipped">2<' in html
    assert 'id="figure-rejected">1<' in html
    assert 'id="outbox-sent">1<' in html
    assert 'id="outbox-retrying">1<' in html
    assert 'id="outbox-failed">0<' in html
    assert 'id="skipped-read">2<' in html


def test_the_operator_page_lists_workers_with_their_state(
    ops_client: Client, operator: User, clock: ManualClock
) -> None:
    register("host:1:stale", "worker", clock.now())
    register("host:2:stopped", "worker", clock.now())
    mark_stopped("host:2:stopped", clock.now())
    clock.advance(40)
    beat("host:3:alive", "run", clock.now(), emails_composed=7, emails_sent=6)
    ops_client.force_login(operator)

    html = ops_client.get("/ops/").content.decode()

    assert '<tr class="state-alive">\n        <td><code>host:3:alive</code>' in html
    assert '<tr class="state-stale">\n        <td><code>host:1:stale</code>' in html
    assert '<tr class="state-stopped">\n        <td><code>host:2:stopped</code>' in html
    assert "40 s ago" in html


def test_failed_emails_are_listed_without_their_subject(
    ops_client: Client, operator: User, org: Org, clock: ManualClock
) -> None:
    email = outbound_email(
        org.hamlet,
        EmailStatus.FAILED,
        clock.now(),
        subject=f"#Denmark > {SECRET_TOPIC}",
        attempts=5,
        last_response="550 5.1.1 mailbox unavailable",
    )
    outbound_email(org.othello, EmailStatus.SENT, clock.now(), subject=f"#Denmark > {SECRET_TOPIC}")
    ops_client.force_login(operator)

    html = ops_client.get("/ops/").content.decode()

    assert f'<td class="num">{email.id}</td>' in html
    assert "550 5.1.1 mailbox unavailable" in html
    assert SECRET_TOPIC not in html


def test_rejected_events_are_listed_without_payload_which_is_on_the_detail_page(
    ops_client: Client, operator: User, clock: ManualClock
) -> None:
    event = rejected(clock, payload=f'{{"user_profile_id": 10, "note": "{SECRET_TOPIC}"}}')
    ops_client.force_login(operator)

    listing = ops_client.get("/ops/").content.decode()
    detail = ops_client.get(f"/ops/rejected/{event.id}/")

    assert "message_id: field required" in listing
    assert f'href="/ops/rejected/{event.id}/"' in listing
    assert SECRET_TOPIC not in listing
    assert detail.status_code == 200
    assert SECRET_TOPIC in detail.content.decode()


def test_an_unknown_rejected_event_is_not_found(ops_client: Client, operator: User) -> None:
    ops_client.force_login(operator)

    assert ops_client.get("/ops/rejected/999999/").status_code == 404


def test_the_page_links_only_its_own_stylesheet_which_is_served(
    ops_client: Client, operator: User
) -> None:
    ops_client.force_login(operator)

    html = ops_client.get("/ops/").content.decode()
    stylesheet = ops_client.get("/static/ops/ops.css")

    assert '<link rel="stylesheet" href="/static/ops/ops.css">' in html
    assert "https://" not in html
    assert stylesheet.status_code == 200


def test_the_page_runs_the_same_queries_however_many_rows_there_are(
    ops_client: Client,
    operator: User,
    org: Org,
    clock: ManualClock,
    django_assert_num_queries: Any,
) -> None:
    def add_rows(count: int) -> None:
        for _ in range(count):
            outbound_email(org.hamlet, EmailStatus.FAILED, clock.now())
            register(f"host:{next_id()}:a", "worker", clock.now())
            rejected(clock)

    ops_client.force_login(operator)
    add_rows(1)
    with CaptureQueriesContext(connection) as few:
        ops_client.get("/ops/")
    add_rows(30)

    with django_assert_num_queries(len(few.captured_queries)):
        html = ops_client.get("/ops/").content.decode()
    assert html.count('<tr class="state-alive">') == 20
