"""What an operator can do from /ops/: requeue a failed email, cancel a user's pending
batch, send a test email.

Each action is two steps: a GET shows what will happen and a confirmation button; the
POST (CSRF-protected, like every POST of the site) does it. Each needs a permission
(`missedmail.ops.security`) and each is logged on one line with the operator's user name
and ids only: `action=ops_requeue operator=... email_id=... count=...`.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from missedmail.core.models import UserProfile
from missedmail.ops.dependencies import OpsDependencies
from missedmail.ops.filters import TestEmailForm
from missedmail.ops.security import CANCEL_PENDING, REQUEUE_EMAIL, SEND_TEST_EMAIL
from missedmail.ops.testemail import send_test_email
from missedmail.outbox.config import OutboxConfig
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.outbox.sender import requeue_failed
from missedmail.scheduling.adjustments import drop_pending_for_user
from missedmail.scheduling.models import ScheduledNotification
from missedmail.skips import SkipReason

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "HEAD", "POST"])
@permission_required(REQUEUE_EMAIL, raise_exception=True)
def requeue(request: HttpRequest, deps: OpsDependencies, email_id: int) -> HttpResponse:
    email = get_object_or_404(
        OutboundEmail.objects.only("id", "user_id", "status", "attempts", "last_response"),
        pk=email_id,
    )
    if request.method != "POST":
        return render(request, "ops/confirm_requeue.html", {"email": email})
    count = requeue_failed([email.id], deps.clock.now())
    logger.info(
        "action=ops_requeue operator=%s email_id=%d user_id=%d count=%d",
        request.user.get_username(),
        email.id,
        email.user_id,
        count,
    )
    if count:
        messages.success(request, f"Email {email.id} is queued again; a sender will deliver it.")
    elif email.status != EmailStatus.FAILED:
        messages.info(request, f"Email {email.id} is {email.status}, not failed: nothing to do.")
    else:
        messages.error(request, f"Email {email.id} cannot be sent again: its message is empty.")
    return redirect("ops:email", email_id=email.id)


@require_http_methods(["GET", "HEAD", "POST"])
@permission_required(CANCEL_PENDING, raise_exception=True)
def cancel_pending(request: HttpRequest, deps: OpsDependencies, user_id: int) -> HttpResponse:
    """Drop every pending notification of the user, recorded as skipped (`cancelled`)."""
    user = get_object_or_404(UserProfile.objects.only("id", "full_name"), pk=user_id)
    if request.method != "POST":
        pending = ScheduledNotification.objects.filter(user_id=user.id).count()
        return render(request, "ops/confirm_cancel.html", {"profile": user, "pending": pending})
    with transaction.atomic():
        count = drop_pending_for_user(user.id, reason=SkipReason.CANCELLED, now=deps.clock.now())
    logger.info(
        "action=ops_cancel operator=%s user_id=%d count=%d",
        request.user.get_username(),
        user.id,
        count,
    )
    messages.success(
        request, f"Cancelled {count} pending notification(s); they are recorded as skipped."
    )
    return redirect("ops:user", user_id=user.id)


@require_http_methods(["GET", "HEAD", "POST"])
@permission_required(SEND_TEST_EMAIL, raise_exception=True)
def test_email(request: HttpRequest, deps: OpsDependencies) -> HttpResponse:
    """GET: the form. POST without `confirmed`: the confirmation. POST confirmed: send."""
    if request.method != "POST":
        return render(request, "ops/test_email.html", {"form": TestEmailForm(), "step": "form"})
    form = TestEmailForm(request.POST)
    if not form.is_valid():
        return render(request, "ops/test_email.html", {"form": form, "step": "form"})
    address: str = form.cleaned_data["address"]
    if not form.cleaned_data["confirmed"]:
        confirm = TestEmailForm(initial={"address": address, "confirmed": True})
        return render(
            request,
            "ops/test_email.html",
            {"form": confirm, "step": "confirm", "address": address},
        )
    result = send_test_email(
        address, deps.new_transport(), OutboxConfig.from_settings(deps.settings), deps.clock.now()
    )
    # The address is personal data, not an id: the log says only how it went.
    logger.info(
        "action=ops_test_email operator=%s sent=%s code=%s",
        request.user.get_username(),
        result.sent,
        result.code,
    )
    return render(
        request,
        "ops/test_email.html",
        {"form": TestEmailForm(), "step": "done", "address": address, "result": result},
    )
