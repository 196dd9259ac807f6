"""The dashboard and a user page on a busy day, as a desktop browser draws them.

The screenshots are written to a temporary folder, and checked to be whole pages; with
`MISSEDMAIL_SCREENSHOTS=1` they are also copied to docs/ops/ (the ones the docs show):

    MISSEDMAIL_SCREENSHOTS=1 .venv/bin/pytest tests/browser/test_screenshots.py
"""

from __future__ import annotations

import os
import shutil
import struct
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User

from missedmail.clock import SystemClock
from missedmail.scheduling.models import NotificationSkip
from missedmail.skips import SkipReason
from tests.browser.conftest import log_in
from tests.browser.data import busy_day, composed_email, fail, pending
from tests.factories import make_org

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ops"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_screenshots_of_the_dashboard_and_a_user_page(
    page: Page, operator: User, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    now = SystemClock().now()
    org = make_org()
    busy_day(org, now)
    fail(
        composed_email(org, now),
        now,
        "550 5.1.1 <hamlet@example.com>: Recipient address rejected: mailbox full",
    )
    pending(org, org.hamlet.id, now + timedelta(seconds=95), 2)
    NotificationSkip.objects.create(
        user=org.hamlet,
        message_ids=[4101, 4102],
        reason=SkipReason.READ,
        at=now - timedelta(minutes=40),
    )
    log_in(page)

    expect(page.locator(".chart .uplot")).to_have_count(3)
    expect(page.locator("#figure-workers")).to_have_text("2")
    dashboard = tmp_path / "dashboard.png"
    page.screenshot(path=str(dashboard), full_page=True)
    page.goto(f"/ops/users/{org.hamlet.id}/")
    expect(page.locator("#findings")).to_contain_text("mailbox full")
    user = tmp_path / "user-page.png"
    page.screenshot(path=str(user), full_page=True)

    for shot in (dashboard, user):
        width, height = png_size(shot)
        assert width == 1280
        assert height >= 900
    if os.environ.get("MISSEDMAIL_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for shot in (dashboard, user):
            shutil.copyfile(shot, DOCS / shot.name)
