"""Rendering ahead: a pending notification's messages rendered into the render cache before
the notification falls due, so that composing its email at the due time finds them there.

A notification waits its batching period (minutes) while the worker is mostly idle, then a
whole organisation's worth can fall due at once; rendering the Markdown is half of what
composing costs (docs/performance.md). Done ahead, in the idle time, that half is off the
path between the due time and the email.

Only the render cache is written, and it is pure: an entry is the rendering of its key
(content, realm, linked streams, the reader settings the content reads). So rendering ahead
can only make composing faster, never different: a message edited or a stream renamed since
makes a different key, which composing renders itself. Which messages to render is decided
by the composer's own steps on the same data (a message read meanwhile is not rendered).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import translation

from missedmail.composing.batch import attach_context, filter_batch, lookup_keys
from missedmail.composing.buckets import group_into_buckets
from missedmail.composing.content import ENTRY_OVERHEAD, message_html, message_text
from missedmail.composing.data import BatchData
from missedmail.composing.entries import NotificationEntry, collapse_entries
from missedmail.composing.filtering import recipient_gate
from missedmail.composing.reader import make_reader


def render_ahead(user_id: int, entries: Sequence[NotificationEntry], data: BatchData) -> int:
    """Render, for this reader, every message their email would show today (the notified
    messages and their context); returns what the HTML part of the render cache charges
    for those renderings (the larger part; see `composing.content.CACHE_CHARACTERS`).
    `data`: preloaded `for_rendering` (composing/preload.py), or any other `BatchData`.

    Both parts, HTML first: the HTML rendering keeps the Markdown parse that the
    plain-text one then reads, as in `compose_email`."""
    by_message = collapse_entries(entries)
    user = data.reader(user_id) if by_message else None
    if user is None or recipient_gate(user) is not None:
        return 0
    buckets = group_into_buckets(filter_batch(user.id, by_message, data).kept)
    if not buckets:
        return 0
    attach_context(user.id, buckets, data)
    # Neither the reply gateway nor the subject's realm name plays a part in rendering.
    reader = make_reader(user, gateway_configured=False, realm_name=False)
    if not reader.show_content:
        return 0
    # Of what the emails name, rendering reads only the linked streams' ids.
    keys = lookup_keys(buckets, show_content=True)
    ctx = reader.render_context(data.stream_ids(user.realm_id, keys.linked_streams))
    characters = 0
    with translation.override(reader.language):
        for bucket in buckets:
            for message in bucket.messages():
                html = message_html(message.content, message.rendered_content, ctx)
                message_text(message.content, ctx)
                source = len(message.content) + len(message.rendered_content or "")
                characters += source + len(html) + 2 * ENTRY_OVERHEAD
    return characters
