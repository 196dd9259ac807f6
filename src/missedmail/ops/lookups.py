"""The look-ups: a user, an email, and the lists of emails and rejected events.

List pages and the user page show ids, states, reasons, times and server responses only.
The single-email page is the one place that shows an email's content (subject, text, HTML
preview); it says so at the top, needs the permission to view outbox emails, and every
visit is logged with the operator's name.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin

from missedmail.core.models import UserProfile
from missedmail.ops.dependencies import OpsDependencies
from missedmail.ops.filters import EmailFilterForm, RejectedFilterForm, UserLookupForm, page_of
from missedmail.ops.mimeview import email_parts
from missedmail.ops.security import PREVIEW_POLICY, VIEW_EMAIL_CONTENT, with_policy
from missedmail.ops.userpage import find_user, user_page
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.scheduling.models import RejectedEvent

logger = logging.getLogger(__name__)

NO_HTML_PREVIEW = "<!doctype html><title>No HTML part</title><p>This email has no HTML part.</p>"


def users(request: HttpRequest, deps: OpsDependencies) -> HttpResponse:
    """The look-up form; a match goes straight to the user's page."""
    form = UserLookupForm(request.GET or None)
    not_found = False
    if form.is_valid():
        user = find_user(form.cleaned_data["q"])
        if user is not None:
            return redirect("ops:user", user_id=user.id)
        not_found = True
    return render(request, "ops/users.html", {"form": form, "not_found": not_found})


def user(request: HttpRequest, deps: OpsDependencies, user_id: int) -> HttpResponse:
    profile = get_object_or_404(UserProfile.objects.select_related("realm"), pk=user_id)
    return render(request, "ops/user.html", {"page": user_page(profile, deps.clock.now())})


def emails(request: HttpRequest, deps: OpsDependencies) -> HttpResponse:
    form = EmailFilterForm(request.GET or {"status": EmailStatus.FAILED})
    page = page_of(form.queryset(deps.clock.now()), form.page_number) if form.is_valid() else None
    return render(
        request, "ops/emails.html", {"form": form, "page": page, **_paging(request, form)}
    )


def rejected_events(request: HttpRequest, deps: OpsDependencies) -> HttpResponse:
    form = RejectedFilterForm(request.GET or None)
    if not form.is_bound:
        form = RejectedFilterForm({})
    page = page_of(form.queryset(deps.clock.now()), form.page_number) if form.is_valid() else None
    return render(
        request, "ops/rejected_events.html", {"form": form, "page": page, **_paging(request, form)}
    )


def _paging(request: HttpRequest, form: EmailFilterForm | RejectedFilterForm) -> dict[str, str]:
    """Query strings of the previous and next pages, keeping the filters."""
    if not form.is_valid():
        return {}
    kept = {key: value for key, value in request.GET.items() if key != "page" and value}
    if not request.GET and isinstance(form, EmailFilterForm):
        kept = {"status": EmailStatus.FAILED}
    number = form.page_number
    return {
        "previous_query": urlencode({**kept, "page": number - 1}),
        "next_query": urlencode({**kept, "page": number + 1}),
    }


@permission_required(VIEW_EMAIL_CONTENT, raise_exception=True)
def email(request: HttpRequest, deps: OpsDependencies, email_id: int) -> HttpResponse:
    outbound = get_object_or_404(OutboundEmail.objects.select_related("user"), pk=email_id)
    logger.info(
        "action=ops_view_email operator=%s email_id=%d user_id=%d",
        request.user.get_username(),
        outbound.id,
        outbound.user_id,
    )
    return render(
        request,
        "ops/email.html",
        {
            "email": outbound,
            "parts": email_parts(bytes(outbound.mime)),
            "attempts": list(outbound.attempt_log.order_by("number", "id")),
            "preview_url": reverse("ops:email-preview", args=[outbound.id]),
            "can_requeue": outbound.status == EmailStatus.FAILED and bool(outbound.mime),
        },
    )


@permission_required(VIEW_EMAIL_CONTENT, raise_exception=True)
@xframe_options_sameorigin
@with_policy(PREVIEW_POLICY)
def email_preview(request: HttpRequest, deps: OpsDependencies, email_id: int) -> HttpResponse:
    """The HTML part as sent, for the email page's sandboxed iframe only."""
    mime = OutboundEmail.objects.filter(pk=email_id).values_list("mime", flat=True).first()
    if mime is None:
        raise Http404("no such email")
    html = email_parts(bytes(mime)).html
    response = HttpResponse(html or NO_HTML_PREVIEW, content_type="text/html; charset=utf-8")
    response["Referrer-Policy"] = "no-referrer"
    return response


def rejected_event(request: HttpRequest, deps: OpsDependencies, event_id: int) -> HttpResponse:
    event = get_object_or_404(RejectedEvent, pk=event_id)
    return render(request, "ops/rejected_event.html", {"event": event})
