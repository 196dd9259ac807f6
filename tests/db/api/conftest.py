from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from missedmail.clock import ManualClock
from tests.db.api import clocked_urls
from tests.factories import Org, make_org

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

START = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


class ApiClient:
    """Django's test client speaking the API: bearer token, JSON bodies."""

    def __init__(self, client: Client, token: str) -> None:
        self.client = client
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        **extra: str,
    ) -> Response:
        data = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
        all_headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.client.generic(
            method,
            f"/api/v1/{path}",
            data=data,
            content_type=content_type,
            headers=all_headers,
            **extra,
        )

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.call("GET", path, **kwargs)

    def put(self, path: str, body: object, **kwargs: Any) -> Response:
        return self.call("PUT", path, body, **kwargs)

    def post(self, path: str, body: object, **kwargs: Any) -> Response:
        return self.call("POST", path, body, **kwargs)

    def patch(self, path: str, body: object, **kwargs: Any) -> Response:
        return self.call("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.call("DELETE", path, **kwargs)


def error_of(response: Response, status: int) -> tuple[str, str]:
    """(code, msg) of an error response, after checking its status and envelope."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["result"] == "error"
    assert set(body) == {"result", "msg", "code"}
    return body["code"], body["msg"]


def ok(response: Response) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    assert body["result"] == "success"
    assert body["msg"] == ""
    return body


@pytest.fixture
def api_clock(settings: Any) -> ManualClock:
    settings.ROOT_URLCONF = "tests.db.api.clocked_urls"
    clocked_urls.CLOCK.set(START)
    return clocked_urls.CLOCK


@pytest.fixture
def api(client: Client, api_clock: ManualClock) -> ApiClient:
    return ApiClient(client, django_settings.MISSEDMAIL.api_token)


@pytest.fixture
def org(db: None) -> Org:
    return make_org()
