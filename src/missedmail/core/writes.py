"""Creating, updating and deleting the host's data (contract §4).

Callers hand in values that are already parsed and typed (the API's request schemas do
that); what is checked here is what needs the database: that referenced objects exist and
belong to the right realm, that an update does not move an object between realms, that
group nesting stays acyclic. Every public function runs in one transaction and checks
everything before it writes anything, so a failure changes nothing.

Reference problems raise `WriteError` naming the field relative to the object written; the
caller knows where that object sits in its request and prefixes the path.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import NamedTuple, TypeVar

from django.db import connection, models, transaction

from missedmail.core import bulk
from missedmail.core.conversations import direct_conversation, participants_key
from missedmail.core.models import (
    DeletedMessage,
    DirectConversation,
    Message,
    MessageType,
    Realm,
    Stream,
    UserGroup,
    UserMessage,
    UserProfile,
)

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=models.Model)


class ErrorCode:
    UNKNOWN_REFERENCE = "UNKNOWN_REFERENCE"
    MISSING_FIELD = "MISSING_FIELD"
    IMMUTABLE_FIELD = "IMMUTABLE_FIELD"
    INVALID_INPUT = "INVALID_INPUT"


class WriteError(Exception):
    """The write is refused; `field` is the path of the offending value in the object."""

    def __init__(self, field: str, problem: str, code: str = ErrorCode.INVALID_INPUT) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
        self.code = code


class MessageWriteError(Exception):
    """A `WriteError` about the message at `index` of a batch."""

    def __init__(self, index: int, error: WriteError) -> None:
        super().__init__(f"message {index}: {error}")
        self.index = index
        self.error = error


class NotFound(Exception):
    """The object the request is about does not exist."""


# --- realms, users, streams, groups ------------------------------------------------------
#
# PUT semantics: a field left as None was not given and keeps its value on update; on
# creation the model's default applies, except for the fields each upsert lists as required.


@dataclass(frozen=True)
class RealmFields:
    name: str | None = None
    url: str | None = None
    message_content_allowed_in_email_notifications: bool | None = None
    deactivated: bool | None = None


@dataclass(frozen=True)
class UserFields:
    realm_id: int | None = None
    email: str | None = None
    full_name: str | None = None
    is_active: bool | None = None
    is_bot: bool | None = None
    timezone: str | None = None
    default_language: str | None = None
    twenty_four_hour_time: bool | None = None
    email_notifications_batching_period_seconds: int | None = None
    enable_offline_email_notifications: bool | None = None
    message_content_in_email_notifications: bool | None = None
    realm_name_in_email_notifications_policy: int | None = None
    enable_stream_email_notifications: bool | None = None
    enable_followed_topic_email_notifications: bool | None = None


@dataclass(frozen=True)
class StreamFields:
    realm_id: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class UserGroupFields:
    realm_id: int | None = None
    name: str | None = None
    members: tuple[int, ...] | None = None
    subgroups: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Upserted:
    id: int
    created: bool


@dataclass(frozen=True)
class UserUpserted(Upserted):
    previous_batching_period_seconds: int
    batching_period_seconds: int

    @property
    def batching_period_changed(self) -> bool:
        return not self.created and (
            self.previous_batching_period_seconds != self.batching_period_seconds
        )


def _given(fields: RealmFields | UserFields | StreamFields | UserGroupFields) -> dict[str, object]:
    return {name: value for name, value in asdict(fields).items() if value is not None}


def _require_for_creation(given: Mapping[str, object], required: Iterable[str], what: str) -> None:
    for name in required:
        if name not in given:
            raise WriteError(name, f"required to create a {what}", ErrorCode.MISSING_FIELD)


def _locked(model: type[ModelT], object_id: int) -> ModelT | None:
    return model._default_manager.select_for_update().filter(id=object_id).first()


def _check_realm(realm_id: int, *, current_realm_id: int | None, what: str) -> None:
    if current_realm_id is not None and realm_id != current_realm_id:
        raise WriteError(
            "realm_id",
            f"this {what} belongs to realm {current_realm_id} and cannot move to realm {realm_id}",
            ErrorCode.IMMUTABLE_FIELD,
        )
    if not Realm.objects.filter(id=realm_id).exists():
        raise WriteError("realm_id", f"unknown realm {realm_id}", ErrorCode.UNKNOWN_REFERENCE)


def upsert_realm(realm_id: int, fields: RealmFields) -> Upserted:
    given = _given(fields)
    with transaction.atomic():
        realm = _locked(Realm, realm_id)
        created = realm is None
        if realm is None:
            _require_for_creation(given, ("name", "url"), "realm")
            realm = Realm(id=realm_id)
        for name, value in given.items():
            setattr(realm, name, value)
        # force_insert: a concurrent creation of the same id fails loudly instead of being
        # silently overwritten by a plain UPDATE-or-INSERT save.
        realm.save(force_insert=created)
    return Upserted(realm_id, created)


def upsert_user(user_id: int, fields: UserFields) -> UserUpserted:
    """Create or update a user. A changed batching period is reported, not acted on: the
    caller moves the pending notifications in the same transaction."""
    given = _given(fields)
    with transaction.atomic():
        user = _locked(UserProfile, user_id)
        created = user is None
        if user is None:
            _require_for_creation(given, ("realm_id", "email", "full_name"), "user")
            user = UserProfile(id=user_id)
        previous_period = user.email_notifications_batching_period_seconds
        if fields.realm_id is not None:
            _check_realm(
                fields.realm_id, current_realm_id=None if created else user.realm_id, what="user"
            )
        for name, value in given.items():
            setattr(user, name, value)
        user.save(force_insert=created)
    return UserUpserted(
        user_id,
        created,
        previous_batching_period_seconds=previous_period,
        batching_period_seconds=user.email_notifications_batching_period_seconds,
    )


def upsert_stream(stream_id: int, fields: StreamFields) -> Upserted:
    given = _given(fields)
    with transaction.atomic():
        stream = _locked(Stream, stream_id)
        created = stream is None
        if stream is None:
            _require_for_creation(given, ("realm_id", "name"), "stream")
            stream = Stream(id=stream_id)
        if fields.realm_id is not None:
            _check_realm(
                fields.realm_id,
                current_realm_id=None if created else stream.realm_id,
                what="stream",
            )
        for name, value in given.items():
            setattr(stream, name, value)
        stream.save(force_insert=created)
    return Upserted(stream_id, created)


def upsert_user_group(group_id: int, fields: UserGroupFields) -> Upserted:
    """Create or update a group; `members` and `subgroups`, when given, replace the old sets."""
    given = _given(fields)
    with transaction.atomic():
        group = _locked(UserGroup, group_id)
        created = group is None
        if group is None:
            _require_for_creation(given, ("realm_id", "name", "members"), "user group")
            group = UserGroup(id=group_id)
        if fields.realm_id is not None:
            _check_realm(
                fields.realm_id,
                current_realm_id=None if created else group.realm_id,
                what="user group",
            )
        realm_id = fields.realm_id if fields.realm_id is not None else group.realm_id
        if fields.members is not None:
            _check_in_realm(UserProfile, "user", "members", fields.members, realm_id)
        if fields.subgroups is not None:
            _check_in_realm(UserGroup, "user group", "subgroups", fields.subgroups, realm_id)
            _check_no_cycle(group_id, fields.subgroups)
        if fields.name is not None:
            group.name = fields.name
        group.realm_id = realm_id
        group.save(force_insert=created)
        if fields.members is not None:
            group.members.set(sorted(set(fields.members)))
        if fields.subgroups is not None:
            group.subgroups.set(sorted(set(fields.subgroups)))
    return Upserted(group_id, created)


def _check_in_realm(
    model: type[UserProfile] | type[UserGroup],
    noun: str,
    field_name: str,
    ids: Sequence[int],
    realm_id: int,
) -> None:
    realms = dict(model.objects.filter(id__in=set(ids)).values_list("id", "realm_id"))
    for index, object_id in enumerate(ids):
        if object_id not in realms:
            raise WriteError(
                f"{field_name}[{index}]", f"unknown {noun} {object_id}", ErrorCode.UNKNOWN_REFERENCE
            )
        if realms[object_id] != realm_id:
            raise WriteError(
                f"{field_name}[{index}]",
                f"{noun} {object_id} is not in realm {realm_id}",
                ErrorCode.UNKNOWN_REFERENCE,
            )


def _check_no_cycle(group_id: int, subgroup_ids: Sequence[int]) -> None:
    """Membership is recursive (behaviour §2), so a cycle would make it infinite."""
    edges = UserGroup.subgroups.through.objects
    frontier = set(subgroup_ids)
    seen: set[int] = set()
    # One query per level of nesting; group hierarchies are shallow.
    while frontier:
        if group_id in frontier:
            raise WriteError(
                "subgroups", f"user group {group_id} would become a subgroup of itself"
            )
        seen |= frontier
        frontier = (
            set(
                edges.filter(from_usergroup_id__in=frontier).values_list(
                    "to_usergroup_id", flat=True
                )
            )
            - seen
        )


# --- messages ----------------------------------------------------------------------------


class RecipientData(NamedTuple):
    # A named tuple, not a dataclass: a batch holds thousands, and building frozen
    # dataclasses (and their __dict__s, which the garbage collector then walks) showed in
    # profiles of POST /api/v1/messages.
    user_id: int
    flags: int  # UserMessageFlag bits


@dataclass(frozen=True, slots=True)
class MessageData:
    """One message as the host sends it. `topic` is "" and `stream_id` None for a DM;
    `to` lists the DM participants other than the sender (empty for a stream message)."""

    id: int
    realm_id: int
    sender_id: int
    type: MessageType
    content: str
    rendered_content: str | None
    date_sent: datetime
    recipients: tuple[RecipientData, ...]
    stream_id: int | None = None
    topic: str = ""
    to: tuple[int, ...] = ()

    @property
    def participant_ids(self) -> list[int]:
        return sorted({self.sender_id, *self.to})


class _Changeable(NamedTuple):
    """The fields a re-post may change (`_check_unchanged` refuses the others), in the order
    of `_MESSAGE_UPDATED_FIELDS`: compared as a whole to skip rewriting unchanged messages."""

    stream_id: int | None
    topic: str
    content: str
    rendered_content: str | None
    date_sent: datetime


@dataclass(frozen=True, slots=True)
class _StoredMessage:
    """A message already stored: its immutable fields (what a re-post may not change) and
    its current values of the others."""

    realm_id: int
    sender_id: int
    type: str
    conversation_id: int | None
    changeable: _Changeable


@dataclass
class _References:
    """Everything a batch of messages points at, fetched in a few queries."""

    realms: set[int] = field(default_factory=set)
    user_realms: dict[int, int] = field(default_factory=dict)
    stream_realms: dict[int, int] = field(default_factory=dict)
    existing: dict[int, _StoredMessage] = field(default_factory=dict)
    existing_participants: dict[int, str] = field(default_factory=dict)


def store_messages(messages: Sequence[MessageData]) -> list[int]:
    """Store messages and who received them, all or nothing; returns their ids in order.

    Re-posting an id that exists is an idempotent upsert, so a host can retry a request whose
    response it lost: content, rendered_content, date_sent, the stream and topic and the
    recipients (with their flags) become what the request says. The realm, sender, type and
    DM participants of a message cannot change (`IMMUTABLE_FIELD`).

    Built for batches of a thousand: reads are a handful of raw queries, new rows go in
    with one bulk insert per table and changed rows with one keyed bulk UPDATE per table
    (`missedmail.core.bulk`), so a batch costs the same number of statements whatever its
    size. A re-posted message or recipient whose values are already stored is not written.
    """
    with transaction.atomic():
        refs = _fetch_references(messages)
        for index, message in enumerate(messages):
            try:
                _check_message(message, refs)
            except WriteError as error:
                raise MessageWriteError(index, error) from None
        _check_unique_ids(messages)
        _write_messages(messages, refs)
    return [message.id for message in messages]


def _check_unique_ids(messages: Sequence[MessageData]) -> None:
    seen: set[int] = set()
    for index, message in enumerate(messages):
        if message.id in seen:
            raise MessageWriteError(
                index, WriteError("id", f"message {message.id} appears twice in this request")
            )
        seen.add(message.id)


def _fetch_references(messages: Sequence[MessageData]) -> _References:
    user_ids: set[int] = set()
    for message in messages:
        user_ids.add(message.sender_id)
        user_ids.update(message.to)
        user_ids.update(recipient.user_id for recipient in message.recipients)
    realm_ids = {message.realm_id for message in messages}
    stream_ids = {message.stream_id for message in messages if message.stream_id is not None}
    refs = _References()
    if not messages:
        return refs
    # Locked, so two requests upserting the same message serialise instead of racing.
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    m = Message
    # The changeable values are read too (an empty result for new messages), so that
    # `_write_messages` rewrites only the messages a re-post changes.
    refs.existing = {
        message_id: _StoredMessage(
            realm_id,
            sender_id,
            kind,
            conversation_id,
            _Changeable(stream_id, topic, content, rendered, bulk.aware(date_sent)),
        )
        for (
            message_id,
            realm_id,
            sender_id,
            kind,
            conversation_id,
            stream_id,
            topic,
            content,
            rendered,
            date_sent,
        ) in bulk.fetch(
            f"SELECT id, {bulk.column(m, 'realm')}, {bulk.column(m, 'sender')}, "  # noqa: S608
            f"{bulk.column(m, 'type')}, {bulk.column(m, 'conversation')}, "
            f"{bulk.column(m, 'stream')}, {bulk.column(m, 'topic')}, "
            f"{bulk.column(m, 'content')}, {bulk.column(m, 'rendered_content')}, "
            f"{bulk.utc_wall_time(bulk.column(m, 'date_sent'))} FROM {bulk.table(m)} "
            f"WHERE id IN ({bulk.sql_ids({message.id for message in messages})}) "
            f"ORDER BY id{lock}"
        )
    }
    conversation_ids = {m.conversation_id for m in refs.existing.values() if m.conversation_id}
    if conversation_ids:
        participants = dict(
            DirectConversation.objects.filter(id__in=conversation_ids).values_list(
                "id", "participants_key"
            )
        )
        refs.existing_participants = {
            message_id: participants[row.conversation_id]
            for message_id, row in refs.existing.items()
            if row.conversation_id is not None
        }
    refs.realms = {
        row[0]
        for row in bulk.fetch(
            f"SELECT id FROM {bulk.table(Realm)} WHERE id IN ({bulk.sql_ids(realm_ids)})"  # noqa: S608
        )
    }
    if user_ids:
        refs.user_realms = _realms_of(UserProfile, user_ids)
    if stream_ids:
        refs.stream_realms = _realms_of(Stream, stream_ids)
    return refs


def _realms_of(model: type[UserProfile] | type[Stream], ids: Iterable[int]) -> dict[int, int]:
    return dict(
        bulk.fetch(
            f"SELECT id, {bulk.column(model, 'realm')} FROM {bulk.table(model)} "  # noqa: S608
            f"WHERE id IN ({bulk.sql_ids(ids)})"
        )
    )


def _check_user(refs: _References, field_name: str, user_id: int, realm_id: int) -> None:
    user_realm = refs.user_realms.get(user_id)
    if user_realm is None:
        raise WriteError(field_name, f"unknown user {user_id}", ErrorCode.UNKNOWN_REFERENCE)
    if user_realm != realm_id:
        raise WriteError(
            field_name, f"user {user_id} is not in realm {realm_id}", ErrorCode.UNKNOWN_REFERENCE
        )


def _check_message(message: MessageData, refs: _References) -> None:
    realm_id = message.realm_id
    if realm_id not in refs.realms:
        raise WriteError("realm_id", f"unknown realm {realm_id}", ErrorCode.UNKNOWN_REFERENCE)
    _check_user(refs, "sender_id", message.sender_id, realm_id)
    if message.stream_id is not None:
        stream_realm = refs.stream_realms.get(message.stream_id)
        if stream_realm is None:
            raise WriteError(
                "stream_id", f"unknown stream {message.stream_id}", ErrorCode.UNKNOWN_REFERENCE
            )
        if stream_realm != realm_id:
            raise WriteError(
                "stream_id",
                f"stream {message.stream_id} is not in realm {realm_id}",
                ErrorCode.UNKNOWN_REFERENCE,
            )
    for index, user_id in enumerate(message.to):
        _check_user(refs, f"to[{index}]", user_id, realm_id)
    user_realms = refs.user_realms
    seen: set[int] = set()
    for index, recipient in enumerate(message.recipients):
        user_id = recipient.user_id
        # The field path is built only for an error: a thousand messages have thousands of
        # recipients, and formatting each path showed in profiles.
        if user_realms.get(user_id) != realm_id:
            _check_user(refs, f"recipients[{index}].user_id", user_id, realm_id)  # raises
        if user_id in seen:
            raise WriteError(f"recipients[{index}].user_id", f"user {user_id} is listed twice")
        seen.add(user_id)
    existing = refs.existing.get(message.id)
    if existing is not None:
        _check_unchanged(message, existing, refs.existing_participants.get(message.id))


def _check_unchanged(
    message: MessageData, existing: _StoredMessage, participants: str | None
) -> None:
    def refuse(field_name: str, old: object, new: object) -> WriteError:
        return WriteError(
            field_name,
            f"message {message.id} exists with {field_name} {old}; it cannot change to {new}",
            ErrorCode.IMMUTABLE_FIELD,
        )

    if existing.realm_id != message.realm_id:
        raise refuse("realm_id", existing.realm_id, message.realm_id)
    if existing.sender_id != message.sender_id:
        raise refuse("sender_id", existing.sender_id, message.sender_id)
    if existing.type != message.type:
        raise refuse("type", existing.type, message.type)
    if participants is not None and participants != participants_key(message.participant_ids):
        raise WriteError(
            "to",
            f"message {message.id} exists with other participants; they cannot change",
            ErrorCode.IMMUTABLE_FIELD,
        )


_MESSAGE_FIELDS = (
    "id",
    "realm",
    "sender",
    "type",
    "stream",
    "topic",
    "conversation",
    "content",
    "rendered_content",
    "date_sent",
)
# What a re-post may change, in `_Changeable`'s order; the other fields are checked
# unchanged (`_check_unchanged`).
_MESSAGE_UPDATED_FIELDS = ("stream", "topic", "content", "rendered_content", "date_sent")


def _write_messages(messages: Sequence[MessageData], refs: _References) -> None:
    conversations: dict[str, int] = {}
    new_rows: list[tuple[object, ...]] = []
    changed_rows: list[tuple[object, ...]] = []
    for message in messages:
        stored = refs.existing.get(message.id)
        if stored is not None:
            # Its conversation is stored already and cannot change (`_check_unchanged`).
            wanted = _Changeable(
                message.stream_id,
                message.topic,
                message.content,
                message.rendered_content,
                message.date_sent,
            )
            if wanted != stored.changeable:
                changed_rows.append((message.id, *wanted))
            continue
        conversation_id = None
        if message.type == MessageType.DIRECT:
            key = participants_key(message.participant_ids)
            if key not in conversations:
                conversations[key] = direct_conversation(
                    message.realm_id, message.participant_ids
                ).id
            conversation_id = conversations[key]
        new_rows.append(
            (
                message.id,
                message.realm_id,
                message.sender_id,
                message.type.value,
                message.stream_id,
                message.topic,
                conversation_id,
                message.content,
                message.rendered_content,
                message.date_sent,
            )
        )
    bulk.insert_rows(Message, _MESSAGE_FIELDS, new_rows)
    bulk.update_rows(Message, _MESSAGE_UPDATED_FIELDS, changed_rows)
    _write_recipients(messages, refs.existing.keys())


def _write_recipients(messages: Sequence[MessageData], existing_ids: Collection[int]) -> None:
    # (message, user) -> (row id, flags) of the recipients stored for re-posted messages.
    current: dict[tuple[int, int], tuple[int, int]] = {}
    if existing_ids:
        um = UserMessage
        current = {
            (message_id, user_id): (row_id, flags)
            for row_id, message_id, user_id, flags in bulk.fetch(
                f"SELECT id, {bulk.column(um, 'message')}, {bulk.column(um, 'user')}, "  # noqa: S608
                f"{bulk.column(um, 'flags')} FROM {bulk.table(um)} "
                f"WHERE {bulk.column(um, 'message')} IN ({bulk.sql_ids(existing_ids)})"
            )
        }
    new_rows: list[tuple[object, ...]] = []
    changed_flags: list[tuple[int, int]] = []  # (row id, flags)
    wanted: set[tuple[int, int]] = set()
    for message in messages:
        for recipient in message.recipients:
            key = (message.id, recipient.user_id)
            wanted.add(key)
            stored = current.get(key)
            if stored is None:
                new_rows.append((recipient.user_id, message.id, recipient.flags))
            elif stored[1] != recipient.flags:
                changed_flags.append((stored[0], recipient.flags))
    stale = [row_id for key, (row_id, _flags) in current.items() if key not in wanted]
    bulk.insert_rows(UserMessage, ("user", "message", "flags"), new_rows)
    bulk.update_rows(UserMessage, ("flags",), changed_flags)
    if stale:
        UserMessage.objects.filter(id__in=stale).delete()


@dataclass(frozen=True)
class MessageEdit:
    """A message edit. Giving `content` without `rendered_content` clears the host's HTML:
    it was rendered from the old content and would contradict the new one."""

    content: str | None = None
    topic: str | None = None
    rendered_content: str | None = None
    rendered_content_given: bool = False


def edit_message(message_id: int, edit: MessageEdit) -> None:
    with transaction.atomic():
        message = _locked(Message, message_id)
        if message is None:
            raise NotFound(f"message {message_id}")
        if edit.topic is not None:
            if message.type == MessageType.DIRECT and edit.topic:
                raise WriteError("topic", "direct messages have no topic")
            message.topic = edit.topic
        if edit.content is not None:
            message.content = edit.content
            message.rendered_content = None
        if edit.rendered_content_given:
            message.rendered_content = edit.rendered_content
        message.save(update_fields=["topic", "content", "rendered_content"])


def delete_message(message_id: int, *, now: datetime) -> None:
    """Delete a message, leaving a tombstone so later events about it are skipped as
    "deleted" rather than rejected as unknown (behaviour §3.1)."""
    with transaction.atomic():
        if not Message.objects.filter(id=message_id).exists():
            raise NotFound(f"message {message_id}")
        DeletedMessage.objects.update_or_create(id=message_id, defaults={"deleted_at": now})
        Message.objects.filter(id=message_id).delete()


# --- per-user flags ----------------------------------------------------------------------


@dataclass(frozen=True)
class FlagChange:
    applied: list[int]  # the messages the user received: their flag now has the asked state
    ignored: list[int]  # unknown messages, or ones the user did not receive


def change_flags(user_id: int, *, add: bool, bit: int, message_ids: Sequence[int]) -> FlagChange:
    """Set or clear one flag on many of a user's messages, in one UPDATE."""
    with transaction.atomic():
        if not UserProfile.objects.filter(id=user_id).exists():
            raise WriteError("user_id", f"unknown user {user_id}", ErrorCode.UNKNOWN_REFERENCE)
        rows = UserMessage.objects.filter(user_id=user_id, message_id__in=set(message_ids))
        received = set(rows.values_list("message_id", flat=True))
        # Bitwise in SQL, so a concurrent change of another flag on the same row is kept.
        flags = models.F("flags").bitor(bit) if add else models.F("flags").bitand(~bit)
        rows.update(flags=flags)
    return FlagChange(
        applied=[i for i in dict.fromkeys(message_ids) if i in received],
        ignored=[i for i in dict.fromkeys(message_ids) if i not in received],
    )


# --- unsubscribe -------------------------------------------------------------------------


def turn_off_missed_message_emails(user_id: int) -> bool:
    """The one-click unsubscribe (RFC 8058). False if the user does not exist."""
    updated = UserProfile.objects.filter(id=user_id).update(
        enable_offline_email_notifications=False
    )
    if updated:
        logger.info("action=unsubscribed user_id=%d", user_id)
    return bool(updated)
