"""Properties over random batches: every notification is accounted for exactly once, and
headers stay well-formed whatever names and topics contain."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from missedmail.composing.batch import ComposedBatch, NotificationEntry
from missedmail.core.models import Message, UserMessage
from missedmail.events import Trigger
from missedmail.skips import SkipReason
from tests.db.composing.batches import compose, entry
from tests.factories import (
    Org,
    direct_message,
    make_group,
    make_org,
    make_user,
    stream_message,
)

pytestmark = pytest.mark.django_db

CONVERSATIONS = ["dm othello", "dm iago", "group", "denmark a", "denmark A", "verona b"]
STATES = {
    "unread": None,
    "read": SkipReason.READ,
    "content deleted": SkipReason.CONTENT_DELETED,
    "not received": SkipReason.NOT_RECEIVED,
    "deleted": SkipReason.DELETED,
}
GATES = {
    "none": None,
    "is_bot": SkipReason.USER_IS_BOT,
    "is_active": SkipReason.USER_DEACTIVATED,
    "enable_offline_email_notifications": SkipReason.NOTIFICATIONS_OFF,
}


@dataclass(frozen=True)
class Spec:
    conversation: str
    state: str
    trigger: Trigger
    group: bool
    minutes: int
    mention_flag: bool


specs = st.builds(
    Spec,
    conversation=st.sampled_from(CONVERSATIONS),
    state=st.sampled_from(list(STATES)),
    trigger=st.sampled_from(list(Trigger)),
    group=st.booleans(),
    minutes=st.integers(0, 40),
    mention_flag=st.booleans(),
)


def make_message(org: Org, spec: Spec) -> Message:
    date_sent = datetime(2026, 11, 28, 9, 0, tzinfo=UTC) + timedelta(minutes=spec.minutes)
    readers = [org.othello] if spec.state == "not received" else [org.hamlet, org.othello]
    flags = []
    if spec.state == "read":
        flags.append("read")
    if spec.mention_flag:
        flags.append("mentioned")
    content = "(deleted)" if spec.state == "content deleted" else "words"
    hamlet_flags: dict[int, Iterable[str]] = {10: flags}
    match spec.conversation:
        case "dm othello" | "dm iago":
            sender = org.othello if spec.conversation == "dm othello" else org.iago
            message = direct_message(
                sender, [org.hamlet], content, date_sent=date_sent, flags=hamlet_flags
            )
        case "group":
            message = direct_message(
                org.iago,
                [org.hamlet, org.othello],
                content,
                date_sent=date_sent,
                flags=hamlet_flags,
            )
        case _:
            stream = org.denmark if spec.conversation.startswith("denmark") else org.verona
            topic = spec.conversation.split()[1]
            message = stream_message(
                org.othello,
                stream,
                topic,
                content,
                readers,
                date_sent=date_sent,
                flags=hamlet_flags,
            )
    if spec.state == "not received":  # every DM participant receives it; undo that
        UserMessage.objects.filter(user=org.hamlet, message=message).delete()
    return message


def compose_specs(org: Org, batch_specs: list[Spec]) -> tuple[ComposedBatch, dict[int, Spec]]:
    group = make_group(org.realm, 1, "team", [org.hamlet, org.othello])
    by_id: dict[int, Spec] = {}
    entries: list[NotificationEntry] = []
    for spec in batch_specs:
        message = make_message(org, spec)
        by_id[message.id] = spec
        entries.append(entry(message, spec.trigger, group.id if spec.group else None))
        if spec.state == "deleted":
            message.delete()
    return compose(org.hamlet, *entries), by_id


@settings(max_examples=40, deadline=None)
@given(batch_specs=st.lists(specs, max_size=14), gate=st.sampled_from(list(GATES)))
def test_every_notification_ends_in_exactly_one_email_or_one_skip(
    batch_specs: list[Spec], gate: str
) -> None:
    with transaction.atomic():
        org = make_org()
        if gate != "none":
            setattr(org.hamlet, gate, gate == "is_bot")
            org.hamlet.save()
        batch, by_id = compose_specs(org, batch_specs)
        transaction.set_rollback(True)

    placed = Counter(
        [message_id for email in batch.emails for message_id in email.message_ids]
        + [message_id for skip in batch.skips for message_id in skip.message_ids]
    )
    assert placed == Counter(list(by_id))
    if GATES[gate] is not None:
        assert batch.emails == ()
        assert [skip.reason for skip in batch.skips] == ([GATES[gate]] if by_id else [])
        return
    skipped = {message_id: skip.reason for skip in batch.skips for message_id in skip.message_ids}
    for message_id, spec in by_id.items():
        assert skipped.get(message_id) == STATES[spec.state]
    for email in batch.emails:
        assert email.message_ids
        assert list(email.message_ids) == sorted(email.message_ids)
    conversations = Counter(email.thread_root for email in batch.emails)
    assert all(count == 1 for count in conversations.values())


printable_text = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=0, max_size=20
)


@settings(max_examples=30, deadline=None)
@given(topic=printable_text, name=printable_text, stream_name=printable_text)
def test_subjects_and_thread_roots_stay_well_formed_whatever_names_contain(
    topic: str, name: str, stream_name: str
) -> None:
    with transaction.atomic():
        org = make_org()
        org.denmark.name = stream_name
        org.denmark.save()
        sender = make_user(org.realm, 30, name or "x", "sender@example.com")
        in_stream = stream_message(sender, org.denmark, topic, "hi", [org.hamlet])
        direct = direct_message(sender, [org.hamlet, org.othello], "hi")
        batch = compose(
            org.hamlet, entry(in_stream, "stream_email_notify"), entry(direct, "direct_message")
        )
        transaction.set_rollback(True)

    assert len(batch.emails) == 2
    for email in batch.emails:
        assert not any(
            unicodedata.category(char) in {"Cc", "Zl", "Zp"} for char in email.subject
        ), email.subject
        root = email.thread_root
        assert root.isascii()
        assert " " not in root
        assert root.count("@") == 1
        assert root.startswith("<")
        assert root.endswith(">")
