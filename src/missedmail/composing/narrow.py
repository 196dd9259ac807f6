"""Links into the chat web app (`#narrow/...`), encoded as Zulip encodes hash components."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from urllib.parse import quote

from missedmail.composing.wellformed import well_formed

# Characters Zulip turns into "-" in a DM slug: space " % / < > ` (and control characters).
_DM_SLUG_SEPARATORS = frozenset(' "%/<>`')


def hash_component(text: str) -> str:
    """Zulip's encodeHashComponent: percent-encode everything, then write `%` as `.`
    (a literal `.` becomes `.2E` first), so "release plan" → "release.20plan"."""
    return quote(well_formed(text), safe="").replace(".", "%2E").replace("%", ".")


def stream_slug(stream_id: int, stream_name: str) -> str:
    """`99-Verona`: spaces in the name become `-` before encoding, as in Zulip."""
    return f"{stream_id}-{hash_component(stream_name.replace(' ', '-'))}"


def dm_slug(user_id: int, full_name: str) -> str:
    """`9-King-Hamlet`: runs of separators and control characters become one `-`."""
    out: list[str] = []
    for char in full_name.strip():
        if char in _DM_SLUG_SEPARATORS or unicodedata.category(char).startswith("C"):
            if not out or out[-1] != "-":
                out.append("-")
        else:
            out.append(char)
    return f"{user_id}-{''.join(out)}"


def stream_narrow(realm_url: str, stream_id: int, stream_name: str) -> str:
    return f"{realm_url}/#narrow/channel/{stream_slug(stream_id, stream_name)}"


def topic_narrow(
    realm_url: str, stream_id: int, stream_name: str, topic: str, near_message_id: int | None
) -> str:
    url = f"{stream_narrow(realm_url, stream_id, stream_name)}/topic/{hash_component(topic)}"
    return f"{url}/near/{near_message_id}" if near_message_id is not None else url


def dm_narrow(realm_url: str, sender_id: int, sender_full_name: str) -> str:
    """1:1 DM link (behaviour §4.6): the sender's id and name, spaces as `-`."""
    return f"{realm_url}/#narrow/dm/{dm_slug(sender_id, sender_full_name)}"


def group_dm_narrow(realm_url: str, other_participant_ids: Iterable[int]) -> str:
    ids = ",".join(str(i) for i in sorted(other_participant_ids))
    return f"{realm_url}/#narrow/dm/{ids}-group"


def settings_url(realm_url: str) -> str:
    return f"{realm_url}/#settings/notifications"
