"""Playwright driving Debian's Chromium (`/usr/bin/chromium`) against pytest-django's live
server. Never `playwright install`: the browser is the system's.

Locally the tests skip when Chromium or Playwright is missing; under CI (`CI=true`) they
fail instead (tests/services.py `require`), so they can never pass by not running.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth.models import User

from tests.services import require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"
VIEWPORT = {"width": 1280, "height": 900}
# How long Playwright's expectations wait for the page to show something (they poll).
EXPECT_TIMEOUT_MS = 10_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Chromium with Playwright (tests/browser)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module. Playwright's sync API keeps an asyncio loop running in
    this thread while it is started, and Django refuses ORM calls under a running loop
    ("async context") — the tests' own and pytest-django's flushes alike. The tests are not
    async code, so Django is told so while the loop runs, and the loop is stopped at the end
    of the module so that no other test runs beside it."""
    require(CHROMIUM.exists(), f"Chromium at {CHROMIUM}")
    require(importlib.util.find_spec("playwright") is not None, "the playwright package")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser: Browser, live_server: Any) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def operator(transactional_db: None) -> User:
    return User.objects.create_superuser("operator", "ops@example.org", PASSWORD)


def log_in(page: Page, username: str = "operator", password: str = PASSWORD) -> None:
    page.goto("/ops/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ops/")
