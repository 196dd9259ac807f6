"""The one-click unsubscribe pages (contract §5, RFC 8058)."""

from __future__ import annotations

import pytest
from django.test import Client

from missedmail.core.models import UserProfile
from missedmail.outbox.unsubscribe import unsubscribe_token
from tests.factories import Org

pytestmark = pytest.mark.django_db


def _enabled(user_id: int) -> bool:
    return UserProfile.objects.get(id=user_id).enable_offline_email_notifications


def test_following_the_link_shows_a_confirmation_and_changes_nothing(
    client: Client, org: Org
) -> None:
    response = client.get(f"/unsubscribe/{unsubscribe_token(10)}")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<form method="post">' in page
    assert "Zulip Dev" in page
    assert _enabled(10)
    assert "no-store" in response["Cache-Control"]


def test_confirming_turns_the_users_missed_message_emails_off(client: Client, org: Org) -> None:
    response = client.post(f"/unsubscribe/{unsubscribe_token(10)}")
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    assert not _enabled(10)
    assert _enabled(11)


def test_a_mail_providers_one_click_post_works_without_cookies_or_csrf_token(
    org: Org,
) -> None:
    provider = Client(enforce_csrf_checks=True)
    response = provider.post(
        f"/unsubscribe/{unsubscribe_token(10)}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert not _enabled(10)


def test_unsubscribing_twice_is_harmless(client: Client, org: Org) -> None:
    client.post(f"/unsubscribe/{unsubscribe_token(10)}")
    assert client.post(f"/unsubscribe/{unsubscribe_token(10)}").status_code == 200
    assert not _enabled(10)


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_or_altered_token_is_an_invalid_link_and_changes_nothing(
    client: Client, org: Org, method: str
) -> None:
    token = unsubscribe_token(10)
    altered = token.replace("MTA", "MTE", 1)  # the signed value "10" becomes "11"
    assert altered != token
    for bad in (altered, token[:-2] + ("aa" if token[-2:] != "aa" else "bb"), "10", "x:y:z"):
        response = getattr(client, method)(f"/unsubscribe/{bad}")
        assert response.status_code == 400
        page = response.content.decode()
        assert "not valid" in page
        assert "Traceback" not in page
    assert _enabled(10)
    assert _enabled(11)


def test_a_link_for_a_user_that_no_longer_exists_is_invalid(client: Client, org: Org) -> None:
    assert client.post(f"/unsubscribe/{unsubscribe_token(99)}").status_code == 400


def test_other_methods_are_refused(client: Client, org: Org) -> None:
    assert client.put(f"/unsubscribe/{unsubscribe_token(10)}").status_code == 405
    assert _enabled(10)
