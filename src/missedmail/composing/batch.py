"""A user's due notifications → email drafts and recorded skips (behaviour §4).

The batcher calls `compose_user_batch` once per user. Accountability: every entry's
message ends up in exactly one email's `message_ids` or in exactly one skip. The database
work is a fixed number of bulk queries per call (see `missedmail.composing.loading`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import translation

from missedmail.composing.buckets import (
    Bucket,
    ConversationKind,
    group_into_buckets,
    in_sending_order,
)
from missedmail.composing.content import referenced_stream_names
from missedmail.composing.context import choose_context, context_anchor, context_window
from missedmail.composing.email import Lookups, compose_email
from missedmail.composing.entries import NotificationEntry, collapse_entries
from missedmail.composing.filtering import filter_entries, recipient_gate
from missedmail.composing.loading import (
    address_is_shared,
    load_context_candidates,
    load_flags,
    load_groups,
    load_messages,
    load_people,
    load_reader,
    load_stream_ids,
)
from missedmail.composing.reader import Reader, make_reader, wants_realm_name_in_subject
from missedmail.outbox.drafts import EmailDraft
from missedmail.skips import SkipReason

__all__ = [
    "ComposedBatch",
    "CompositionOptions",
    "NotificationEntry",
    "Skip",
    "compose_user_batch",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompositionOptions:
    reply_by_email: bool  # MISSEDMAIL_EMAIL_GATEWAY_PATTERN is set


@dataclass(frozen=True)
class Skip:
    message_ids: tuple[int, ...]
    reason: SkipReason


@dataclass(frozen=True)
class ComposedBatch:
    emails: tuple[EmailDraft, ...]  # in sending order (behaviour §4.5)
    skips: tuple[Skip, ...]


def compose_user_batch(
    user_id: int, entries: Sequence[NotificationEntry], options: CompositionOptions
) -> ComposedBatch:
    by_message = collapse_entries(entries)
    if not by_message:
        return ComposedBatch(emails=(), skips=())
    user = load_reader(user_id)
    if user is None:
        # Deleting a user deletes their notifications too; whatever the caller still holds
        # has no row left to account for.
        logger.info("action=compose_user_missing user_id=%d entries=%d", user_id, len(by_message))
        return ComposedBatch(emails=(), skips=())
    gate = recipient_gate(user)
    if gate is not None:
        logger.info(
            "action=compose_gated user_id=%d entries=%d reason=%s", user.id, len(by_message), gate
        )
        return ComposedBatch(emails=(), skips=(Skip(tuple(sorted(by_message)), gate),))

    messages = load_messages(list(by_message))
    filtered = filter_entries(by_message, messages, load_flags(user.id, list(messages)))
    skips = tuple(
        Skip(tuple(filtered.skipped[reason]), reason)
        for reason in SkipReason
        if filtered.skipped.get(reason)
    )
    buckets = group_into_buckets(filtered.kept)
    emails: tuple[EmailDraft, ...] = ()
    if buckets:
        attach_context(user.id, buckets)
        reader = make_reader(
            user,
            gateway_configured=options.reply_by_email,
            realm_name=wants_realm_name_in_subject(user, lambda: address_is_shared(user)),
        )
        lookups = load_lookups(reader, buckets)
        with translation.override(reader.language):
            emails = tuple(
                compose_email(bucket, reader, lookups) for bucket in in_sending_order(buckets)
            )
    logger.info(
        "action=compose_batch user_id=%d entries=%d emails=%d skipped=%d",
        user.id,
        len(by_message),
        len(emails),
        sum(len(skip.message_ids) for skip in skips),
    )
    return ComposedBatch(emails=emails, skips=skips)


def attach_context(user_id: int, buckets: Sequence[Bucket]) -> None:
    """Add mention context to the stream buckets that need it: two queries for all of
    them (candidates' ids and topics, then the chosen messages in full)."""
    anchored = [
        (bucket, anchor) for bucket in buckets if (anchor := context_anchor(bucket)) is not None
    ]
    if not anchored:
        return
    candidates = load_context_candidates(
        user_id, [context_window(anchor) for _, anchor in anchored]
    )
    chosen = [(bucket, choose_context(bucket, anchor, candidates)) for bucket, anchor in anchored]
    full = load_messages({message_id for _, ids in chosen for message_id in ids})
    for bucket, ids in chosen:
        bucket.context = [full[message_id] for message_id in ids if message_id in full]


def load_lookups(reader: Reader, buckets: Sequence[Bucket]) -> Lookups:
    people: set[int] = set()
    group_ids: set[int] = set()
    linked_streams: set[str] = set()
    for bucket in buckets:
        for message in bucket.messages():
            people.add(message.sender_id)
            if reader.show_content:
                linked_streams |= referenced_stream_names(message.content)
        if bucket.kind == ConversationKind.GROUP_DIRECT:
            conversation = bucket.representative.conversation
            if conversation is not None:
                people.update(conversation.participant_ids())
        group_ids.update(
            item.mentioned_user_group_id
            for item in bucket.notified
            if item.mentioned_user_group_id is not None
        )
    realm_id = reader.user.realm_id
    return Lookups(
        people=load_people(people),
        groups=load_groups(realm_id, group_ids),
        stream_ids=load_stream_ids(realm_id, linked_streams),
    )
