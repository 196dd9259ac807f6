"""Response headers and permissions of the operator UI.

Every page of /ops/ gets a Content-Security-Policy that allows only this site's own
scripts, styles and images (the charting library is a static file, never a CDN) and no
framing by anyone. The one page framed is an email's HTML preview: it gets a policy of its
own (`PREVIEW_POLICY`) that runs no script, loads nothing from anywhere, and lets only
this site frame it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponseBase

PAGE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# `sandbox` without tokens: no scripts, no forms, no plugins, a unique origin (no cookies,
# no access to the operator's session). Inline styles are allowed because an email's CSS
# is inlined; images only as data: URLs, so opening a preview tells no tracker anything.
PREVIEW_POLICY = "; ".join(
    [
        "sandbox",
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src data:",
        "font-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
    ]
)

View = Callable[..., HttpResponseBase]


def with_policy(policy: str) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
            response = view(request, *args, **kwargs)
            response.setdefault("Content-Security-Policy", policy)
            return response

        return wrapped

    return decorate


# The permission each action needs (superusers have them all). Viewing needs a login only,
# except an email's content, which needs the permission to view outbox emails.
VIEW_EMAIL_CONTENT = "outbox.view_outboundemail"
REQUEUE_EMAIL = "outbox.change_outboundemail"
CANCEL_PENDING = "scheduling.delete_schedulednotification"
SEND_TEST_EMAIL = "outbox.add_outboundemail"
