"""An operator in a real browser: logs in, reads the dashboard, follows a user to an email,
previews it, requeues a failed email and sees it sent."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User

from missedmail.clock import SystemClock
from missedmail.ops.figures import status_figures
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.outbox.sender import send_once
from missedmail.outbox.transports import MemoryTransport
from tests.browser.conftest import log_in
from tests.browser.data import PREVIEW_TEXT, composed_email, fail, pending
from tests.factories import Org, make_org

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def org(transactional_db: None) -> Org:
    return make_org()


def test_logging_in_shows_the_dashboard_with_the_figures_of_the_database(
    page: Page, operator: User, org: Org
) -> None:
    from playwright.sync_api import expect

    now = SystemClock().now()
    pending(org, org.hamlet.id, now - timedelta(seconds=30), 2)
    pending(org, org.othello.id, now + timedelta(minutes=2), 1)
    sent = composed_email(org, now - timedelta(minutes=3))
    OutboundEmail.objects.filter(id=sent.id).update(
        status=EmailStatus.SENT, sent_at=now - timedelta(minutes=3)
    )
    fail(composed_email(org, now), now - timedelta(minutes=1), "550 5.1.1 mailbox unavailable")

    log_in(page)

    figures = status_figures(SystemClock().now()).headline
    expect(page).to_have_title("Dashboard · missedmail operations")
    expect(page.locator("#figure-pending")).to_have_text(str(figures.pending))
    expect(page.locator("#figure-due")).to_have_text(str(figures.due))
    expect(page.locator("#figure-sent")).to_have_text(str(figures.last_hour.sent))
    expect(page.locator("#figure-failed")).to_have_text(str(figures.last_hour.failed))
    expect(page.locator("#figure-workers")).to_have_text("0")
    assert (figures.pending, figures.due, figures.last_hour.sent, figures.last_hour.failed) == (
        3,
        2,
        1,
        1,
    )
    expect(page.locator(".chart .uplot")).to_have_count(3)

    # The page refreshes itself from /ops/live.json: choosing a period asks at once.
    pending(org, org.iago.id, SystemClock().now() - timedelta(seconds=5), 1)
    page.get_by_role("link", name="last day").click()
    expect(page.locator("#figure-pending")).to_have_text("4")
    expect(page.locator("#figure-due")).to_have_text("3")
    expect(page.locator("#live-note")).to_have_text("refreshes every 10 s")
    assert page.url.endswith("/ops/?window=day")


def test_following_a_user_to_an_email_and_previewing_it(
    page: Page, operator: User, org: Org
) -> None:
    from playwright.sync_api import expect

    email = composed_email(org, SystemClock().now() - timedelta(minutes=5))
    log_in(page)

    page.get_by_role("link", name="Users").click()
    page.get_by_label("User id or email address").fill("hamlet@example.com")
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("King Hamlet")
    expect(page.locator("#findings")).to_contain_text(f"The latest email (#{email.id}")
    expect(page.locator("body")).not_to_contain_text("release plan")  # no content on it

    page.get_by_role("link", name=str(email.id), exact=True).click()
    expect(page.locator("#content-warning")).to_contain_text("This page shows message content")
    expect(page.locator("#headers")).to_contain_text("#Denmark > release plan")
    expect(page.locator("#text-part")).to_contain_text(PREVIEW_TEXT)
    preview = page.frame_locator("#preview")
    expect(preview.locator("blockquote")).to_have_text(PREVIEW_TEXT)
    expect(preview.locator("b")).to_have_text("Othello, the Moor of Venice")


def test_requeueing_a_failed_email_gets_it_sent(page: Page, operator: User, org: Org) -> None:
    from playwright.sync_api import expect

    now = SystemClock().now()
    email = composed_email(org, now - timedelta(minutes=10))
    fail(email, now - timedelta(minutes=9), "550 5.1.1 mailbox unavailable")
    log_in(page)

    page.get_by_role("link", name="Emails", exact=True).click()
    expect(page.locator("#email-list")).to_contain_text("550 5.1.1 mailbox unavailable")
    page.get_by_role("link", name=str(email.id), exact=True).click()
    expect(page.locator("#email-status")).to_have_text("failed")
    page.get_by_role("link", name="Requeue…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Requeue email {email.id}?")
    page.get_by_role("button", name=f"Requeue email {email.id}").click()

    expect(page.locator(".message.success")).to_contain_text("is queued again")
    expect(page.locator("#email-status")).to_have_text("queued")
    transport = MemoryTransport()
    report = send_once(SystemClock().now(), transport, owner="browser-test", clock=SystemClock())
    assert report.count(EmailStatus.SENT) == 1
    page.reload()
    expect(page.locator("#email-status")).to_have_text("sent")
    expect(page.locator("#attempts tbody tr")).to_have_count(2)
    expect(page.locator("#attempts tbody tr").last).to_contain_text("sent")
    assert [message.email_id for message in transport.sent] == [email.id]
