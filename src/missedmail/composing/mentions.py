"""What the triggers of one email say about why the reader gets it (behaviour §4.6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from missedmail.composing.entries import NotifiedMessage
from missedmail.events import Trigger


@dataclass(frozen=True)
class GroupInfo:
    id: int
    name: str
    member_count: int  # distinct users in the group and, recursively, its subgroups


@dataclass(frozen=True)
class MentionSummary:
    triggers: frozenset[Trigger]
    mention: bool  # any of the five mention triggers
    personal_mentioned: bool  # a `mentioned` entry without a group
    group_name: str | None  # the smallest mentioned group, unless personally mentioned


def mentioned_group(
    notified: Sequence[NotifiedMessage], groups: Mapping[int, GroupInfo]
) -> GroupInfo | None:
    """The group with the fewest recursive members among the entries' group ids; on a tie,
    the one of the earliest message (Zulip keeps the first smallest it meets). Groups that
    no longer exist are ignored."""
    candidates = [
        groups[item.mentioned_user_group_id]
        for item in sorted(notified, key=lambda item: item.id)
        if item.mentioned_user_group_id is not None and item.mentioned_user_group_id in groups
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda group: group.member_count)


def summarise_mentions(
    notified: Sequence[NotifiedMessage], groups: Mapping[int, GroupInfo]
) -> MentionSummary:
    triggers = frozenset(item.trigger for item in notified)
    personal = any(
        item.trigger == Trigger.MENTIONED and item.mentioned_user_group_id is None
        for item in notified
    )
    group = None if personal else mentioned_group(notified, groups)
    return MentionSummary(
        triggers=triggers,
        mention=any(trigger.is_mention for trigger in triggers),
        personal_mentioned=personal,
        group_name=group.name if group is not None else None,
    )
