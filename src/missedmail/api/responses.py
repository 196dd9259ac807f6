"""The API's JSON envelopes (contract §4): success is 200 with `result` "success", failure is
a 4xx/5xx with `result` "error", a human-readable `msg` and a machine `code`."""

from __future__ import annotations

from collections.abc import Mapping

from django.http import JsonResponse


class Code:
    INVALID_JSON = "INVALID_JSON"
    INVALID_INPUT = "INVALID_INPUT"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    BAD_REQUEST = "BAD_REQUEST"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"


# For responses the API's own code did not shape (Django's 404, an unexpected exception).
DEFAULT_BY_STATUS: dict[int, tuple[str, str]] = {
    400: (Code.BAD_REQUEST, "Bad request"),
    401: (Code.UNAUTHORIZED, "Authentication required"),
    403: (Code.FORBIDDEN, "Forbidden"),
    404: (Code.NOT_FOUND, "Not found"),
    405: (Code.METHOD_NOT_ALLOWED, "Method not allowed"),
    413: (Code.REQUEST_TOO_LARGE, "Request body larger than 10 MiB"),
    415: (Code.UNSUPPORTED_MEDIA_TYPE, "Expected a JSON body (Content-Type: application/json)"),
    500: (Code.INTERNAL_ERROR, "Internal server error"),
    503: (Code.DATABASE_UNAVAILABLE, "The database is unavailable; retry later"),
}


class ApiError(Exception):
    """Raised anywhere below a view; the endpoint wrapper turns it into the error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        msg: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = dict(headers or {})

    def response(self) -> JsonResponse:
        return error_response(self.status, self.code, self.msg, self.headers)


def invalid(field: str, problem: str, code: str = Code.INVALID_INPUT) -> ApiError:
    return ApiError(400, code, f"{field}: {problem}")


def not_found(what: str) -> ApiError:
    return ApiError(404, Code.NOT_FOUND, f"unknown {what}")


def error_response(
    status: int, code: str, msg: str, headers: Mapping[str, str] | None = None
) -> JsonResponse:
    response = JsonResponse({"result": "error", "msg": msg, "code": code}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def default_error_response(status: int, headers: Mapping[str, str] | None = None) -> JsonResponse:
    fallback = DEFAULT_BY_STATUS[500 if status >= 500 else 400]
    code, msg = DEFAULT_BY_STATUS.get(status, fallback)
    return error_response(status, code, msg, headers)


def success(**data: object) -> JsonResponse:
    return JsonResponse({"result": "success", "msg": "", **data})
