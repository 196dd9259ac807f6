"""Building the host's data for tests: a small Shakespearean organisation, as in Zulip's
test suite, plus helpers for messages and their recipients."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count

from missedmail.core.conversations import direct_conversation
from missedmail.core.models import (
    Message,
    MessageType,
    Realm,
    Stream,
    UserGroup,
    UserMessage,
    UserMessageFlag,
    UserProfile,
)

_ids = count(1000)


def next_id() -> int:
    return next(_ids)


def make_realm(
    realm_id: int = 1,
    name: str = "Zulip Dev",
    url: str = "https://chat.example.com",
    **fields: object,
) -> Realm:
    return Realm.objects.create(id=realm_id, name=name, url=url, **fields)


def make_user(
    realm: Realm, user_id: int, full_name: str, email: str | None = None, **fields: object
) -> UserProfile:
    if email is None:
        email = full_name.split(",")[0].split()[0].lower() + "@example.com"
    return UserProfile.objects.create(
        id=user_id, realm=realm, full_name=full_name, email=email, **fields
    )


def make_stream(realm: Realm, stream_id: int, name: str) -> Stream:
    return Stream.objects.create(id=stream_id, realm=realm, name=name)


def make_group(
    realm: Realm,
    group_id: int,
    name: str,
    members: Iterable[UserProfile] = (),
    subgroups: Iterable[UserGroup] = (),
) -> UserGroup:
    group = UserGroup.objects.create(id=group_id, realm=realm, name=name)
    group.members.set(list(members))
    group.subgroups.set(list(subgroups))
    return group


def _recipients(
    message: Message, recipients: Sequence[UserProfile], flags: dict[int, Iterable[str]]
) -> None:
    rows = []
    for user in recipients:
        bits = 0
        for name in flags.get(user.id, ()):
            bits |= UserMessageFlag.BY_NAME[name]
        rows.append(UserMessage(user=user, message=message, flags=bits))
    UserMessage.objects.bulk_create(rows)


def stream_message(
    sender: UserProfile,
    stream: Stream,
    topic: str,
    content: str,
    recipients: Sequence[UserProfile],
    *,
    message_id: int | None = None,
    date_sent: datetime | None = None,
    flags: dict[int, Iterable[str]] | None = None,
    rendered_content: str | None = None,
) -> Message:
    message = Message.objects.create(
        id=message_id or next_id(),
        realm_id=sender.realm_id,
        sender=sender,
        type=MessageType.STREAM,
        stream=stream,
        topic=topic,
        content=content,
        rendered_content=rendered_content,
        date_sent=date_sent or datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
    )
    _recipients(message, recipients, flags or {})
    return message


def direct_message(
    sender: UserProfile,
    to: Sequence[UserProfile],
    content: str,
    *,
    message_id: int | None = None,
    date_sent: datetime | None = None,
    flags: dict[int, Iterable[str]] | None = None,
    rendered_content: str | None = None,
) -> Message:
    """A DM from `sender` to `to` (every other participant); all participants receive it."""
    participants = [sender, *to]
    message = Message.objects.create(
        id=message_id or next_id(),
        realm_id=sender.realm_id,
        sender=sender,
        type=MessageType.DIRECT,
        conversation=direct_conversation(sender.realm_id, (u.id for u in participants)),
        content=content,
        rendered_content=rendered_content,
        date_sent=date_sent or datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
    )
    unique = list({u.id: u for u in participants}.values())
    _recipients(message, unique, flags or {})
    return message


@dataclass
class Org:
    realm: Realm
    hamlet: UserProfile
    othello: UserProfile
    iago: UserProfile
    cordelia: UserProfile
    prospero: UserProfile
    denmark: Stream
    verona: Stream

    @property
    def everyone(self) -> list[UserProfile]:
        return [self.hamlet, self.othello, self.iago, self.cordelia, self.prospero]


def make_org() -> Org:
    """Realm 1 "Zulip Dev" with five users (ids 10..14) and streams Denmark (3), Verona (4)."""
    realm = make_realm()
    return Org(
        realm=realm,
        hamlet=make_user(realm, 10, "King Hamlet", "hamlet@example.com"),
        othello=make_user(realm, 11, "Othello, the Moor of Venice", "othello@example.com"),
        iago=make_user(realm, 12, "Iago", "iago@example.com"),
        cordelia=make_user(realm, 13, "Cordelia, Lear's daughter", "cordelia@example.com"),
        prospero=make_user(realm, 14, "Prospero from The Tempest", "prospero@example.com"),
        denmark=make_stream(realm, 3, "Denmark"),
        verona=make_stream(realm, 4, "Verona"),
    )
