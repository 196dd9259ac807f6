"""Sample conversations, composed in memory: what the emails look like, without a database.

The composer reads the database only through `loading.py`; everything after that works on
model instances and plain values. A sample builds those instances directly (unsaved: no
query is ever made) and runs the same composition as a real batch, so a preview shows
exactly what a recipient would get. Used by `missedmail preview`, the screenshots in
docs/emails.md, and tests that need whole emails without a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from django.utils import translation

from missedmail.composing.buckets import group_into_buckets
from missedmail.composing.email import Lookups, compose_email
from missedmail.composing.entries import NotifiedMessage
from missedmail.composing.mentions import GroupInfo
from missedmail.composing.reader import make_reader
from missedmail.core.models import (
    DirectConversation,
    Message,
    MessageType,
    Realm,
    Stream,
    UserMessageFlag,
    UserProfile,
)
from missedmail.events import Trigger
from missedmail.outbox.drafts import EmailDraft

SAMPLE_REALM_URL = "https://chat.example.com"
SAMPLE_SENT_AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
READER_ID = 10


class SampleKind(StrEnum):
    DM = "dm"  # a 1:1 DM with a time, an upload link and a spoiler
    GROUP = "group"  # a group DM with a list and emoji
    STREAM = "stream"  # a stream mention, with the context before it: a table and code
    HIDDEN = "hidden"  # the stream mention again, for a reader who hides content


@dataclass(frozen=True)
class SampleOrg:
    """A realm with the cast of the test suite: the reader is King Hamlet (10)."""

    realm: Realm
    people: Mapping[int, UserProfile]
    streams: Mapping[str, Stream]  # by lower-cased name

    @property
    def reader(self) -> UserProfile:
        return self.people[READER_ID]

    @property
    def stream_ids(self) -> dict[str, int]:
        return {name: stream.id for name, stream in self.streams.items()}


def sample_org(
    *, language: str = "en", timezone: str = "", twenty_four_hour_time: bool = False
) -> SampleOrg:
    realm = Realm(id=1, name="Zulip Dev", url=SAMPLE_REALM_URL)
    names = {
        10: ("King Hamlet", "hamlet@example.com"),
        11: ("Othello, the Moor of Venice", "othello@example.com"),
        12: ("Iago", "iago@example.com"),
        13: ("Cordelia, Lear's daughter", "cordelia@example.com"),
        14: ("Prospero from The Tempest", "prospero@example.com"),
    }
    people = {
        user_id: UserProfile(
            id=user_id,
            realm=realm,
            full_name=full_name,
            email=email,
            timezone=timezone,
            default_language=language,
            twenty_four_hour_time=twenty_four_hour_time,
        )
        for user_id, (full_name, email) in names.items()
    }
    streams = {
        "denmark": Stream(id=3, realm=realm, name="Denmark"),
        "verona": Stream(id=4, realm=realm, name="Verona"),
    }
    return SampleOrg(realm=realm, people=people, streams=streams)


def compose_conversation(
    org: SampleOrg,
    notified: Sequence[NotifiedMessage],
    *,
    context: Sequence[Message] = (),
    groups: Mapping[int, GroupInfo] | None = None,
    reply_by_email: bool = False,
    realm_name_in_subject: bool = False,
) -> EmailDraft:
    """The email about one conversation, as `compose_user_batch` would write it for
    `org.reader`; every notified message must belong to that one conversation."""
    buckets = group_into_buckets(notified)
    if len(buckets) != 1:
        raise ValueError(f"expected messages of one conversation, got {len(buckets)}")
    [bucket] = buckets
    bucket.context = list(context)
    reader = make_reader(
        org.reader, gateway_configured=reply_by_email, realm_name=realm_name_in_subject
    )
    lookups = Lookups(people=org.people, groups=groups or {}, stream_ids=org.stream_ids)
    with translation.override(reader.language):
        return compose_email(bucket, reader, lookups)


def stream_message(
    org: SampleOrg, message_id: int, sender_id: int, stream: str, topic: str, content: str
) -> Message:
    return Message(
        id=message_id,
        realm=org.realm,
        sender=org.people[sender_id],
        type=MessageType.STREAM,
        stream=org.streams[stream.lower()],
        topic=topic,
        content=content,
        date_sent=SAMPLE_SENT_AT + timedelta(minutes=message_id % 100),
    )


def direct_message(
    org: SampleOrg, message_id: int, sender_id: int, participant_ids: Sequence[int], content: str
) -> Message:
    key = ",".join(str(user_id) for user_id in sorted({sender_id, *participant_ids}))
    return Message(
        id=message_id,
        realm=org.realm,
        sender=org.people[sender_id],
        type=MessageType.DIRECT,
        conversation=DirectConversation(
            id=sum(map(ord, key)), realm=org.realm, participants_key=key
        ),
        content=content,
        date_sent=SAMPLE_SENT_AT + timedelta(minutes=message_id % 100),
    )


def sample_email(
    kind: SampleKind,
    *,
    language: str = "en",
    timezone: str = "",
    twenty_four_hour_time: bool = False,
    reply_by_email: bool = False,
) -> EmailDraft:
    org = sample_org(
        language=language, timezone=timezone, twenty_four_hour_time=twenty_four_hour_time
    )
    match kind:
        case SampleKind.DM:
            return _dm(org, reply_by_email=reply_by_email)
        case SampleKind.GROUP:
            return _group(org, reply_by_email=reply_by_email)
        case SampleKind.HIDDEN:
            org.reader.message_content_in_email_notifications = False
    return _stream_mention(org, reply_by_email=reply_by_email)


def _dm(org: SampleOrg, *, reply_by_email: bool) -> EmailDraft:
    messages = [
        direct_message(
            org,
            2001,
            11,
            [READER_ID],
            "Are you free for the rehearsal at <time:2026-11-28T15:00:00Z>? :performing_arts:",
        ),
        direct_message(
            org,
            2002,
            11,
            [READER_ID],
            "I put the new script in [script.pdf](/user_uploads/2/ab/script.pdf).\n\n"
            "```spoiler How it ends\nEveryone dies.\n```",
        ),
    ]
    notified = [NotifiedMessage(m, Trigger.DIRECT_MESSAGE, None, 0) for m in messages]
    return compose_conversation(org, notified, reply_by_email=reply_by_email)


def _group(org: SampleOrg, *, reply_by_email: bool) -> EmailDraft:
    others = [11, 12, 13]
    contents = [
        (12, "Who is bringing the props for **Act III**?"),
        (13, "I can bring the crown 👑 and the goblet."),
        (12, "Perfect, thank you! What is left:\n\n- a sword\n- ~~a skull~~ Yorick is on leave"),
        (11, "I'll take the sword :crossed_fingers:"),
    ]
    messages = [
        direct_message(org, 3001 + number, sender_id, [READER_ID, *others], content)
        for number, (sender_id, content) in enumerate(contents)
    ]
    notified = [NotifiedMessage(m, Trigger.DIRECT_MESSAGE, None, 0) for m in messages]
    return compose_conversation(org, notified, reply_by_email=reply_by_email)


def _stream_mention(org: SampleOrg, *, reply_by_email: bool) -> EmailDraft:
    topic = "castle walls"
    context = [
        stream_message(org, 4001, 12, "Denmark", topic, "The east wall is cracked again. :eyes:"),
        stream_message(
            org,
            4002,
            13,
            "Denmark",
            topic,
            "Since when? It was fine at the inspection on <time:2026-11-20T10:00:00Z>.",
        ),
    ]
    mention = stream_message(
        org,
        4005,
        11,
        "Denmark",
        topic,
        "@**King Hamlet** can you take a look? What we know so far:\n\n"
        "| wall | cracks |\n|---|---:|\n| east | 3 |\n| north | 1 |\n\n"
        "```python\nrepair(wall='east', budget=1200)\n```\n\n"
        "Notes are in #**Verona>repairs**.",
    )
    notified = [NotifiedMessage(mention, Trigger.MENTIONED, None, UserMessageFlag.MENTIONED)]
    return compose_conversation(org, notified, context=context, reply_by_email=reply_by_email)
