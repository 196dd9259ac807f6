from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from missedmail.clock import ManualClock
from missedmail.conf import Settings
from missedmail.health.heartbeats import beat, mark_stopped, register
from missedmail.ops.dependencies import OpsDependencies
from missedmail.ops.queueprobe import CachedQueueProbe
from missedmail.outbox.models import AttemptOutcome, EmailStatus
from missedmail.skips import SkipReason
from tests.db.ops.conftest import ops_urlconf
from tests.db.ops.pages import table_rows, text
from tests.db.ops.rows import attempt, outbound_email, rejected, scheduled, skip
from tests.factories import Org, next_id

pytestmark = pytest.mark.django_db

SECRET_TOPIC = "merger with Elsinore"


def test_the_dashboard_sends_anonymous_visitors_to_the_login_page(ops_client: Client) -> None:
    response = ops_client.get("/ops/")

    assert response.status_code == 302
    assert response["Location"] == "/ops/login/?next=/ops/"


@pytest.mark.parametrize(
    "path",
    [
        "/ops/live.json",
        "/ops/users/",
        "/ops/users/10/",
        "/ops/users/10/cancel/",
        "/ops/emails/",
        "/ops/emails/1/",
        "/ops/emails/1/preview/",
        "/ops/emails/1/requeue/",
        "/ops/rejected/",
        "/ops/rejected/1/",
        "/ops/test-email/",
    ],
)
def test_every_page_under_ops_requires_a_login(ops_client: Client, path: str) -> None:
    for response in (ops_client.get(path), ops_client.post(path)):
        assert response.status_code == 302, path
        assert response["Location"].startswith("/ops/login/?next=")


def test_logging_in_with_the_form_leads_to_the_dashboard(
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


@pytest.fixture
def busy_hour(org: Org, clock: ManualClock) -> None:
    """Three notifications waiting (one 150 s overdue), and over the last day: emails
    sent, failed and retried, notifications skipped, events rejected, a live worker."""
    now = clock.now()
    scheduled(org, org.hamlet, now - timedelta(seconds=150))
    scheduled(org, org.othello, now + timedelta(seconds=10))
    scheduled(org, org.iago, now + timedelta(seconds=20))
    for minutes_ago in (1, 5, 50):
        outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(minutes=minutes_ago))
    outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(hours=5))
    failed = outbound_email(
        org.othello, EmailStatus.FAILED, now - timedelta(minutes=3), subject=SECRET_TOPIC
    )
    attempt(failed, AttemptOutcome.TRANSIENT, now - timedelta(minutes=10), "451 try later")
    attempt(failed, AttemptOutcome.PERMANENT, now - timedelta(minutes=3), "550 no such user")
    outbound_email(org.iago, EmailStatus.RETRYING, now)
    outbound_email(org.iago, EmailStatus.QUEUED, now)
    skip(org.hamlet, 2, SkipReason.READ, now - timedelta(minutes=30))
    skip(org.cordelia, 4, SkipReason.NOTIFICATIONS_OFF, now - timedelta(hours=3))
    rejected(now - timedelta(minutes=20))
    rejected(now - timedelta(days=2))
    register("host:1:a", "worker", now)


def test_the_dashboard_shows_the_headline_figures_of_the_database(
    ops_client: Client, operator: User, busy_hour: None
) -> None:
    ops_client.force_login(operator)

    html = ops_client.get("/ops/").content.decode()

    assert text(html, "figure-pending") == "3"
    assert text(html, "figure-due") == "1"
    assert text(html, "figure-oldest-due") == "2 min 30 s"
    assert text(html, "figure-workers") == "1"
    assert text(html, "figure-sent") == "3"
    assert text(html, "figure-failed") == "1"
    assert text(html, "figure-retried") == "1"
    assert text(html, "figure-skipped") == "2"
    assert text(html, "figure-rejected") == "1"
    assert text(html, "backlog-queued") == "1"
    assert text(html, "backlog-retrying") == "1"
    assert text(html, "day-sent") == "4"
    assert text(html, "day-skipped") == "6"
    assert text(html, "day-rejected") == "1"
    assert text(html, "skipped-read") == "2"


def test_the_dashboard_shows_latency_percentiles_of_the_last_hour(
    ops_client: Client, operator: User, org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    for _ in range(10):  # due 4 s before they were sent: in the (2 s, 5 s] bucket
        outbound_email(org.hamlet, EmailStatus.SENT, now, due_at=now - timedelta(seconds=4))
    ops_client.force_login(operator)

    html = ops_client.get("/ops/").content.decode()

    assert text(html, "figure-p50") == "3.5 s"
    assert text(html, "figure-p99") == "5.0 s"


def test_live_json_has_the_same_figures_charts_and_workers(
    ops_client: Client, operator: User, busy_hour: None, clock: ManualClock
) -> None:
    ops_client.force_login(operator)

    document = ops_client.get("/ops/live.json", {"window": "hour"}).json()

    headline = document["headline"]
    assert (headline["pending"], headline["due"], headline["oldest_due_seconds"]) == (3, 1, 150)
    assert headline["last_hour"] == {
        "sent": 3,
        "failed": 1,
        "retried": 1,
        "skipped": 2,
        "rejected": 1,
    }
    assert headline["last_day"]["sent"] == 4
    assert headline["backlog"] == {"queued": 1, "sending": 0, "retrying": 1}
    series = document["series"]
    assert series["window"] == "hour"
    assert len(series["starts"]) == len(series["sent"]) == 60
    assert series["starts"][-1] == int(clock.now().timestamp()) - 60
    assert sum(series["sent"]) == 3
    assert (series["sent"][-1], series["sent"][-5]) == (1, 1)  # sent 1 and 5 minutes ago
    assert document["queue"] == {
        "configured": False,
        "reachable": False,
        "messages": None,
        "consumers": None,
        "checked_at": None,
    }
    assert [worker["name"] for worker in document["workers"]] == ["host:1:a"]
    assert document["workers"][0]["state"] == "alive"


def test_live_json_for_a_day_has_quarter_hour_buckets(
    ops_client: Client, operator: User, busy_hour: None
) -> None:
    ops_client.force_login(operator)

    series = ops_client.get("/ops/live.json", {"window": "day"}).json()["series"]

    assert series["step_seconds"] == 900
    assert len(series["sent"]) == 96
    assert sum(series["sent"]) == 4
    assert sum(series["skipped"]) == 6


def test_the_dashboard_and_its_json_show_no_content(
    ops_client: Client, operator: User, busy_hour: None
) -> None:
    ops_client.force_login(operator)

    page = ops_client.get("/ops/").content.decode()
    document = ops_client.get("/ops/live.json").content.decode()

    assert SECRET_TOPIC not in page
    assert SECRET_TOPIC not in document
    assert "550 no such user" not in page


def test_the_dashboard_lists_workers_with_their_state(
    ops_client: Client, operator: User, clock: ManualClock
) -> None:
    register("host:1:stale", "worker", clock.now())
    register("host:2:stopped", "worker", clock.now())
    mark_stopped("host:2:stopped", clock.now())
    clock.advance(40)
    beat("host:3:alive", "run", clock.now(), emails_composed=7, emails_sent=6)
    ops_client.force_login(operator)

    rows = table_rows(ops_client.get("/ops/").content.decode(), "workers")

    assert [(row[0], row[2], row[3], row[6], row[7]) for row in rows] == [
        ("host:3:alive", "alive", "0.0 s ago", "7", "6"),
        ("host:1:stale", "stale", "40 s ago", "0", "0"),
        ("host:2:stopped", "stopped", "40 s ago", "0", "0"),
    ]


def test_the_queue_figure_shows_depth_and_consumers_when_a_broker_is_configured(
    clock: ManualClock, missedmail_settings: Settings, operator: User
) -> None:
    asked: list[str] = []

    def probe(url: str) -> tuple[int, int] | None:
        asked.append(url)
        return (42, 3)

    settings = dataclasses.replace(missedmail_settings, amqp_url="amqp://guest:guest@mq:5672/%2F")
    deps = OpsDependencies(clock=clock, settings=settings, queue_probe=CachedQueueProbe(probe))
    with override_settings(ROOT_URLCONF=ops_urlconf(deps)):
        client = Client()
        client.force_login(operator)
        html = client.get("/ops/").content.decode()
        client.get("/ops/live.json")  # within the cache's few seconds: not asked again
        clock.advance(6)
        document = client.get("/ops/live.json").json()

    assert text(html, "queue-messages") == "42"
    assert text(html, "queue-consumers") == "3"
    assert document["queue"]["messages"] == 42
    assert len(asked) == 2


def test_an_unreachable_broker_is_shown_and_does_not_break_the_dashboard(
    clock: ManualClock, missedmail_settings: Settings, operator: User
) -> None:
    settings = dataclasses.replace(missedmail_settings, amqp_url="amqp://guest:guest@mq:5672/%2F")
    deps = OpsDependencies(
        clock=clock, settings=settings, queue_probe=CachedQueueProbe(lambda url: None)
    )
    with override_settings(ROOT_URLCONF=ops_urlconf(deps)):
        client = Client()
        client.force_login(operator)
        response = client.get("/ops/")
        document = client.get("/ops/live.json").json()

    assert response.status_code == 200
    assert text(response.content.decode(), "queue-unreachable") == "unreachable"
    assert document["queue"]["reachable"] is False


def test_the_page_loads_only_its_own_scripts_and_styles_which_are_served(
    ops_client: Client, operator: User
) -> None:
    ops_client.force_login(operator)

    response = ops_client.get("/ops/")
    html = response.content.decode()

    assert "https://" not in html
    assert "http://" not in html
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    for asset in (
        "/static/ops/ops.css",
        "/static/ops/dashboard.js",
        "/static/ops/vendor/uplot/uPlot.iife.min.js",
        "/static/ops/vendor/uplot/uPlot.min.css",
    ):
        assert f'"{asset}"' in html
        assert ops_client.get(asset).status_code == 200, asset


def test_the_dashboard_runs_the_same_queries_however_many_rows_there_are(
    ops_client: Client,
    operator: User,
    org: Org,
    clock: ManualClock,
    django_assert_num_queries: Any,
) -> None:
    def add_rows(count: int) -> None:
        now = clock.now()
        for _ in range(count):
            email = outbound_email(org.hamlet, EmailStatus.FAILED, now - timedelta(minutes=1))
            attempt(email, AttemptOutcome.TRANSIENT, now)
            outbound_email(org.hamlet, EmailStatus.SENT, now - timedelta(minutes=2))
            scheduled(org, org.hamlet, now - timedelta(seconds=next_id() % 100))
            skip(org.othello, 2, SkipReason.READ, now)
            register(f"host:{next_id()}:a", "worker", now)
            rejected(now)

    ops_client.force_login(operator)
    add_rows(1)
    with CaptureQueriesContext(connection) as few:
        ops_client.get("/ops/")
        ops_client.get("/ops/live.json")
    add_rows(30)

    with django_assert_num_queries(len(few.captured_queries)):
        html = ops_client.get("/ops/").content.decode()
        ops_client.get("/ops/live.json")
    assert html.count('<tr class="state-alive">') == 20
