"""Direct-message conversations: the same participants always map to one conversation."""

from __future__ import annotations

from collections.abc import Iterable

from missedmail.core.models import DirectConversation


def participants_key(participant_ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in sorted(set(participant_ids)))


def direct_conversation(realm_id: int, participant_ids: Iterable[int]) -> DirectConversation:
    """Get or create the conversation of exactly these participants (sender included)."""
    ids = sorted(set(participant_ids))
    conversation, created = DirectConversation.objects.get_or_create(
        participants_key=participants_key(ids), defaults={"realm_id": realm_id}
    )
    if created:
        conversation.participants.set(ids)
    return conversation
