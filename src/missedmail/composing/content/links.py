"""Links in an email must work outside the web app: every relative URL becomes absolute
against the realm's URL."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit


def absolute_url(url: str, realm_url: str) -> str:
    """`/user_uploads/…`, `#narrow/…` and other relative URLs resolved against the realm.

    Narrow links are handled by hand: joined the ordinary way, `#narrow/…` would lose the
    `/` between host and fragment (`https://host#narrow/…`), which the web app does not
    route (Zulip special-cases them for the same reason)."""
    if url.startswith(("#narrow/", "/#narrow/")):
        return f"{realm_url}/{url.lstrip('/')}"
    try:
        if urlsplit(url).scheme:
            return url
        return urljoin(realm_url + "/", url)
    except ValueError:  # e.g. "http://[broken": the sanitiser drops what it cannot parse
        return url


def absolute_title(title: str, original_href: str, realm_url: str) -> str:
    """Zulip sets `title` to the link's own (relative) URL on the links it renders; such a
    title must not point somewhere else than the link once the link is absolute."""
    if title == original_href or title.startswith(("#narrow/", "/#narrow/", "/user_uploads/")):
        return absolute_url(title, realm_url)
    return title


def is_realm_image(src: str, realm_url: str) -> bool:
    """Email clients fetch images when the email is opened: only the realm's own images
    (emoji, uploads) are allowed, never a tracking pixel from elsewhere."""
    return src.startswith(realm_url + "/")
