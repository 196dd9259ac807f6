"""`missedmail preview` of stored outbox emails: the bytes as sent, decoded."""

from __future__ import annotations

import io

import pytest

from missedmail.composing.preview import StoredSource, preview_command, render_preview
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import OutboundEmail
from tests.db.composing.batches import entry, only_email
from tests.factories import Org, direct_message
from tests.outbox_helpers import NOW, outbox_config

pytestmark = pytest.mark.django_db


def stored(org: Org, content: str) -> OutboundEmail:
    draft = only_email(
        org.hamlet, entry(direct_message(org.othello, [org.hamlet], content), "direct_message")
    )
    [email] = enqueue_drafts([draft], due_at=NOW, now=NOW, config=outbox_config())
    return email


def test_a_stored_email_shows_its_html_part_as_sent(org: Org) -> None:
    email = stored(org, "Grüße from **Venice**")

    document = render_preview(StoredSource(email_id=email.id))

    assert document.startswith("<!DOCTYPE html>")
    assert "Grüße from <strong" in document


def test_a_users_latest_email_is_shown_by_user_id(org: Org) -> None:
    stored(org, "older words")
    stored(org, "newer words")

    text = render_preview(StoredSource(user_id=org.hamlet.id), "plain")

    assert "> newer words" in text
    assert "older words" not in text


def test_the_command_prints_a_stored_emails_text_part(org: Org) -> None:
    email = stored(org, "plain words")
    stdout = io.StringIO()

    assert preview_command(["--email-id", str(email.id), "--text"], stdout) == 0

    assert stdout.getvalue().startswith("> plain words\n\n--\n")


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["--email-id", "999"], "missedmail: error: no outbox email 999\n"),
        (["--user-id", "13"], "missedmail: error: no outbox email for user 13\n"),
    ],
)
def test_a_missing_email_is_a_one_line_error(
    org: Org, capsys: pytest.CaptureFixture[str], arguments: list[str], error: str
) -> None:
    assert preview_command(arguments) == 1
    assert capsys.readouterr().err == error


def test_an_email_that_could_not_be_built_is_explained(
    org: Org, capsys: pytest.CaptureFixture[str]
) -> None:
    org.hamlet.email = "not an address"
    org.hamlet.save()
    email = stored(org, "never sent")

    assert preview_command(["--email-id", str(email.id)]) == 1
    assert "has no message (its address was unusable)" in capsys.readouterr().err
