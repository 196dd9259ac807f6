"""Resolving a reply address for the host's inbound-mail handler (contract §4): which user
replied, to which message, in which conversation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F

from missedmail.core.models import MessageType
from missedmail.outbox.models import ReplyAddress

TOKEN_FORMAT = re.compile(r"mm[0-9a-f]{32}")


@dataclass(frozen=True)
class ReplyTarget:
    user_id: int
    message_id: int
    realm_id: int
    conversation: dict[str, object]

    def as_json(self) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "message_id": self.message_id,
            "realm_id": self.realm_id,
            "conversation": self.conversation,
        }


def use_reply_address(token: str, *, now: datetime) -> ReplyTarget | None:
    """The target of a well-formed token, counting the use; None if unknown."""
    with transaction.atomic():
        # One UPDATE with F(): concurrent lookups each count, none is lost.
        counted = ReplyAddress.objects.filter(token=token).update(
            uses=F("uses") + 1, last_used_at=now
        )
        if not counted:
            return None
        address = ReplyAddress.objects.select_related("message", "message__conversation").get(
            token=token
        )
    message = address.message
    conversation: dict[str, object]
    if message.type == MessageType.STREAM:
        conversation = {"type": "stream", "stream_id": message.stream_id, "topic": message.topic}
    else:
        assert message.conversation is not None  # noqa: S101 -- a DB constraint guarantees it
        conversation = {
            "type": "direct",
            "participant_ids": message.conversation.participant_ids(),
        }
    return ReplyTarget(address.user_id, message.id, message.realm_id, conversation)
