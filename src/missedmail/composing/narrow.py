"""Links into the chat web app (`#narrow/...`), encoded as Zulip encodes hash components."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote


def hash_component(text: str) -> str:
    """Zulip's encodeHashComponent: percent-encode, then write `%` as `.` (and `.` as `.2E`)."""
    return quote(text, safe="*").replace(".", "%2E").replace("%", ".")


def stream_slug(stream_id: int, stream_name: str) -> str:
    return f"{stream_id}-{hash_component(stream_name)}"


def stream_narrow(realm_url: str, stream_id: int, stream_name: str) -> str:
    return f"{realm_url}/#narrow/channel/{stream_slug(stream_id, stream_name)}"


def topic_narrow(
    realm_url: str, stream_id: int, stream_name: str, topic: str, near_message_id: int | None
) -> str:
    url = f"{stream_narrow(realm_url, stream_id, stream_name)}/topic/{hash_component(topic)}"
    return f"{url}/near/{near_message_id}" if near_message_id is not None else url


def dm_narrow(realm_url: str, sender_id: int, sender_full_name: str) -> str:
    """1:1 DM link (behaviour §4.6): the sender's id and name, spaces as `-`."""
    slug = hash_component(sender_full_name.replace(" ", "-"))
    return f"{realm_url}/#narrow/dm/{sender_id}-{slug}"


def group_dm_narrow(realm_url: str, other_participant_ids: Iterable[int]) -> str:
    ids = ",".join(str(i) for i in sorted(other_participant_ids))
    return f"{realm_url}/#narrow/dm/{ids}-group"


def settings_url(realm_url: str) -> str:
    return f"{realm_url}/#settings/notifications"
