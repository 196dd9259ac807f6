"""Request bodies of the API (contract §4), parsed once in the view into the typed values
`missedmail.core.writes` takes.

Limits follow the database columns. Checks that need the database (does the realm exist?)
are made by `core.writes`; everything that can be decided from the request alone is here.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from missedmail.api.validation import (
    Body,
    Bool,
    DateTime,
    Id,
    Line,
    PartialBody,
    Text,
    TimeZone,
    bounded,
    shorten,
)
from missedmail.core.models import (
    MAX_BATCHING_PERIOD_SECONDS,
    MessageType,
    RealmNamePolicy,
    UserMessageFlag,
)
from missedmail.core.writes import (
    MessageData,
    MessageEdit,
    RealmFields,
    RecipientData,
    StreamFields,
    UserFields,
    UserGroupFields,
    WriteError,
)

MAX_MESSAGES_PER_REQUEST = 1000
MAX_EVENTS_PER_REQUEST = 1000
MAX_FLAG_MESSAGES = 10_000
MAX_GROUP_MEMBERS = 100_000
# Far above any chat message (Zulip's limit is 10 000 characters), far below the body limit.
MAX_CONTENT_CHARS = 1_000_000
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*")


def _check_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL such as https://chat.example.com, got {value!r}")
    if any(char.isspace() for char in value):
        raise ValueError("must not contain spaces")
    # Links are built as f"{url}/#narrow/...": a trailing slash would double.
    return value.rstrip("/")


def _check_email(value: str) -> str:
    if value and "@" not in value:
        raise ValueError(f'expected an email address or "", got {shorten(value)!r}')
    return value


def _check_language(value: str) -> str:
    if not LANGUAGE_TAG.fullmatch(value):
        raise ValueError(f"expected a language code such as en or pt-BR, got {shorten(value)!r}")
    return value


def _check_policy(value: int) -> int:
    if value not in RealmNamePolicy.values:
        raise ValueError(f"must be 1 (automatic), 2 (always) or 3 (never), got {value}")
    return value


def _check_flag(value: str) -> str:
    if value not in UserMessageFlag.BY_NAME:
        raise ValueError(f"unknown flag {shorten(value)!r}")
    return value


Name = Annotated[Text, Field(min_length=1, max_length=200)]
Url = Annotated[Line, Field(max_length=500), AfterValidator(_check_url)]
Email = Annotated[Line, Field(max_length=254), AfterValidator(_check_email)]
Language = Annotated[Line, Field(max_length=35), AfterValidator(_check_language)]
BatchingPeriod = Annotated[int, bounded(1, MAX_BATCHING_PERIOD_SECONDS)]
Policy = Annotated[int, AfterValidator(_check_policy)]
FlagName = Annotated[Text, Field(max_length=64), AfterValidator(_check_flag)]
Topic = Annotated[Text, Field(max_length=600)]
Content = Annotated[Text, Field(max_length=MAX_CONTENT_CHARS)]


class RealmBody(PartialBody):
    name: Name | None = None
    url: Url | None = None
    message_content_allowed_in_email_notifications: Bool | None = None
    deactivated: Bool | None = None

    def to_fields(self) -> RealmFields:
        return RealmFields(**self.model_dump(exclude_unset=True))


class UserBody(PartialBody):
    realm_id: Id | None = None
    email: Email | None = None
    full_name: Name | None = None
    is_active: Bool | None = None
    is_bot: Bool | None = None
    timezone: TimeZone | None = None
    default_language: Language | None = None
    twenty_four_hour_time: Bool | None = None
    email_notifications_batching_period_seconds: BatchingPeriod | None = None
    enable_offline_email_notifications: Bool | None = None
    message_content_in_email_notifications: Bool | None = None
    realm_name_in_email_notifications_policy: Policy | None = None
    enable_stream_email_notifications: Bool | None = None
    enable_followed_topic_email_notifications: Bool | None = None

    def to_fields(self) -> UserFields:
        return UserFields(**self.model_dump(exclude_unset=True))


class StreamBody(PartialBody):
    realm_id: Id | None = None
    name: Name | None = None

    def to_fields(self) -> StreamFields:
        return StreamFields(**self.model_dump(exclude_unset=True))


class UserGroupBody(PartialBody):
    realm_id: Id | None = None
    name: Name | None = None
    members: Annotated[list[Id], Field(max_length=MAX_GROUP_MEMBERS)] | None = None
    subgroups: Annotated[list[Id], Field(max_length=MAX_GROUP_MEMBERS)] | None = None

    def to_fields(self) -> UserGroupFields:
        return UserGroupFields(
            realm_id=self.realm_id,
            name=self.name,
            members=None if self.members is None else tuple(self.members),
            subgroups=None if self.subgroups is None else tuple(self.subgroups),
        )


class RecipientBody(Body):
    user_id: Id
    flags: Annotated[list[FlagName], Field(max_length=64)] = Field(default_factory=list)

    def to_data(self) -> RecipientData:
        bits = 0
        for name in self.flags:
            bits |= UserMessageFlag.BY_NAME[name]
        return RecipientData(self.user_id, bits)


class MessageBody(Body):
    id: Id
    realm_id: Id
    sender_id: Id
    type: Literal["stream", "direct"]
    stream_id: Id | None = None
    topic: Topic | None = None
    to: list[Id] | None = None
    content: Content
    rendered_content: Content | None = None
    date_sent: DateTime
    recipients: list[RecipientBody]

    def to_data(self) -> MessageData:
        """The typed message; `WriteError` (field relative to the message) when the fields
        do not fit the message type."""
        if self.type == "stream":
            self._check_stream_fields()
        else:
            self._check_direct_fields()
        return MessageData(
            id=self.id,
            realm_id=self.realm_id,
            sender_id=self.sender_id,
            type=MessageType(self.type),
            content=self.content,
            rendered_content=self.rendered_content,
            date_sent=self.date_sent,
            recipients=tuple([recipient.to_data() for recipient in self.recipients]),
            stream_id=self.stream_id,
            topic=self.topic or "",
            to=tuple(self.to or ()),
        )

    def _check_stream_fields(self) -> None:
        if self.stream_id is None:
            raise WriteError("stream_id", "required for a stream message")
        if self.topic is None:
            raise WriteError("topic", 'required for a stream message (it may be "")')
        if self.to is not None:
            raise WriteError("to", "only for direct messages; use stream_id and topic")

    def _check_direct_fields(self) -> None:
        if self.to is None:
            raise WriteError("to", "required for a direct message (the other participants)")
        if self.stream_id is not None:
            raise WriteError("stream_id", "only for stream messages")
        if self.topic:
            raise WriteError("topic", "only for stream messages")


class MessageBatchBody(Body):
    messages: Annotated[list[MessageBody], Field(min_length=1, max_length=MAX_MESSAGES_PER_REQUEST)]


class MessageEditBody(PartialBody):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"rendered_content"})

    content: Content | None = None
    rendered_content: Content | None = None
    topic: Topic | None = None

    def to_edit(self) -> MessageEdit:
        if not self.model_fields_set:
            raise WriteError("body", "give at least one of content, rendered_content, topic")
        return MessageEdit(
            content=self.content,
            topic=self.topic,
            rendered_content=self.rendered_content,
            rendered_content_given="rendered_content" in self.model_fields_set,
        )


class FlagsBody(Body):
    user_id: Id
    op: Literal["add", "remove"]
    flag: FlagName
    messages: Annotated[list[Id], Field(max_length=MAX_FLAG_MESSAGES)]

    @property
    def bit(self) -> int:
        return UserMessageFlag.BY_NAME[self.flag]
