"""One-click unsubscribe (RFC 8058), starting from the List-Unsubscribe header of an email
that really arrived: what a mail provider and a person do with it."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client
from pytest_django import Settings as SettingsWrapper

from missedmail.clock import ManualClock
from missedmail.core.models import UserProfile
from missedmail.outbox.transports import SmtpTransport
from tests.factories import Org, direct_message
from tests.integration.email.support import MailServer, schedule, send_due

pytestmark = pytest.mark.django_db


def unsubscribe_path(
    org: Org, clock: ManualClock, transport: SmtpTransport, server: MailServer
) -> str:
    message = direct_message(org.othello, [org.hamlet], "hello")
    schedule(clock, org.hamlet, message, "direct_message")
    send_due(clock, transport)
    header = server.accepted[-1].parsed()["List-Unsubscribe"]
    url = urlsplit(header.strip("<>"))
    assert url.scheme == "https"
    return url.path


def emails_enabled(user_id: int) -> bool:
    return UserProfile.objects.get(id=user_id).enable_offline_email_notifications


def test_a_providers_one_click_post_unsubscribes_without_cookies_or_csrf_token(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    path = unsubscribe_path(org, clock, transport, mail_server)
    provider = Client(enforce_csrf_checks=True)  # a mail provider's POST: no cookie, no token

    response = provider.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
        secure=True,
    )

    assert response.status_code == 200
    assert not emails_enabled(org.hamlet.id)
    assert emails_enabled(org.othello.id)


def test_following_the_link_shows_a_button_and_changes_nothing(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    path = unsubscribe_path(org, clock, transport, mail_server)

    response = Client().get(path, secure=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert '<form method="post">' in page
    assert '<button type="submit">Unsubscribe</button>' in page
    assert "no-store" in response["Cache-Control"]
    assert emails_enabled(org.hamlet.id)


def test_pressing_the_button_unsubscribes(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    path = unsubscribe_path(org, clock, transport, mail_server)

    response = Client(enforce_csrf_checks=True).post(path, secure=True)  # the form's empty body

    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    assert not emails_enabled(org.hamlet.id)


def test_an_altered_link_is_refused_with_a_clear_page_and_changes_nothing(
    org: Org, clock: ManualClock, transport: SmtpTransport, mail_server: MailServer
) -> None:
    path = unsubscribe_path(org, clock, transport, mail_server)
    signed_value, _, signature = path.removeprefix("/unsubscribe/").rpartition(":")
    forged = f"/unsubscribe/{signed_value}:{signature[::-1]}"

    response = Client().post(
        forged,
        data="List-Unsubscribe=One-Click",
        secure=True,
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "<h1>This unsubscribe link is not valid</h1>" in page
    assert emails_enabled(org.hamlet.id)


def test_rotating_the_secret_key_revokes_every_link(
    org: Org,
    clock: ManualClock,
    transport: SmtpTransport,
    mail_server: MailServer,
    settings: SettingsWrapper,
) -> None:
    path = unsubscribe_path(org, clock, transport, mail_server)
    settings.SECRET_KEY = "a-new-secret-key-after-rotation-0123456789-abcdefghij"

    response = Client().post(path, secure=True)

    assert response.status_code == 400
    assert emails_enabled(org.hamlet.id)


@pytest.mark.parametrize(
    ("language", "heading", "button"),
    [
        ("de", "E-Mails zu verpassten Nachrichten abbestellen?", "Abbestellen"),
        ("fr", "Ne plus recevoir les e-mails de messages manqués\u00a0?", "Se désabonner"),
        ("es", "¿Dejar de recibir correos de mensajes perdidos?", "Darse de baja"),
    ],
)
def test_the_pages_speak_the_users_language(
    org: Org,
    clock: ManualClock,
    transport: SmtpTransport,
    mail_server: MailServer,
    language: str,
    heading: str,
    button: str,
) -> None:
    org.hamlet.default_language = language
    org.hamlet.save()
    path = unsubscribe_path(org, clock, transport, mail_server)

    page = Client().get(path, secure=True).content.decode()

    assert f'<html lang="{language}" dir="ltr">' in page
    assert f"<h1>{heading}</h1>" in page
    assert f'<button type="submit">{button}</button>' in page


def test_an_invalid_link_is_explained_in_the_browsers_language(org: Org) -> None:
    response = Client().get("/unsubscribe/forged", headers={"Accept-Language": "fr-CH, fr;q=0.9"})

    assert response.status_code == 400
    assert "<h1>Ce lien de désabonnement n'est pas valide</h1>" in response.content.decode()
