from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client

from missedmail.clock import ManualClock
from missedmail.health.heartbeats import register
from missedmail.outbox.models import AttemptOutcome, DeliveryAttempt, EmailStatus, OutboundEmail
from missedmail.scheduling.models import (
    EventSource,
    NotificationSkip,
    RejectedEvent,
    ScheduledNotification,
)
from tests.db.ops.rows import outbound_email, scheduled
from tests.factories import Org

pytestmark = pytest.mark.django_db

SECRET_TOPIC = "merger with Elsinore"
OUR_APPS = ("core", "scheduling", "outbox", "health")


@pytest.fixture
def admin_client(ops_client: Client, superuser: User) -> Client:
    ops_client.force_login(superuser)
    return ops_client


@pytest.fixture
def one_of_each(org: Org, clock: ManualClock) -> None:
    now = clock.now()
    scheduled(org, org.hamlet, now)
    email = outbound_email(
        org.hamlet, EmailStatus.FAILED, now, subject=f"#Denmark > {SECRET_TOPIC}"
    )
    DeliveryAttempt.objects.create(
        email=email,
        number=1,
        started_at=now,
        finished_at=now,
        outcome=AttemptOutcome.PERMANENT,
        response="550 no such user",
    )
    NotificationSkip.objects.create(user=org.othello, message_ids=[1], reason="read", at=now)
    RejectedEvent.objects.create(
        received_at=now, source=EventSource.API, payload="{}", reason="bad event"
    )
    register("host:1:a", "worker", now)


def test_every_model_of_our_apps_has_a_list_page_and_a_detail_page(
    admin_client: Client, one_of_each: None
) -> None:
    models = [model for model in admin.site._registry if model._meta.app_label in OUR_APPS]
    assert len(models) >= 12

    for model in models:
        meta = model._meta
        listing = admin_client.get(f"/ops/admin/{meta.app_label}/{meta.model_name}/")
        assert listing.status_code == 200, meta.label
        row = model._default_manager.first()
        if row is not None:
            detail = admin_client.get(
                f"/ops/admin/{meta.app_label}/{meta.model_name}/{row.pk}/change/"
            )
            assert detail.status_code == 200, meta.label


def test_outbox_emails_cannot_be_added_changed_or_deleted(
    admin_client: Client, org: Org, clock: ManualClock
) -> None:
    email = outbound_email(org.hamlet, EmailStatus.FAILED, clock.now())
    base = f"/ops/admin/outbox/outboundemail/{email.id}"

    assert admin_client.get(f"{base}/delete/").status_code == 403
    assert admin_client.post(f"{base}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/ops/admin/outbox/outboundemail/add/").status_code == 403
    admin_client.post(f"{base}/change/", {"status": "queued", "attempts": "0"})
    email.refresh_from_db()
    assert email.status == EmailStatus.FAILED
    assert OutboundEmail.objects.filter(id=email.id).exists()


def test_the_outbox_list_hides_subjects_and_the_detail_shows_the_mime_source(
    admin_client: Client, org: Org, clock: ManualClock
) -> None:
    email = outbound_email(org.hamlet, EmailStatus.SENT, clock.now(), subject=SECRET_TOPIC)

    listing = admin_client.get("/ops/admin/outbox/outboundemail/").content.decode()
    detail = admin_client.get(
        f"/ops/admin/outbox/outboundemail/{email.id}/change/"
    ).content.decode()

    assert SECRET_TOPIC not in listing
    assert f"Subject: {SECRET_TOPIC}" in detail
    assert "<pre" in detail


def test_searching_by_id_finds_exact_matches_and_text_finds_nothing(
    admin_client: Client, org: Org, clock: ManualClock
) -> None:
    mine = outbound_email(org.hamlet, EmailStatus.SENT, clock.now())
    other = outbound_email(org.othello, EmailStatus.SENT, clock.now())
    # The term matches an email's id or its user's id exactly; on PostgreSQL the ids come
    # from a sequence shared with earlier tests, so Othello's email may have id 10 too.
    expected = {email.id for email in (mine, other) if org.hamlet.id in (email.id, email.user_id)}

    by_user = admin_client.get("/ops/admin/outbox/outboundemail/", {"q": str(org.hamlet.id)})
    by_text = admin_client.get("/ops/admin/outbox/outboundemail/", {"q": "hamlet"})

    assert by_user.status_code == 200
    assert mine.id in expected
    assert {email.id for email in by_user.context["cl"].result_list} == expected
    assert by_text.status_code == 200
    assert list(by_text.context["cl"].result_list) == []


def test_cancelling_drops_the_users_pending_notifications_and_records_why(
    admin_client: Client, org: Org, clock: ManualClock
) -> None:
    first = scheduled(org, org.hamlet, clock.now())
    second = scheduled(org, org.hamlet, clock.now() + timedelta(seconds=30))
    others = scheduled(org, org.othello, clock.now())

    response = admin_client.post(
        "/ops/admin/scheduling/schedulednotification/",
        {"action": "cancel_for_users", "_selected_action": [str(first.id)]},
    )

    assert response.status_code == 302
    assert list(ScheduledNotification.objects.values_list("id", flat=True)) == [others.id]
    skip = NotificationSkip.objects.get()
    assert skip.user_id == org.hamlet.id
    assert skip.reason == "cancelled"
    assert sorted(skip.message_ids) == sorted([first.message_id, second.message_id])


def test_a_staff_user_who_may_only_view_cannot_cancel(
    ops_client: Client, org: Org, clock: ManualClock, operator: User
) -> None:
    row = scheduled(org, org.hamlet, clock.now())
    operator.user_permissions.add(Permission.objects.get(codename="view_schedulednotification"))
    ops_client.force_login(operator)
    listing = ops_client.get("/ops/admin/scheduling/schedulednotification/")
    assert listing.status_code == 200
    assert b"cancel_for_users" not in listing.content

    ops_client.post(
        "/ops/admin/scheduling/schedulednotification/",
        {"action": "cancel_for_users", "_selected_action": [str(row.id)]},
    )

    assert ScheduledNotification.objects.filter(id=row.id).exists()
    assert not NotificationSkip.objects.exists()
