"""A user's due notifications → email drafts and recorded skips (behaviour §4).

The batcher calls `compose_user_batch` once per user. Accountability: every entry's
message ends up in exactly one email's `message_ids` or in exactly one skip. Everything it
reads from the database it asks of a `BatchData` (see `missedmail.composing.data`): on its
own, a fixed number of bulk queries per call; in a batcher pass, answers that `preload.py`
loaded for all of the pass's users at once. The steps that decide what is read
(`filter_batch`, `context_choices`, `lookup_keys`) are shared with the preload, so that it
loads exactly what the composer then asks for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.utils import translation

from missedmail.composing.buckets import (
    Bucket,
    ConversationKind,
    group_into_buckets,
    in_sending_order,
)
from missedmail.composing.content import referenced_stream_names
from missedmail.composing.context import (
    ContextWindow,
    choose_context,
    context_anchor,
    context_window,
)
from missedmail.composing.data import BatchData, DirectData
from missedmail.composing.email import Lookups, compose_email
from missedmail.composing.entries import NotificationEntry, collapse_entries
from missedmail.composing.filtering import FilteredEntries, filter_entries, recipient_gate
from missedmail.composing.reader import make_reader, wants_realm_name_in_subject
from missedmail.core.models import Message
from missedmail.outbox.drafts import EmailDraft
from missedmail.skips import SkipReason

__all__ = [
    "BatchData",
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
    user_id: int,
    entries: Sequence[NotificationEntry],
    options: CompositionOptions,
    data: BatchData | None = None,
) -> ComposedBatch:
    """`data`: where to read from; by default, a few queries of this batch's own."""
    data = DirectData() if data is None else data
    by_message = collapse_entries(entries)
    if not by_message:
        return ComposedBatch(emails=(), skips=())
    user = data.reader(user_id)
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

    filtered = filter_batch(user.id, by_message, data)
    skips = tuple(
        Skip(tuple(filtered.skipped[reason]), reason)
        for reason in SkipReason
        if filtered.skipped.get(reason)
    )
    buckets = group_into_buckets(filtered.kept)
    emails: tuple[EmailDraft, ...] = ()
    if buckets:
        attach_context(user.id, buckets, data)
        reader = make_reader(
            user,
            gateway_configured=options.reply_by_email,
            realm_name=wants_realm_name_in_subject(user, lambda: data.address_is_shared(user)),
        )
        lookups = load_lookups(
            reader.user.realm_id, lookup_keys(buckets, reader.show_content), data
        )
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


def filter_batch(
    user_id: int, by_message: Mapping[int, NotificationEntry], data: BatchData
) -> FilteredEntries:
    """The entries whose message may still be emailed, and the others by reason: two
    reads (the messages, then the reader's flags for those that exist)."""
    messages = data.messages(list(by_message))
    return filter_entries(by_message, messages, data.flags(user_id, list(messages)))


def context_windows(buckets: Sequence[Bucket]) -> list[ContextWindow]:
    """Where to look for the context of the buckets that need it (behaviour §4.4)."""
    return [context_window(anchor) for _, anchor in _anchored(buckets)]


def _anchored(buckets: Sequence[Bucket]) -> list[tuple[Bucket, Message]]:
    return [
        (bucket, anchor) for bucket in buckets if (anchor := context_anchor(bucket)) is not None
    ]


def context_choices(
    user_id: int, buckets: Sequence[Bucket], data: BatchData
) -> list[tuple[Bucket, list[int]]]:
    """The context message ids of each bucket that needs context: one read (the
    candidates' ids and topics, for all the buckets)."""
    anchored = _anchored(buckets)
    if not anchored:
        return []
    candidates = data.context_candidates(user_id, [context_window(a) for _, a in anchored])
    return [(bucket, choose_context(bucket, anchor, candidates)) for bucket, anchor in anchored]


def attach_context(user_id: int, buckets: Sequence[Bucket], data: BatchData) -> None:
    """Add mention context to the stream buckets that need it: two reads for all of
    them (candidates' ids and topics, then the chosen messages in full)."""
    chosen = context_choices(user_id, buckets, data)
    if not chosen:
        return
    full = data.messages({message_id for _, ids in chosen for message_id in ids})
    for bucket, ids in chosen:
        bucket.context = [full[message_id] for message_id in ids if message_id in full]


@dataclass(frozen=True)
class LookupKeys:
    """What the emails of one batch name: people, mentioned groups, linked streams."""

    people: frozenset[int]
    group_ids: frozenset[int]
    linked_streams: frozenset[str]  # lower-cased names; empty when content is hidden


def lookup_keys(buckets: Sequence[Bucket], show_content: bool) -> LookupKeys:
    people: set[int] = set()
    group_ids: set[int] = set()
    linked_streams: set[str] = set()
    for bucket in buckets:
        for message in bucket.messages():
            people.add(message.sender_id)
            if show_content:
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
    return LookupKeys(frozenset(people), frozenset(group_ids), frozenset(linked_streams))


def load_lookups(realm_id: int, keys: LookupKeys, data: BatchData) -> Lookups:
    return Lookups(
        people=data.people(keys.people),
        groups=data.groups(realm_id, keys.group_ids),
        stream_ids=data.stream_ids(realm_id, keys.linked_streams),
    )
