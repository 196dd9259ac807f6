from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy

import pytest

from missedmail.clock import ManualClock
from missedmail.outbox.enqueue import enqueue_drafts
from missedmail.outbox.models import EmailStatus, OutboundEmail, ReplyAddress
from tests.factories import Org, direct_message, make_org
from tests.outbox_helpers import make_draft, outbox_config

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Org:
    return make_org()


def test_each_draft_becomes_a_queued_email_with_its_message_frozen(
    org: Org, clock: ManualClock
) -> None:
    now = clock.now()
    due_at = now - timedelta(seconds=2)
    drafts = [
        make_draft(message_ids=(5, 7), subject="#Denmark > test"),
        make_draft(
            user_id=11, to_name="Othello, the Moor of Venice", to_email="othello@example.com"
        ),
    ]

    emails = enqueue_drafts(drafts, due_at=due_at, now=now, config=outbox_config())

    assert [email.user_id for email in emails] == [10, 11]
    assert all(email.id is not None for email in emails)
    stored = OutboundEmail.objects.get(id=emails[0].id)
    assert stored.status == EmailStatus.QUEUED
    assert stored.attempts == 0
    assert (stored.next_attempt_at, stored.due_at, stored.created_at) == (now, due_at, now)
    assert stored.message_ids == [5, 7]
    assert stored.subject == "#Denmark > test"
    assert stored.to_address == "hamlet@example.com"
    assert stored.envelope_from == "noreply@missedmail.example.org"
    assert stored.thread_root == "<3.dGVzdA==@chat.example.com>"
    assert re.fullmatch(r"<[0-9a-f]{32}@missedmail\.example\.org>", stored.message_id_header)
    message = message_from_bytes(bytes(stored.mime), policy=policy.default)
    assert message["Message-ID"] == stored.message_id_header
    assert message["To"] == "King Hamlet <hamlet@example.com>"
    assert message["Reply-To"] == "noreply@missedmail.example.org"
    assert emails[0].message_id_header != emails[1].message_id_header


def test_a_draft_for_reply_by_email_gets_its_own_reply_address(
    org: Org, clock: ManualClock
) -> None:
    dm = direct_message(org.othello, [org.hamlet], "hello")
    config = outbox_config(gateway_pattern="%s@reply.chat.example.com")

    [email] = enqueue_drafts(
        [make_draft(reply_to_message_id=dm.id)],
        due_at=clock.now(),
        now=clock.now(),
        config=config,
    )

    [address] = ReplyAddress.objects.all()
    assert re.fullmatch(r"mm[0-9a-f]{32}", address.token)
    assert (address.user_id, address.message_id, address.uses) == (10, dm.id, 0)
    assert address.created_at == clock.now()
    message = message_from_bytes(bytes(email.mime), policy=policy.default)
    assert message["Reply-To"] == f"{address.token}@reply.chat.example.com"


def test_every_email_gets_a_fresh_reply_address(org: Org, clock: ManualClock) -> None:
    dm = direct_message(org.othello, [org.hamlet], "hello")
    config = outbox_config(gateway_pattern="%s@reply.chat.example.com")
    drafts = [make_draft(reply_to_message_id=dm.id), make_draft(reply_to_message_id=dm.id)]

    enqueue_drafts(drafts, due_at=clock.now(), now=clock.now(), config=config)

    assert ReplyAddress.objects.filter(user_id=10, message_id=dm.id).count() == 2


def test_without_a_gateway_the_reply_to_is_the_noreply_address(
    org: Org, clock: ManualClock
) -> None:
    dm = direct_message(org.othello, [org.hamlet], "hello")

    [email] = enqueue_drafts(
        [make_draft(reply_to_message_id=dm.id)],
        due_at=clock.now(),
        now=clock.now(),
        config=outbox_config(gateway_pattern=""),
    )

    assert not ReplyAddress.objects.exists()
    message = message_from_bytes(bytes(email.mime), policy=policy.default)
    assert message["Reply-To"] == "noreply@missedmail.example.org"


def test_an_unusable_recipient_address_is_recorded_as_a_failed_email(
    org: Org, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="missedmail.outbox")
    drafts = [make_draft(to_email="hamlet at example.com"), make_draft(user_id=11)]

    bad, good = enqueue_drafts(drafts, due_at=clock.now(), now=clock.now(), config=outbox_config())

    bad.refresh_from_db()
    assert bad.status == EmailStatus.FAILED
    assert bad.last_response.startswith("not sent: the recipient's email address cannot be used")
    assert bytes(bad.mime) == b""
    assert good.status == EmailStatus.QUEUED
    assert f"action=email_failed email_id={bad.id} user_id=10 attempt=0" in caplog.text
    assert "hamlet at example.com" not in caplog.text


def test_an_internationalised_domain_is_stored_in_its_ascii_form_for_the_envelope(
    org: Org, clock: ManualClock
) -> None:
    [email] = enqueue_drafts(
        [make_draft(to_email="hamlet@bücher.example")],
        due_at=clock.now(),
        now=clock.now(),
        config=outbox_config(),
    )

    assert email.to_address == "hamlet@xn--bcher-kva.example"


def test_each_draft_can_carry_its_own_due_time(org: Org, clock: ManualClock) -> None:
    """A batcher pass enqueues many users' batches in one insert, each due at its own time."""
    now = clock.now()
    early, late = now - timedelta(seconds=9), now - timedelta(seconds=1)
    drafts = [make_draft(), make_draft(user_id=11, to_email="othello@example.com")]

    emails = enqueue_drafts(drafts, due_at=[early, late], now=now, config=outbox_config())

    assert [OutboundEmail.objects.get(id=e.id).due_at for e in emails] == [early, late]
    with pytest.raises(ValueError, match="1 due times for 2 drafts"):
        enqueue_drafts(drafts, due_at=[early], now=now, config=outbox_config())
