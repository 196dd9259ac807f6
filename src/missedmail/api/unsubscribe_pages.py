"""The one-click unsubscribe link of every email (contract §5, RFC 8058).

GET only shows a confirmation page: mail scanners and link previewers follow GETs, and must
not unsubscribe anyone. POST turns the user's missed-message emails off; a mail provider's
one-click POST (body `List-Unsubscribe=One-Click`) carries no cookies, so the view is exempt
from CSRF. That is safe because the signed token in the URL is the capability: a page that
does not know it cannot forge the request, and one that knows it could unsubscribe anyway.
For the same reason the confirmation form carries no CSRF token (it would only set a cookie).

The pages speak the user's language, as their emails do; a link that names no valid user
is answered in the browser's preferred language among those we ship.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from missedmail.composing.languages import email_language
from missedmail.core.models import UserProfile
from missedmail.core.writes import turn_off_missed_message_emails
from missedmail.outbox.unsubscribe import user_id_from_token


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    user_id = user_id_from_token(token)
    user = (
        UserProfile.objects.select_related("realm").filter(id=user_id).first()
        if user_id is not None
        else None
    )
    if user is None:
        # Forged, altered, or for a user the host has since deleted: the same answer, so the
        # page tells nothing about which ids exist.
        language = email_language(translation.get_language_from_request(request))
        return _page(request, "api/unsubscribe_invalid.html", language, status=400)
    language = email_language(user.default_language)
    if request.method == "POST":
        turn_off_missed_message_emails(user.id)
        return _page(request, "api/unsubscribe_done.html", language, realm_name=user.realm.name)
    return _page(request, "api/unsubscribe_confirm.html", language, realm_name=user.realm.name)


def _page(
    request: HttpRequest, template: str, language: str, *, status: int = 200, **context: str
) -> HttpResponse:
    context["installation_name"] = settings.MISSEDMAIL.installation_name
    with translation.override(language):
        response = render(request, template, context, status=status)
    response["Content-Language"] = language
    return response
