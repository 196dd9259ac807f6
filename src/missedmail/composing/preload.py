"""A batcher pass's reads, for all of its users at once (issue 5, dispatch speed).

Composing one user reads the database in a chain: the reader, then their messages, then
their flags for those, then context candidates for the mentions among what survives, then
the chosen context messages, then the people, groups and streams the emails name. Here each
link of the chain is one bulk query for every user of the pass, so a pass costs the same
dozen queries whether it composes three users or three thousand.

To know what the composer will ask for, the preload runs the composer's own deciding steps
(`filter_batch`, `context_choices`, `lookup_keys`, the realm-name policy) on what it has
loaded so far. Only the rendering is left for `compose_user_batch`, which then finds every
answer in the returned `PreloadedData`.

A user whose data breaks a deciding step (a message with neither a stream nor a
conversation, say) is left out of the later links: their composition meets the same error
and fails alone, as it would have without the preload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from missedmail.composing.batch import (
    LookupKeys,
    attach_context,
    context_choices,
    context_windows,
    filter_batch,
    lookup_keys,
)
from missedmail.composing.buckets import Bucket, group_into_buckets
from missedmail.composing.context import ContextWindow
from missedmail.composing.data import PreloadedData
from missedmail.composing.entries import NotificationEntry, collapse_entries
from missedmail.composing.filtering import recipient_gate
from missedmail.composing.reader import make_reader, wants_realm_name_in_subject
from missedmail.core.models import UserProfile

logger = logging.getLogger(__name__)


@dataclass
class _Plan:
    user: UserProfile
    by_message: dict[int, NotificationEntry]
    buckets: list[Bucket]


def preload_batches(
    work: Mapping[int, Sequence[NotificationEntry]], *, for_rendering: bool = False
) -> PreloadedData:
    """Everything composing these users' batches reads (user id → their entries).

    `for_rendering`: only what rendering their messages reads (`composing/ahead.py`): not
    the people, groups and shared addresses that only the emails' other parts name."""
    data = PreloadedData()
    batches = {user_id: collapse_entries(entries) for user_id, entries in work.items()}
    batches = {user_id: by_message for user_id, by_message in batches.items() if by_message}
    data.load_readers(batches)
    plans: dict[int, _Plan] = {}
    for user_id, by_message in batches.items():
        user = data.reader(user_id)
        if user is not None and recipient_gate(user) is None:
            plans[user_id] = _Plan(user, by_message, [])

    data.load_messages(m for plan in plans.values() for m in plan.by_message)
    data.load_flags(
        (user_id, message_id)
        for user_id, plan in plans.items()
        for message_id in data.messages(list(plan.by_message))
    )

    def bucket(user_id: int, plan: _Plan) -> None:
        plan.buckets = group_into_buckets(filter_batch(user_id, plan.by_message, data).kept)

    _each(plans, bucket)
    plans = {user_id: plan for user_id, plan in plans.items() if plan.buckets}

    windows: dict[int, list[ContextWindow]] = {}

    def look_for_context(user_id: int, plan: _Plan) -> None:
        windows[user_id] = context_windows(plan.buckets)

    _each(plans, look_for_context)
    data.load_context_candidates(
        (user_id, window) for user_id in plans for window in windows[user_id]
    )
    chosen: set[int] = set()

    def choose(user_id: int, plan: _Plan) -> None:
        for _, ids in context_choices(user_id, plan.buckets, data):
            chosen.update(ids)

    _each(plans, choose)
    data.load_messages(chosen)

    keys: dict[int, LookupKeys] = {}
    asks_shared: list[int] = []

    def lookups(user_id: int, plan: _Plan) -> None:
        attach_context(user_id, plan.buckets, data)
        reader = make_reader(plan.user, gateway_configured=False, realm_name=False)
        keys[user_id] = lookup_keys(plan.buckets, reader.show_content)
        if _asks_whether_shared(plan.user):
            asks_shared.append(user_id)

    _each(plans, lookups)
    data.load_stream_ids(plans[u].user.realm_id for u, k in keys.items() if k.linked_streams)
    if for_rendering:
        return data
    data.load_people(p for k in keys.values() for p in k.people)
    data.load_groups(g for k in keys.values() for g in k.group_ids)
    data.load_shared_addresses(asks_shared)
    return data


def _each(plans: dict[int, _Plan], step: Callable[[int, _Plan], None]) -> None:
    """Run a deciding step for every user; a user it fails for is left out from then on."""
    for user_id in list(plans):
        try:
            step(user_id, plans[user_id])
        except Exception:  # their composition meets the same error, fails and says why
            logger.info("action=preload_user_left_out user_id=%d", user_id)
            del plans[user_id]


def _asks_whether_shared(user: UserProfile) -> bool:
    """Whether composing asks if the user's address is shared: the realm-name policy
    decides (`wants_realm_name_in_subject` asks only under the automatic policy)."""
    asked = False

    def ask() -> bool:
        nonlocal asked
        asked = True
        return False

    wants_realm_name_in_subject(user, ask)
    return asked
