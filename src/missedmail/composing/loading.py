"""Every database read the composer makes, in bulk.

Each function takes the keys of many requests at once and answers every key the same way
whatever else it is asked with (a reader's flags do not depend on which other readers are
loaded beside them). So one call can serve a whole batcher pass (`preload.py`: a pass costs
the same dozen queries whether it composes one user or a thousand) or one user's batch
(`data.DirectData`: a batch costs the same handful of queries whether it holds one message or
a thousand), with the same results; the query-count tests hold both.

Pairs and windows are joined as a literal table (`VALUES (...), (...)`) rather than OR-ed
conditions: SQLite refuses an expression more than 1000 levels deep, and a pass's OR of one
condition per user would be one level per user. Long lists are split so that no statement
has more than `MAX_QUERY_PARAMETERS` parameters.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from django.db import connection
from django.db.models import Count, OuterRef, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower

from missedmail.composing.context import ContextWindow
from missedmail.composing.filtering import DELETED_CONTENT
from missedmail.composing.mentions import GroupInfo
from missedmail.core.bulk import sql_ids, sql_pairs
from missedmail.core.models import Message, Stream, UserGroup, UserMessage, UserProfile

# Below SQLite's default limit since 3.32 (32,766) and PostgreSQL's 65,535, so a pass of
# the default size (2,000 rows) is always a single statement per function.
MAX_QUERY_PARAMETERS = 30_000

T = TypeVar("T")

# What a query parameter may be here (the stubs' `_SQLType` is private).
SqlValue = int | str | datetime | None
ContextRequest = tuple[int, ContextWindow]  # (reader id, window)
UserMessagePair = tuple[int, int]  # (user id, message id)


def chunks(items: Sequence[T], parameters_each: int) -> Iterator[Sequence[T]]:
    size = max(1, MAX_QUERY_PARAMETERS // parameters_each)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def values_table(rows: Sequence[Sequence[SqlValue]]) -> tuple[str, list[SqlValue]]:
    """`(VALUES (%s, %s), ...)` and its parameters. Both PostgreSQL and SQLite name the
    columns column1, column2, ..."""
    width = len(rows[0])
    row_sql = "(" + ", ".join(["%s"] * width) + ")"
    params = [value for row in rows for value in row]
    return "(VALUES " + ", ".join([row_sql] * len(rows)) + ")", params


def inlined(ids: Sequence[int]) -> RawSQL:
    """`ids` as the right-hand side of an `__in` lookup, written into the SQL as integer
    literals (`core.bulk.sql_ids`, safe by construction) instead of one parameter each:
    the ORM prepares every parameter through its field and psycopg re-parses a statement
    of thousands of placeholders, which cost more than the query (a pass loads thousands
    of messages). Never empty: `chunks` yields no empty part."""
    return RawSQL(sql_ids(ids), ())  # noqa: S611 -- integer literals only, see above


def load_readers(user_ids: Collection[int]) -> dict[int, UserProfile]:
    """The users that exist among `user_ids`, with their realm."""
    ids = sorted(set(user_ids))
    found: dict[int, UserProfile] = {}
    for part in chunks(ids, 1):
        rows = UserProfile.objects.select_related("realm").filter(id__in=inlined(part))
        found.update((user.id, user) for user in rows)
    return found


def load_messages(message_ids: Collection[int]) -> dict[int, Message]:
    """The messages that still exist, with what bucketing needs (stream, conversation)."""
    ids = sorted(set(message_ids))
    found: dict[int, Message] = {}
    for part in chunks(ids, 1):
        rows = Message.objects.select_related("stream", "conversation").filter(id__in=inlined(part))
        found.update((message.id, message) for message in rows)
    return found


def load_flags(pairs: Collection[UserMessagePair]) -> dict[UserMessagePair, int]:
    """Flags of the (user, message) pairs that have a UserMessage row; a missing pair means
    the user did not receive the message."""
    table = UserMessage._meta.db_table
    found: dict[UserMessagePair, int] = {}
    for part in chunks(sorted(set(pairs)), 2):
        # The pairs are integer literals (`sql_pairs`, safe by construction; see `inlined`).
        sql = f"""
            SELECT um.user_id, um.message_id, um.flags
            FROM {table} AS um
            JOIN (VALUES {sql_pairs(part)}) AS wanted
              ON um.user_id = wanted.column1 AND um.message_id = wanted.column2
        """  # noqa: S608 -- the table name comes from our model; values are int literals
        with connection.cursor() as cursor:
            cursor.execute(sql)
            for user_id, message_id, flags in cursor.fetchall():
                found[(int(user_id), int(message_id))] = int(flags)
    return found


def load_context_candidates(
    requests: Collection[ContextRequest],
) -> dict[ContextRequest, list[Message]]:
    """For each (reader, window): the messages in the window that the reader received,
    content not deleted; only the columns the context rule reads.

    Topics are not compared in SQL: SQLite's LOWER() folds ASCII only, while buckets use
    Python's str.lower(), so an SQL comparison would miss "Ärger" vs "ärger" on SQLite. The
    windows are 15 minutes of one stream each, so the over-fetch is small."""
    ordered = list(dict.fromkeys(requests))
    found: dict[ContextRequest, list[Message]] = {request: [] for request in ordered}
    message_table = Message._meta.db_table
    received_table = UserMessage._meta.db_table
    offset = 0
    for part in chunks(ordered, 6):
        windows, params = values_table(
            [
                (
                    offset + n,
                    user_id,
                    window.stream_id,
                    window.before_id,
                    _datetime_parameter(window.after),
                    _datetime_parameter(window.until),
                )
                for n, (user_id, window) in enumerate(part)
            ]
        )
        # Only table names (from the models) and placeholders are formatted in.
        sql = f"""
            SELECT m.id, m.stream_id, m.topic, m.date_sent, w.column1 AS request_index
            FROM {windows} AS w
            JOIN {message_table} AS m
              ON m.stream_id = w.column3 AND m.id < w.column4
             AND m.date_sent > w.column5 AND m.date_sent <= w.column6
            JOIN {received_table} AS um ON um.user_id = w.column2 AND um.message_id = m.id
            WHERE m.content <> %s
        """  # noqa: S608 -- table names come from our models; every value is a parameter
        for message in Message.objects.raw(sql, [*params, DELETED_CONTENT]):
            # The extra column of a raw query becomes an attribute of the instance.
            found[ordered[int(getattr(message, "request_index"))]].append(message)  # noqa: B009
        offset += len(part)
    return found


def _datetime_parameter(value: datetime) -> SqlValue:
    """As the ORM would pass it: SQLite stores datetimes as text in one format (PostgreSQL
    takes the datetime itself, whatever the stubs say)."""
    adapted: SqlValue = connection.ops.adapt_datetimefield_value(value)
    return adapted


def load_people(user_ids: Collection[int]) -> dict[int, UserProfile]:
    """Senders and DM participants, for their names."""
    ids = sorted(set(user_ids))
    found: dict[int, UserProfile] = {}
    for part in chunks(ids, 1):
        rows = UserProfile.objects.filter(id__in=inlined(part)).only("id", "full_name")
        found.update((user.id, user) for user in rows)
    return found


def load_groups(group_ids: Collection[int]) -> dict[int, tuple[int, GroupInfo]]:
    """Realm, name and recursive member count of each existing group among `group_ids`, in
    one recursive query. UNION (not UNION ALL) drops rows already reached, so a cycle of
    subgroups ends the recursion instead of looping. The caller keeps the reader's realm's
    groups only."""
    group_table = UserGroup._meta.db_table
    subgroups = UserGroup.subgroups.through._meta.db_table
    members = UserGroup.members.through._meta.db_table
    found: dict[int, tuple[int, GroupInfo]] = {}
    for part in chunks(sorted(set(group_ids)), 1):
        placeholders = ", ".join(["%s"] * len(part))
        # Only table names (from the models) and placeholders are formatted into the SQL.
        sql = f"""
            WITH RECURSIVE reachable(root_id, group_id) AS (
                SELECT id, id FROM {group_table} WHERE id IN ({placeholders})
                UNION
                SELECT reachable.root_id, edge.to_usergroup_id
                FROM reachable
                JOIN {subgroups} AS edge ON edge.from_usergroup_id = reachable.group_id
            )
            SELECT root.id, root.realm_id, root.name, COUNT(DISTINCT member.userprofile_id)
            FROM reachable
            JOIN {group_table} AS root ON root.id = reachable.root_id
            LEFT JOIN {members} AS member ON member.usergroup_id = reachable.group_id
            GROUP BY root.id, root.realm_id, root.name
        """  # noqa: S608 -- table names come from our models; every value is a parameter
        with connection.cursor() as cursor:
            cursor.execute(sql, list(part))
            rows = cursor.fetchall()
        for group_id, realm_id, name, count in rows:
            found[int(group_id)] = (int(realm_id), GroupInfo(int(group_id), str(name), int(count)))
    return found


def load_stream_ids(realm_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """Per realm: lower-cased stream name → id, for the names messages link to
    (`#**stream**`).

    Names are lowered in Python, for the same reason as the topics above; when two streams
    differ only in case, the older (lower id) one wins."""
    found: dict[int, dict[str, int]] = {realm_id: {} for realm_id in realm_ids}
    for part in chunks(sorted(found), 1):
        rows = (
            Stream.objects.filter(realm_id__in=part)
            .order_by("id")
            .values_list("realm_id", "id", "name")
        )
        for realm_id, stream_id, name in rows:
            found[realm_id].setdefault(name.lower(), stream_id)
    return found


def load_shared_addresses(user_ids: Collection[int]) -> dict[int, bool]:
    """For each existing user: whether their email address (case-insensitively) belongs to
    more than one active, non-bot user in non-deactivated realms. The "automatic"
    realm-name policy (behaviour §4.8) then names the realm in the subject."""
    same_address = (
        UserProfile.objects.annotate(email_lower=Lower("email"))
        .filter(
            email_lower=OuterRef("email_lower"),
            is_active=True,
            is_bot=False,
            realm__deactivated=False,
        )
        .order_by()
        .values("email_lower")
        .annotate(accounts=Count("id"))
        .values("accounts")
    )
    found: dict[int, bool] = {}
    for part in chunks(sorted(set(user_ids)), 1):
        rows = (
            UserProfile.objects.filter(id__in=part)
            .annotate(email_lower=Lower("email"))
            .annotate(accounts=Subquery(same_address))
            .values_list("id", "accounts")
        )
        found.update((user_id, (accounts or 0) > 1) for user_id, accounts in rows)
    return found
