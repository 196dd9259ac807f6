"""Context for mentions (behaviour §4.4): a mention in a stream makes little sense alone,
so the email also shows what was said just before it in the same topic.

The rule is applied here to candidates that the loader fetched for all buckets at once
(one query per batch); the loader's filter is deliberately broader than the rule (it does
not compare topics, see `missedmail.composing.loading`), and this module is exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from missedmail.composing.buckets import Bucket, ConversationKind
from missedmail.core.models import Message, UserMessageFlag

CONTEXT_WINDOW = timedelta(minutes=15)
MAX_CONTEXT_MESSAGES = 10


@dataclass(frozen=True)
class ContextWindow:
    """Candidates: messages of `stream_id` with id below `before_id`, sent in
    (`after`, `until`]. Topics are compared afterwards, in Python (see the module doc)."""

    stream_id: int
    before_id: int
    after: datetime
    until: datetime


def context_anchor(bucket: Bucket) -> Message | None:
    """The bucket's earliest message, when it is a stream message that mentions the
    reader (any mention flag); otherwise the bucket gets no context."""
    if bucket.kind != ConversationKind.STREAM:
        return None
    earliest = bucket.earliest
    if not earliest.flags & UserMessageFlag.ANY_MENTION:
        return None
    return earliest.message


def context_window(anchor: Message) -> ContextWindow:
    if anchor.stream_id is None:
        raise ValueError(f"message {anchor.id} is not a stream message")
    return ContextWindow(
        stream_id=anchor.stream_id,
        before_id=anchor.id,
        after=anchor.date_sent - CONTEXT_WINDOW,
        until=anchor.date_sent,
    )


def choose_context(bucket: Bucket, anchor: Message, candidates: Iterable[Message]) -> list[int]:
    """Ids of at most MAX_CONTEXT_MESSAGES earlier messages of the anchor's topic
    (case-insensitive), newest first. `candidates` are messages the reader received.
    Messages already in the bucket are not chosen again (de-duplication by id)."""
    window = context_window(anchor)
    topic_key = anchor.topic.lower()
    in_bucket = {item.id for item in bucket.notified}
    eligible = [
        message
        for message in candidates
        if message.stream_id == window.stream_id
        and message.id < window.before_id
        and window.after < message.date_sent <= window.until
        and message.topic.lower() == topic_key
        and message.id not in in_bucket
    ]
    eligible.sort(key=lambda message: (message.date_sent, message.id), reverse=True)
    unique: dict[int, None] = dict.fromkeys(message.id for message in eligible)
    return list(unique)[:MAX_CONTEXT_MESSAGES]
