from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client, override_settings

from missedmail.clock import ManualClock
from missedmail.conf import Settings
from missedmail.ops.dependencies import OpsDependencies
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.outbox.sender import send_once
from missedmail.outbox.transports import MemoryTransport
from missedmail.scheduling.models import NotificationSkip, ScheduledNotification
from tests.db.ops.conftest import ops_urlconf
from tests.db.ops.pages import text
from tests.db.ops.rows import outbound_email, scheduled
from tests.factories import Org

pytestmark = pytest.mark.django_db


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def client(
    clock: ManualClock, missedmail_settings: Settings, transport: MemoryTransport
) -> Iterator[Client]:
    """A client whose test emails go to `transport`; CSRF checked as in production."""
    deps = OpsDependencies(
        clock=clock, settings=missedmail_settings, transport_factory=lambda: transport
    )
    with override_settings(ROOT_URLCONF=ops_urlconf(deps)):
        yield Client(enforce_csrf_checks=True)


def csrf_token(client: Client, path: str) -> str:
    client.get(path)
    return str(client.cookies["csrftoken"].value)


def test_requeueing_asks_for_confirmation_then_queues_the_email_again_and_logs_it(
    client: Client,
    superuser: User,
    org: Org,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    email = outbound_email(
        org.hamlet, EmailStatus.FAILED, clock.now(), attempts=5, last_response="550 no"
    )
    client.force_login(superuser)
    path = f"/ops/emails/{email.id}/requeue/"

    confirmation = client.get(path)
    assert confirmation.status_code == 200
    assert "Requeue email" in text(confirmation.content.decode(), "confirm")
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED

    with caplog.at_level(logging.INFO, logger="missedmail.ops"):
        response = client.post(path, {"csrfmiddlewaretoken": csrf_token(client, path)})

    assert response.status_code == 302
    assert response["Location"] == f"/ops/emails/{email.id}/"
    email.refresh_from_db()
    assert (email.status, email.attempts, email.next_attempt_at) == (
        EmailStatus.QUEUED,
        0,
        clock.now(),
    )
    assert f"action=ops_requeue operator=root email_id={email.id} user_id=10 count=1" in caplog.text
    page = client.get(f"/ops/emails/{email.id}/").content.decode()
    assert "is queued again" in page


def test_a_requeued_email_is_sent_by_the_next_sender_round(
    client: Client, superuser: User, org: Org, clock: ManualClock
) -> None:
    email = outbound_email(org.hamlet, EmailStatus.FAILED, clock.now(), attempts=5)
    client.force_login(superuser)
    path = f"/ops/emails/{email.id}/requeue/"
    client.post(path, {"csrfmiddlewaretoken": csrf_token(client, path)})
    transport = MemoryTransport()

    report = send_once(clock.now(), transport, owner="test", clock=clock)

    assert report.count(EmailStatus.SENT) == 1
    assert [message.email_id for message in transport.sent] == [email.id]


def test_a_post_without_the_csrf_token_is_refused(
    client: Client, superuser: User, org: Org, clock: ManualClock
) -> None:
    email = outbound_email(org.hamlet, EmailStatus.FAILED, clock.now())
    client.force_login(superuser)

    response = client.post(f"/ops/emails/{email.id}/requeue/")

    assert response.status_code == 403
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED


def test_actions_need_their_permission(
    client: Client, operator: User, org: Org, clock: ManualClock
) -> None:
    email = outbound_email(org.hamlet, EmailStatus.FAILED, clock.now())
    scheduled(org, org.hamlet, clock.now())
    client.force_login(operator)
    token = csrf_token(client, "/ops/")

    for path in (f"/ops/emails/{email.id}/requeue/", "/ops/users/10/cancel/", "/ops/test-email/"):
        assert client.get(path).status_code == 403, path
        assert client.post(path, {"csrfmiddlewaretoken": token}).status_code == 403, path

    operator.user_permissions.add(Permission.objects.get(codename="change_outboundemail"))
    operator = User.objects.get(pk=operator.pk)  # permissions are cached per object
    client.force_login(operator)
    assert client.get(f"/ops/emails/{email.id}/requeue/").status_code == 200
    assert ScheduledNotification.objects.count() == 1


def test_an_email_that_is_not_failed_is_left_alone(
    client: Client, superuser: User, org: Org, clock: ManualClock
) -> None:
    email = outbound_email(org.hamlet, EmailStatus.SENT, clock.now())
    client.force_login(superuser)
    path = f"/ops/emails/{email.id}/requeue/"

    assert "only failed emails can be requeued" in client.get(path).content.decode()
    client.post(path, {"csrfmiddlewaretoken": csrf_token(client, path)})

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT


def test_cancelling_a_pending_batch_records_the_skip_and_logs_the_operator(
    client: Client,
    superuser: User,
    org: Org,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = scheduled(org, org.hamlet, clock.now())
    second = scheduled(org, org.hamlet, clock.now() + timedelta(seconds=30))
    other = scheduled(org, org.othello, clock.now())
    client.force_login(superuser)
    path = "/ops/users/10/cancel/"

    confirmation = client.get(path).content.decode()
    assert text(confirmation, "confirm") == "Cancel 2 notification(s)"
    assert ScheduledNotification.objects.count() == 3

    with caplog.at_level(logging.INFO, logger="missedmail.ops"):
        response = client.post(path, {"csrfmiddlewaretoken": csrf_token(client, path)})

    assert response["Location"] == "/ops/users/10/"
    assert list(ScheduledNotification.objects.values_list("id", flat=True)) == [other.id]
    skip = NotificationSkip.objects.get()
    assert (skip.user_id, skip.reason, skip.at) == (org.hamlet.id, "cancelled", clock.now())
    assert sorted(skip.message_ids) == sorted([first.message_id, second.message_id])
    assert "action=ops_cancel operator=root user_id=10 count=2" in caplog.text


def test_a_test_email_is_confirmed_then_sent_and_the_server_answer_shown(
    client: Client,
    superuser: User,
    transport: MemoryTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client.force_login(superuser)
    token = csrf_token(client, "/ops/test-email/")

    confirmation = client.post(
        "/ops/test-email/", {"csrfmiddlewaretoken": token, "address": "ops@example.org"}
    ).content.decode()
    assert text(confirmation, "confirm-address") == "ops@example.org"
    assert transport.attempts == []

    with caplog.at_level(logging.INFO, logger="missedmail.ops"):
        done = client.post(
            "/ops/test-email/",
            {"csrfmiddlewaretoken": token, "address": "ops@example.org", "confirmed": "true"},
        ).content.decode()

    assert text(done, "test-result").startswith("Sent to ops@example.org.")
    assert "250 2.0.0 Ok" in text(done, "test-result")
    [sent] = transport.sent
    assert sent.recipients == ("ops@example.org",)
    message = sent.parsed()
    assert message["Subject"] == "missedmail test email"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "action=ops_test_email operator=root sent=True code=None" in caplog.text
    assert "ops@example.org" not in caplog.text
    assert transport.closed


def test_a_refused_test_email_shows_the_server_answer(
    client: Client, superuser: User, transport: MemoryTransport
) -> None:
    transport.fail_next(permanent=True, response="550 5.7.1 relaying denied")
    client.force_login(superuser)
    token = csrf_token(client, "/ops/test-email/")

    done = client.post(
        "/ops/test-email/",
        {"csrfmiddlewaretoken": token, "address": "ops@example.org", "confirmed": "true"},
    ).content.decode()

    assert text(done, "test-result") == "Not sent to ops@example.org: 550 5.7.1 relaying denied"


def test_a_test_email_to_an_invalid_address_is_refused_by_the_form(
    client: Client, superuser: User, transport: MemoryTransport
) -> None:
    client.force_login(superuser)
    token = csrf_token(client, "/ops/test-email/")

    page = client.post(
        "/ops/test-email/",
        {"csrfmiddlewaretoken": token, "address": "not an address", "confirmed": "true"},
    ).content.decode()

    assert "Enter a valid email address." in page
    assert transport.attempts == []
    assert not OutboundEmail.objects.exists()
