"""Every database read the composer makes, in bulk: a batch costs the same handful of
queries whether it holds one message or a thousand (the composer's query-count test
holds this). The rest of the package works on what these functions return.
"""

from __future__ import annotations

import operator
from collections.abc import Collection, Sequence
from functools import reduce

from django.db import connection
from django.db.models import CharField, Exists, OuterRef, Q, Value
from django.db.models.functions import Lower

from missedmail.composing.context import ContextWindow
from missedmail.composing.filtering import DELETED_CONTENT
from missedmail.composing.mentions import GroupInfo
from missedmail.core.models import Message, Stream, UserGroup, UserMessage, UserProfile


def load_reader(user_id: int) -> UserProfile | None:
    return UserProfile.objects.select_related("realm").filter(id=user_id).first()


def load_messages(message_ids: Collection[int]) -> dict[int, Message]:
    """The messages that still exist, with what bucketing needs (stream, conversation)."""
    if not message_ids:
        return {}
    rows = Message.objects.select_related("stream", "conversation").filter(id__in=message_ids)
    return {message.id: message for message in rows}


def load_flags(user_id: int, message_ids: Collection[int]) -> dict[int, int]:
    """The reader's flags by message id; a missing key means they did not receive it."""
    if not message_ids:
        return {}
    rows = UserMessage.objects.filter(user_id=user_id, message_id__in=message_ids)
    return dict(rows.values_list("message_id", "flags"))


def load_context_candidates(user_id: int, windows: Sequence[ContextWindow]) -> list[Message]:
    """Messages in any of the windows that the reader received, content not deleted; only
    the columns the context rule reads.

    Topics are not compared in SQL: SQLite's LOWER() folds ASCII only, while buckets use
    Python's str.lower(), so an SQL comparison would miss "Ärger" vs "ärger" on SQLite. The
    windows are 15 minutes of one stream each, so the over-fetch is small."""
    if not windows:
        return []
    in_a_window = reduce(
        operator.or_,
        (
            Q(
                stream_id=window.stream_id,
                id__lt=window.before_id,
                date_sent__gt=window.after,
                date_sent__lte=window.until,
            )
            for window in windows
        ),
    )
    received = UserMessage.objects.filter(user_id=user_id, message_id=OuterRef("pk"))
    rows = (
        Message.objects.filter(in_a_window)
        .filter(Exists(received))
        .exclude(content=DELETED_CONTENT)
        .only("id", "stream_id", "topic", "date_sent")
    )
    return list(rows)


def load_people(user_ids: Collection[int]) -> dict[int, UserProfile]:
    """Senders and DM participants, for their names."""
    if not user_ids:
        return {}
    rows = UserProfile.objects.filter(id__in=user_ids).only("id", "full_name")
    return {user.id: user for user in rows}


def load_groups(realm_id: int, group_ids: Collection[int]) -> dict[int, GroupInfo]:
    """Names and recursive member counts of the realm's groups among `group_ids`, in one
    recursive query. UNION (not UNION ALL) drops rows already reached, so a cycle of
    subgroups ends the recursion instead of looping."""
    if not group_ids:
        return {}
    group_table = UserGroup._meta.db_table
    subgroups = UserGroup.subgroups.through._meta.db_table
    members = UserGroup.members.through._meta.db_table
    placeholders = ", ".join(["%s"] * len(group_ids))
    # Only table names (from the models) and placeholders are formatted into the SQL; the
    # ids and the realm are parameters.
    sql = f"""
        WITH RECURSIVE reachable(root_id, group_id) AS (
            SELECT id, id FROM {group_table} WHERE realm_id = %s AND id IN ({placeholders})
            UNION
            SELECT reachable.root_id, edge.to_usergroup_id
            FROM reachable JOIN {subgroups} AS edge ON edge.from_usergroup_id = reachable.group_id
        )
        SELECT root.id, root.name, COUNT(DISTINCT member.userprofile_id)
        FROM reachable
        JOIN {group_table} AS root ON root.id = reachable.root_id
        LEFT JOIN {members} AS member ON member.usergroup_id = reachable.group_id
        GROUP BY root.id, root.name
    """  # noqa: S608 -- table names come from our models; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, [realm_id, *group_ids])
        rows = cursor.fetchall()
    return {
        int(group_id): GroupInfo(int(group_id), str(name), int(count))
        for group_id, name, count in rows
    }


def load_stream_ids(realm_id: int, lowered_names: Collection[str]) -> dict[str, int]:
    """Lower-cased stream name → id for the names messages link to (`#**stream**`).

    The realm's streams are matched in Python, for the same reason as the topics above;
    when two streams differ only in case, the older (lower id) one wins."""
    if not lowered_names:
        return {}
    wanted = set(lowered_names)
    ids: dict[str, int] = {}
    for stream_id, name in (
        Stream.objects.filter(realm_id=realm_id).order_by("id").values_list("id", "name")
    ):
        if name.lower() in wanted:
            ids.setdefault(name.lower(), stream_id)
    return ids


def address_is_shared(user: UserProfile) -> bool:
    """Whether the user's email address (case-insensitively) belongs to more than one
    active, non-bot user in non-deactivated realms: the "automatic" realm-name policy
    (behaviour §4.8) then names the realm in the subject."""
    same_address = (
        UserProfile.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower=Lower(Value(user.email, output_field=CharField())))
        .filter(is_active=True, is_bot=False, realm__deactivated=False)
    )
    return same_address[:2].count() > 1
