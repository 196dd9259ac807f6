"""Reply-address lookup for the host's inbound-mail handler (contract §4)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from missedmail.api.endpoints import ApiContext
from missedmail.api.reply_targets import TOKEN_FORMAT, use_reply_address
from missedmail.api.responses import invalid, not_found, success
from missedmail.api.validation import shorten


def get_reply_address(request: HttpRequest, context: ApiContext, token: str) -> JsonResponse:
    if not TOKEN_FORMAT.fullmatch(token):
        raise invalid(
            "token", f"expected mm followed by 32 lowercase hex digits, got {shorten(token)!r}"
        )
    target = use_reply_address(token, now=context.clock.now())
    if target is None:
        raise not_found(f"reply address {token}")
    return success(**target.as_json())
