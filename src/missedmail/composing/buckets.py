"""One email per conversation: grouping a batch's messages into buckets (behaviour §4.3)
and ordering the emails (§4.5)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from missedmail.composing.entries import NotifiedMessage
from missedmail.core.models import Message, MessageType


class ConversationKind(StrEnum):
    DIRECT = "direct"  # 1:1, including a DM to oneself
    GROUP_DIRECT = "group_direct"  # three or more participants
    STREAM = "stream"


class BucketKey(NamedTuple):
    kind: ConversationKind
    target_id: int  # the DirectConversation id, or the stream id
    sender_id: int | None  # 1:1 DMs: one email per sender of the conversation
    topic_key: str | None  # streams: the lowercased topic, so topics group case-insensitively


def bucket_key(message: Message) -> BucketKey:
    """The message's conversation; `message.conversation` must be loaded for DMs."""
    if message.type == MessageType.STREAM and message.stream_id is not None:
        return BucketKey(ConversationKind.STREAM, message.stream_id, None, message.topic.lower())
    conversation = message.conversation
    if conversation is None:
        raise ValueError(f"message {message.id} has neither a stream nor a conversation")
    if len(conversation.participant_ids()) >= 3:
        return BucketKey(ConversationKind.GROUP_DIRECT, conversation.id, None, None)
    return BucketKey(ConversationKind.DIRECT, conversation.id, message.sender_id, None)


def _chronological(message: Message) -> tuple[datetime, int]:
    return (message.date_sent, message.id)


@dataclass
class Bucket:
    key: BucketKey
    notified: list[NotifiedMessage]
    # Earlier messages shown around a mention (behaviour §4.4); carry no trigger.
    context: list[Message] = field(default_factory=list)

    @property
    def kind(self) -> ConversationKind:
        return self.key.kind

    @property
    def message_count(self) -> int:
        """Kept notified messages, before context is added."""
        return len(self.notified)

    @property
    def notified_ids(self) -> tuple[int, ...]:
        return tuple(sorted(item.id for item in self.notified))

    @property
    def earliest(self) -> NotifiedMessage:
        return min(self.notified, key=lambda item: _chronological(item.message))

    @property
    def representative(self) -> Message:
        """The lowest-id notified message: what links point `near` and replies answer."""
        return min(self.notified, key=lambda item: item.id).message

    @property
    def max_message_id(self) -> int:
        return max(message.id for message in self.messages())

    def messages(self) -> list[Message]:
        """Notified and context messages, de-duplicated by id, by date_sent."""
        unique = {item.id: item.message for item in self.notified}
        for message in self.context:
            unique.setdefault(message.id, message)
        return sorted(unique.values(), key=_chronological)


def group_into_buckets(kept: Iterable[NotifiedMessage]) -> list[Bucket]:
    buckets: dict[BucketKey, Bucket] = {}
    for item in kept:
        key = bucket_key(item.message)
        if key in buckets:
            buckets[key].notified.append(item)
        else:
            buckets[key] = Bucket(key=key, notified=[item])
    return list(buckets.values())


def in_sending_order(buckets: Sequence[Bucket]) -> list[Bucket]:
    """The least recently active conversation first: by the largest message id, context
    included (behaviour §4.5)."""
    return sorted(buckets, key=lambda bucket: bucket.max_message_id)
