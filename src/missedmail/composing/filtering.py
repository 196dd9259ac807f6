"""Which notifications may still become email (behaviour §4.1, §4.2).

Everything here is re-checked at send time because it can change while a notification
waits: the user may read the message, the message may be deleted, the account or the
organisation may be deactivated, the user may turn these emails off.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from missedmail.composing.entries import NotificationEntry, NotifiedMessage
from missedmail.core.models import Message, UserMessageFlag, UserProfile
from missedmail.skips import SkipReason

# What the host stores as the content of a message whose content was deleted.
DELETED_CONTENT = "(deleted)"


def recipient_gate(user: UserProfile) -> SkipReason | None:
    """Why this user gets no email at all, or None. The broadest reason is reported first:
    a deactivated organisation explains everything about its users."""
    if user.realm.deactivated:
        return SkipReason.REALM_DEACTIVATED
    if not user.is_active:
        return SkipReason.USER_DEACTIVATED
    if user.is_bot:
        return SkipReason.USER_IS_BOT
    if not user.email.strip():
        return SkipReason.NO_EMAIL_ADDRESS
    if not user.enable_offline_email_notifications:
        return SkipReason.NOTIFICATIONS_OFF
    return None


@dataclass
class FilteredEntries:
    kept: list[NotifiedMessage] = field(default_factory=list)
    skipped: dict[SkipReason, list[int]] = field(default_factory=lambda: defaultdict(list))


def filter_entries(
    entries: Mapping[int, NotificationEntry],
    messages: Mapping[int, Message],
    flags: Mapping[int, int],
) -> FilteredEntries:
    """Split entries into kept messages and skipped ids by reason, ids ascending.

    `messages` holds the entries' messages that still exist; `flags` the reader's flags for
    the ones they received (no key: no UserMessage row)."""
    result = FilteredEntries()
    for message_id in sorted(entries):
        entry = entries[message_id]
        message = messages.get(message_id)
        message_flags = flags.get(message_id)
        if message is None:
            reason = SkipReason.DELETED
        elif message_flags is None:
            reason = SkipReason.NOT_RECEIVED
        elif message_flags & UserMessageFlag.READ:
            reason = SkipReason.READ
        elif message.content == DELETED_CONTENT:
            reason = SkipReason.CONTENT_DELETED
        else:
            result.kept.append(
                NotifiedMessage(
                    message=message,
                    trigger=entry.trigger,
                    mentioned_user_group_id=entry.mentioned_user_group_id,
                    flags=message_flags,
                )
            )
            continue
        result.skipped[reason].append(message_id)
    return result
