"""Helpers for the composer's tests: entries from messages, and one-call composing.

`compose` composes every batch twice, reading directly and from a batcher pass's preload,
and checks that both give the same emails and skips: so every composer test also holds
the preloaded path (and that the preload loaded everything the composer asked for)."""

from __future__ import annotations

from missedmail.composing.batch import (
    ComposedBatch,
    CompositionOptions,
    NotificationEntry,
    compose_user_batch,
)
from missedmail.composing.preload import preload_batches
from missedmail.core.models import Message, UserProfile
from missedmail.events import Trigger
from missedmail.outbox.drafts import EmailDraft


def entry(
    message: Message | int, trigger: Trigger | str, group_id: int | None = None
) -> NotificationEntry:
    message_id = message if isinstance(message, int) else message.id
    return NotificationEntry(message_id, Trigger(trigger), group_id)


def compose(
    user: UserProfile, *entries: NotificationEntry, reply_by_email: bool = False
) -> ComposedBatch:
    options = CompositionOptions(reply_by_email=reply_by_email)
    direct = compose_user_batch(user.id, entries, options)
    data = preload_batches({user.id: entries})
    assert compose_user_batch(user.id, entries, options, data) == direct
    assert data.misses == 0
    return direct


def compose_directly(user: UserProfile, *entries: NotificationEntry) -> ComposedBatch:
    return compose_user_batch(user.id, entries, CompositionOptions(reply_by_email=False))


def only_email(
    user: UserProfile, *entries: NotificationEntry, reply_by_email: bool = False
) -> EmailDraft:
    batch = compose(user, *entries, reply_by_email=reply_by_email)
    assert len(batch.emails) == 1, [email.subject for email in batch.emails]
    return batch.emails[0]


def text_lines(email: EmailDraft) -> list[str]:
    return email.text.splitlines()
