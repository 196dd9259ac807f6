"""What the composer is given (one entry per due notification) and what survives the
filters (an entry joined with its message and the reader's flags)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from missedmail.core.models import Message
from missedmail.events import Trigger, stronger


@dataclass(frozen=True)
class NotificationEntry:
    message_id: int
    trigger: Trigger
    mentioned_user_group_id: int | None


@dataclass(frozen=True)
class NotifiedMessage:
    """A kept entry: the message still exists, was received, is unread and not deleted."""

    message: Message
    trigger: Trigger
    mentioned_user_group_id: int | None
    flags: int  # the reader's UserMessage flags

    @property
    def id(self) -> int:
        return self.message.id


def collapse_entries(entries: Iterable[NotificationEntry]) -> dict[int, NotificationEntry]:
    """One entry per message. The scheduling table already holds one row per (user,
    message); should a caller still pass two, the stronger trigger wins (behaviour §1), so
    each message is accounted for exactly once."""
    by_message: dict[int, NotificationEntry] = {}
    for entry in entries:
        current = by_message.get(entry.message_id)
        if current is None or stronger(entry.trigger, current.trigger) is not current.trigger:
            by_message[entry.message_id] = entry
    return by_message
