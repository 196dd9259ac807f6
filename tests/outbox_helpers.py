"""Drafts and outbox settings for the outbox's tests: what the composer would hand over."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.drafts import EmailDraft

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
THREAD_ROOT = "<3.dGVzdA==@chat.example.com>"

EXPECTED_HEADERS = [
    "From",
    "To",
    "Subject",
    "Reply-To",
    "Message-ID",
    "In-Reply-To",
    "References",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "Date",
    "MIME-Version",
    "Content-Type",
]


def outbox_config(**changes: Any) -> OutboxConfig:
    config = OutboxConfig(
        from_name="missedmail notifications",
        noreply_email="noreply@missedmail.example.org",
        gateway_pattern="",
        public_url="https://mm.example.org",
    )
    return replace(config, **changes)


def make_draft(**changes: Any) -> EmailDraft:
    """Hamlet (user 10 of `make_org`) hearing about a mention in #Denmark > test."""
    draft = EmailDraft(
        user_id=10,
        realm_id=1,
        to_name="King Hamlet",
        to_email="hamlet@example.com",
        subject="#Denmark > test",
        text="Othello, the Moor of Venice:\n> hello\n\n--\nManage email preferences.\n",
        html="<html><body><p><b>Othello</b>: hello</p></body></html>",
        message_ids=(1001,),
        thread_root=THREAD_ROOT,
        realm_name="Zulip Dev",
        realm_host="chat.example.com",
        reply_to_message_id=None,
        timezone="",
        language="en",
    )
    return replace(draft, **changes)


def in_thread(target: Callable[[], None]) -> threading.Thread:
    """Run `target` on its own thread, hence its own database connection (closed after)."""

    def run() -> None:
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread
