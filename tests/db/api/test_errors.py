"""Authentication and every class of error the API answers, always as the JSON envelope."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.test import Client

from missedmail.core.models import Realm
from tests.db.api.clocked_urls import SECRET_IN_CONTENT
from tests.db.api.conftest import ApiClient, error_of, ok

pytestmark = pytest.mark.django_db

REALM = {"name": "Zulip Dev", "url": "https://chat.example.com"}


def test_a_request_without_a_token_is_refused_with_401_and_changes_nothing(api: ApiClient) -> None:
    response = api.client.put("/api/v1/realms/1", data=REALM, content_type="application/json")
    code, msg = error_of(response, 401)
    assert code == "UNAUTHORIZED"
    assert "Bearer" in msg
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Realm.objects.exists()


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "test-token-0123456789abcdef"]
)
def test_a_malformed_authorization_header_is_refused_with_401(api: ApiClient, header: str) -> None:
    response = api.put("realms/1", REALM, headers={"Authorization": header})
    assert error_of(response, 401)[0] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    "token", ["wrong-token-0123456789abcdef", "test-token-0123456789abcdeF", "é"]
)
def test_a_wrong_token_is_refused_with_403_and_changes_nothing(api: ApiClient, token: str) -> None:
    response = api.put("realms/1", REALM, headers={"Authorization": f"Bearer {token}"})
    assert error_of(response, 403)[0] == "FORBIDDEN"
    assert not Realm.objects.exists()


def test_the_bearer_scheme_is_case_insensitive(api: ApiClient) -> None:
    ok(api.put("realms/1", REALM, headers={"Authorization": f"bearer {api.token}"}))


def test_an_unauthenticated_request_learns_nothing_about_methods(api: ApiClient) -> None:
    response = api.client.get("/api/v1/realms/1")
    assert error_of(response, 401)[0] == "UNAUTHORIZED"


def test_a_wrong_method_is_405_naming_the_allowed_ones(api: ApiClient) -> None:
    response = api.get("realms/1")
    code, msg = error_of(response, 405)
    assert code == "METHOD_NOT_ALLOWED"
    assert response["Allow"] == "PUT"
    assert "GET" in msg


def test_an_unknown_api_path_is_a_json_404(api: ApiClient) -> None:
    assert error_of(api.get("no-such-thing"), 404)[0] == "NOT_FOUND"
    assert error_of(api.get("realms/1/"), 404)[0] == "NOT_FOUND"
    assert error_of(api.client.get("/api"), 404)[0] == "NOT_FOUND"


def test_the_service_url_configuration_serves_the_api_under_api_v1(
    client: Client, db: None
) -> None:
    response = client.put(
        "/api/v1/realms/1",
        data=REALM,
        content_type="application/json",
        headers={"Authorization": f"Bearer {settings.MISSEDMAIL.api_token}"},
    )
    ok(response)
    assert Realm.objects.get(id=1).name == "Zulip Dev"


def test_a_path_id_beyond_2_63_minus_1_is_invalid(api: ApiClient) -> None:
    code, msg = error_of(api.put("realms/9223372036854775808", REALM), 400)
    assert code == "INVALID_INPUT"
    assert msg == "realm_id: must be between 1 and 2^63-1, got 9223372036854775808"


def test_a_path_id_of_zero_is_invalid(api: ApiClient) -> None:
    assert error_of(api.put("realms/0", REALM), 400)[1].startswith("realm_id: must be between 1")


def test_a_body_declared_larger_than_10_mib_is_refused_with_413_before_reading(
    api: ApiClient,
) -> None:
    response = api.put("realms/1", REALM, CONTENT_LENGTH=str(10 * 1024 * 1024 + 1))
    assert error_of(response, 413)[0] == "REQUEST_TOO_LARGE"
    assert not Realm.objects.exists()


def test_a_body_larger_than_10_mib_is_refused_with_413(api: ApiClient) -> None:
    body = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'", "url": "https://a.example"}'
    assert error_of(api.put("realms/1", None, raw=body), 413)[0] == "REQUEST_TOO_LARGE"
    assert not Realm.objects.exists()


def test_a_non_json_content_type_is_415(api: ApiClient) -> None:
    response = api.put(
        "realms/1", None, raw=b"name=x", content_type="application/x-www-form-urlencoded"
    )
    code, msg = error_of(response, 415)
    assert code == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/json" in msg


def test_a_json_content_type_with_a_charset_is_accepted(api: ApiClient) -> None:
    ok(api.put("realms/1", REALM, content_type="application/json; charset=utf-8"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "body: invalid JSON"),
        (b"", "body: empty"),
        (b"\xff\xfe{}", "body: not UTF-8"),
        (b'{"name": "a", "name": "b", "url": "https://a.example"}', "body: duplicate key 'name'"),
        (b'{"name": NaN}', "body: NaN is not a JSON number"),
        (b"[" * 100_000 + b"]" * 100_000, "body: nested deeper than"),
        (b'{"name": ' + b"[" * 40 + b"]" * 40 + b"}", "body: nested deeper than"),
        (b'{"deactivated": ' + b"9" * 5000 + b"}", "body: invalid JSON"),
    ],
    ids=["syntax", "empty", "not-utf8", "duplicate-key", "nan", "very-deep", "deep", "huge-int"],
)
def test_a_body_that_is_not_acceptable_json_is_a_400_saying_why(
    api: ApiClient, raw: bytes, expected: str
) -> None:
    code, msg = error_of(api.put("realms/1", None, raw=raw), 400)
    assert code == "INVALID_JSON"
    assert msg.startswith(expected)
    assert not Realm.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(api: ApiClient) -> None:
    code, msg = error_of(api.put("realms/1", ["name"]), 400)
    assert (code, msg) == ("INVALID_INPUT", "body: expected a JSON object, got array")


def test_an_unexpected_exception_is_a_json_500_without_traceback_and_logged_without_content(
    api: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="missedmail.api"):
        response = api.post("failing", {"content": SECRET_IN_CONTENT})
    code, msg = error_of(response, 500)
    assert (code, msg) == ("INTERNAL_ERROR", "Internal server error")
    assert b"Traceback" not in response.content
    records = [r for r in caplog.records if "action=api_unexpected_error" in r.getMessage()]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert SECRET_IN_CONTENT not in caplog.text
