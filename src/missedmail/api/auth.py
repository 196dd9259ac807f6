"""Bearer-token authentication of the API (contract §4): 401 without a well-formed
`Authorization: Bearer <token>` header, 403 with a wrong token."""

from __future__ import annotations

import hmac

from django.http import HttpRequest

from missedmail.api.responses import ApiError, Code

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="missedmail"'}


def authenticate(request: HttpRequest, api_token: str) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            Code.UNAUTHORIZED,
            "Authorization: expected 'Bearer <API token>'",
            headers=CHALLENGE,
        )
    # Constant-time, so response timing does not reveal how much of a guess was right.
    # Bytes, because compare_digest refuses non-ASCII str and a header may carry anything.
    if not hmac.compare_digest(token.encode("utf-8", "replace"), api_token.encode("utf-8")):
        raise ApiError(403, Code.FORBIDDEN, "Authorization: invalid API token")
