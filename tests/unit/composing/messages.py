"""Unsaved model instances for the composer's pure functions (no database needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from missedmail.composing.entries import NotifiedMessage
from missedmail.core.models import DirectConversation, Message, MessageType
from missedmail.events import Trigger

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def stream_msg(
    message_id: int,
    *,
    stream_id: int = 3,
    topic: str = "test",
    sender_id: int = 11,
    minutes: float = 0,
    content: str = "words",
) -> Message:
    return Message(
        id=message_id,
        realm_id=1,
        sender_id=sender_id,
        type=MessageType.STREAM,
        stream_id=stream_id,
        topic=topic,
        content=content,
        date_sent=T0 + timedelta(minutes=minutes),
    )


def direct_msg(
    message_id: int, participants: list[int], *, conversation_id: int = 5, sender_id: int = 11
) -> Message:
    conversation = DirectConversation(
        id=conversation_id, realm_id=1, participants_key=",".join(map(str, sorted(participants)))
    )
    return Message(
        id=message_id,
        realm_id=1,
        sender_id=sender_id,
        type=MessageType.DIRECT,
        conversation=conversation,
        content="hi",
        date_sent=T0,
    )


def notified(
    message: Message,
    trigger: Trigger = Trigger.STREAM_EMAIL_NOTIFY,
    group: int | None = None,
    flags: int = 0,
) -> NotifiedMessage:
    return NotifiedMessage(message, trigger, group, flags)
