"""Where composition reads the database from.

`compose_user_batch` asks a `BatchData` for everything it reads. Two kinds answer:

- `DirectData` queries for each request: a fixed handful of queries per user's batch. Used
  when a batch is composed on its own (tests, the Zulip-style benchmark baseline) and by the
  batcher when a pass could not preload.
- `PreloadedData` answers from what `preload.py` loaded in bulk for a whole batcher pass, so
  a pass costs a fixed number of queries whatever the number of users.

Both answer from the same functions in `loading.py`, which give every key the same answer
whatever other keys they are asked with: a preloaded answer is the direct one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Protocol, TypeVar

from django.db import transaction

from missedmail.composing.context import ContextWindow
from missedmail.composing.loading import (
    ContextRequest,
    UserMessagePair,
    load_context_candidates,
    load_flags,
    load_groups,
    load_messages,
    load_people,
    load_readers,
    load_shared_addresses,
    load_stream_ids,
)
from missedmail.composing.mentions import GroupInfo
from missedmail.core.models import Message, UserProfile

logger = logging.getLogger(__name__)

T = TypeVar("T")


class BatchData(Protocol):
    # True when answering may run queries outside a savepoint: the batcher then composes
    # each user in a savepoint of their own, so that one user's failed query cannot abort
    # the pass's transaction (PostgreSQL refuses every later statement after an error).
    queries_per_user: bool

    def reader(self, user_id: int) -> UserProfile | None: ...

    def messages(self, message_ids: Collection[int]) -> dict[int, Message]:
        """The messages that still exist, with their stream and conversation."""
        ...

    def flags(self, user_id: int, message_ids: Collection[int]) -> dict[int, int]:
        """The reader's flags by message id; a missing key means they did not receive it."""
        ...

    def context_candidates(self, user_id: int, windows: Sequence[ContextWindow]) -> list[Message]:
        """Messages in any of the windows that the reader received, content not deleted."""
        ...

    def people(self, user_ids: Collection[int]) -> dict[int, UserProfile]: ...

    def groups(self, realm_id: int, group_ids: Collection[int]) -> dict[int, GroupInfo]: ...

    def stream_ids(self, realm_id: int, lowered_names: Collection[str]) -> dict[str, int]: ...

    def address_is_shared(self, user: UserProfile) -> bool: ...


def _flags_of(found: dict[UserMessagePair, int]) -> dict[int, int]:
    return {message_id: flags for (_, message_id), flags in found.items()}


def _union(
    found: dict[ContextRequest, list[Message]], requests: Iterable[ContextRequest]
) -> list[Message]:
    """The messages of several windows, each once (a message may lie in two windows)."""
    unique: dict[int, Message] = {}
    for request in requests:
        for message in found.get(request, ()):
            unique.setdefault(message.id, message)
    return list(unique.values())


def _of_realm(
    groups: dict[int, tuple[int, GroupInfo]], realm_id: int, group_ids: Iterable[int]
) -> dict[int, GroupInfo]:
    """The reader's realm's groups: a group id of another realm is as good as unknown."""
    kept: dict[int, GroupInfo] = {}
    for group_id in group_ids:
        found = groups.get(group_id)
        if found is not None and found[0] == realm_id:
            kept[group_id] = found[1]
    return kept


def _named(stream_ids: dict[str, int], lowered_names: Iterable[str]) -> dict[str, int]:
    return {name: stream_ids[name] for name in lowered_names if name in stream_ids}


class DirectData:
    """A few queries per user's batch: each request is a query (none when it is empty)."""

    queries_per_user = True

    def reader(self, user_id: int) -> UserProfile | None:
        return load_readers([user_id]).get(user_id)

    def messages(self, message_ids: Collection[int]) -> dict[int, Message]:
        return load_messages(message_ids)

    def flags(self, user_id: int, message_ids: Collection[int]) -> dict[int, int]:
        return _flags_of(load_flags([(user_id, message_id) for message_id in message_ids]))

    def context_candidates(self, user_id: int, windows: Sequence[ContextWindow]) -> list[Message]:
        requests = [(user_id, window) for window in windows]
        return _union(load_context_candidates(requests), requests)

    def people(self, user_ids: Collection[int]) -> dict[int, UserProfile]:
        return load_people(user_ids)

    def groups(self, realm_id: int, group_ids: Collection[int]) -> dict[int, GroupInfo]:
        return _of_realm(load_groups(group_ids), realm_id, group_ids)

    def stream_ids(self, realm_id: int, lowered_names: Collection[str]) -> dict[str, int]:
        if not lowered_names:
            return {}
        return _named(load_stream_ids([realm_id])[realm_id], lowered_names)

    def address_is_shared(self, user: UserProfile) -> bool:
        return load_shared_addresses([user.id]).get(user.id, False)


class PreloadedData:
    """A pass's reads, made in bulk by `preload.py` before any user is composed.

    Every request is answered from what was loaded. A request for anything that was not
    loaded (the preload and the composer disagree: a bug, which the query-count tests are
    there to catch) is still answered correctly, by a direct query in a savepoint, and
    counted in `misses`.
    """

    queries_per_user = False

    def __init__(self) -> None:
        # Keys that were looked up; None: looked up, and there is none.
        self._readers: dict[int, UserProfile | None] = {}
        self._messages: dict[int, Message | None] = {}
        self._flags: dict[UserMessagePair, int | None] = {}
        self._candidates: dict[ContextRequest, list[Message]] = {}
        self._people: dict[int, UserProfile | None] = {}
        self._groups: dict[int, tuple[int, GroupInfo] | None] = {}
        self._stream_ids: dict[int, dict[str, int]] = {}
        self._shared: dict[int, bool] = {}
        self._direct = DirectData()
        self.misses = 0

    # Loading, by preload.py: one bulk query each (none when there is nothing new to load).

    def load_readers(self, user_ids: Iterable[int]) -> None:
        wanted = {user_id for user_id in user_ids if user_id not in self._readers}
        found = load_readers(wanted)
        self._readers.update((user_id, found.get(user_id)) for user_id in wanted)

    def load_messages(self, message_ids: Iterable[int]) -> None:
        wanted = {message_id for message_id in message_ids if message_id not in self._messages}
        found = load_messages(wanted)
        self._messages.update((message_id, found.get(message_id)) for message_id in wanted)

    def load_flags(self, pairs: Iterable[UserMessagePair]) -> None:
        wanted = {pair for pair in pairs if pair not in self._flags}
        found = load_flags(wanted)
        self._flags.update((pair, found.get(pair)) for pair in wanted)

    def load_context_candidates(self, requests: Iterable[ContextRequest]) -> None:
        wanted = {request for request in requests if request not in self._candidates}
        self._candidates.update(load_context_candidates(wanted))

    def load_people(self, user_ids: Iterable[int]) -> None:
        wanted = {user_id for user_id in user_ids if user_id not in self._people}
        found = load_people(wanted)
        self._people.update((user_id, found.get(user_id)) for user_id in wanted)

    def load_groups(self, group_ids: Iterable[int]) -> None:
        wanted = {group_id for group_id in group_ids if group_id not in self._groups}
        found = load_groups(wanted)
        self._groups.update((group_id, found.get(group_id)) for group_id in wanted)

    def load_stream_ids(self, realm_ids: Iterable[int]) -> None:
        wanted = {realm_id for realm_id in realm_ids if realm_id not in self._stream_ids}
        self._stream_ids.update(load_stream_ids(wanted))

    def load_shared_addresses(self, user_ids: Iterable[int]) -> None:
        wanted = {user_id for user_id in user_ids if user_id not in self._shared}
        found = load_shared_addresses(wanted)
        self._shared.update((user_id, found.get(user_id, False)) for user_id in wanted)

    # Answering, for compose_user_batch.

    def reader(self, user_id: int) -> UserProfile | None:
        if user_id in self._readers:
            return self._readers[user_id]
        return self._miss("reader", lambda direct: direct.reader(user_id))

    def messages(self, message_ids: Collection[int]) -> dict[int, Message]:
        if all(message_id in self._messages for message_id in message_ids):
            return {
                message_id: message
                for message_id in message_ids
                if (message := self._messages[message_id]) is not None
            }
        return self._miss("messages", lambda direct: direct.messages(message_ids))

    def flags(self, user_id: int, message_ids: Collection[int]) -> dict[int, int]:
        pairs = [(user_id, message_id) for message_id in message_ids]
        if all(pair in self._flags for pair in pairs):
            found: dict[int, int] = {}
            for pair in pairs:
                flags = self._flags[pair]
                if flags is not None:
                    found[pair[1]] = flags
            return found
        return self._miss("flags", lambda direct: direct.flags(user_id, message_ids))

    def context_candidates(self, user_id: int, windows: Sequence[ContextWindow]) -> list[Message]:
        requests = [(user_id, window) for window in windows]
        if all(request in self._candidates for request in requests):
            return _union(self._candidates, requests)
        return self._miss("context", lambda direct: direct.context_candidates(user_id, windows))

    def people(self, user_ids: Collection[int]) -> dict[int, UserProfile]:
        if all(user_id in self._people for user_id in user_ids):
            return {
                user_id: person
                for user_id in user_ids
                if (person := self._people[user_id]) is not None
            }
        return self._miss("people", lambda direct: direct.people(user_ids))

    def groups(self, realm_id: int, group_ids: Collection[int]) -> dict[int, GroupInfo]:
        if all(group_id in self._groups for group_id in group_ids):
            known = {
                group_id: found
                for group_id in group_ids
                if (found := self._groups[group_id]) is not None
            }
            return _of_realm(known, realm_id, group_ids)
        return self._miss("groups", lambda direct: direct.groups(realm_id, group_ids))

    def stream_ids(self, realm_id: int, lowered_names: Collection[str]) -> dict[str, int]:
        if not lowered_names:
            return {}
        if realm_id in self._stream_ids:
            return _named(self._stream_ids[realm_id], lowered_names)
        return self._miss("streams", lambda direct: direct.stream_ids(realm_id, lowered_names))

    def address_is_shared(self, user: UserProfile) -> bool:
        if user.id in self._shared:
            return self._shared[user.id]
        return self._miss("address", lambda direct: direct.address_is_shared(user))

    def _miss(self, kind: str, read: Callable[[DirectData], T]) -> T:
        self.misses += 1
        logger.warning("action=preload_miss kind=%s", kind)
        # The batcher composes preloaded users outside any savepoint: this query needs its
        # own, so that its failure fails this user only.
        with transaction.atomic():
            return read(self._direct)
