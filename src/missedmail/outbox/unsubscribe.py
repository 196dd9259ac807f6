"""Signed one-click unsubscribe tokens (RFC 8058).

The token is the user id signed with SECRET_KEY (Django's signing, HMAC-SHA256, its own
salt). It never expires; rotating SECRET_KEY revokes every link at once.
"""

from __future__ import annotations

from django.core import signing

SALT = "missedmail.unsubscribe.v1"
PATH_PREFIX = "/unsubscribe/"


def unsubscribe_token(user_id: int) -> str:
    return signing.dumps(user_id, salt=SALT, compress=False)


def user_id_from_token(token: str) -> int | None:
    """The user id, or None for a forged, altered or malformed token."""
    try:
        value = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def unsubscribe_url(public_url: str, user_id: int) -> str:
    return f"{public_url.rstrip('/')}{PATH_PREFIX}{unsubscribe_token(user_id)}"
