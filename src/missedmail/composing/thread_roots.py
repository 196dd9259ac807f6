"""Stable root ids that make mail clients thread successive emails about one conversation
(behaviour §4.9), and the realm host they end in.

A root id is a Message-ID (RFC 5322 msg-id): ASCII only, no spaces, exactly one `@`. The
host comes from the realm's URL, which the host application chose, so it is reduced to the
characters a domain may contain rather than trusted.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import urlsplit

from missedmail.composing.wellformed import well_formed

_NOT_HOST_CHARACTERS = re.compile(r"[^A-Za-z0-9.-]")
FALLBACK_HOST = "invalid"  # RFC 2606: a name that can never be a real domain


def realm_host(realm_url: str) -> str:
    """`chat.example.com` for `https://chat.example.com/`; IDNA-encoded when the host is not
    ASCII; without the port (a `:` is not valid in a Message-ID's domain)."""
    try:
        hostname = urlsplit(realm_url.strip()).hostname or ""
    except ValueError:  # e.g. an unbalanced "[" in the netloc
        hostname = ""
    try:
        encoded = hostname.encode("idna").decode("ascii")
    except UnicodeError:  # a label IDNA refuses (too long, prohibited characters)
        encoded = hostname.encode("ascii", "ignore").decode("ascii")
    cleaned = _NOT_HOST_CHARACTERS.sub("", encoded).strip(".")
    return cleaned or FALLBACK_HOST


def direct_root(conversation_id: int, sender_id: int, host: str) -> str:
    return f"<{conversation_id}.{sender_id}@{host}>"


def group_direct_root(conversation_id: int, host: str) -> str:
    return f"<{conversation_id}@{host}>"


def stream_root(stream_id: int, topic: str, host: str) -> str:
    """Keyed by the lowercased topic, as buckets are; the empty topic encodes as the empty
    string, never as a (translated) display name, so the id is the same for every reader."""
    encoded = base64.b64encode(well_formed(topic).lower().encode("utf-8")).decode("ascii")
    return f"<{stream_id}.{encoded}@{host}>"
