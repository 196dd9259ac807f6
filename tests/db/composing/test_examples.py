"""The examples of behaviour §7 that concern composing, reproduced exactly."""

from __future__ import annotations

import pytest

from missedmail.skips import SkipReason
from tests.db.composing.batches import compose, entry, only_email, text_lines
from tests.factories import Org, direct_message, stream_message

pytestmark = pytest.mark.django_db


def test_dms_from_two_senders_make_two_emails_least_recently_active_first(org: Org) -> None:
    from_othello = direct_message(org.othello, [org.hamlet], "hello")
    from_iago = direct_message(org.iago, [org.hamlet], "hi")

    batch = compose(
        org.hamlet, entry(from_iago, "direct_message"), entry(from_othello, "direct_message")
    )

    assert [email.subject for email in batch.emails] == [
        "DMs with Othello, the Moor of Venice",
        "DMs with Iago",
    ]
    assert [email.message_ids for email in batch.emails] == [(from_othello.id,), (from_iago.id,)]
    assert batch.skips == ()


def test_a_stream_topic_with_two_senders_reads_as_two_sender_blocks(org: Org) -> None:
    readers = [org.hamlet, org.othello, org.iago]
    messages = [
        stream_message(sender, org.denmark, "test", str(number), readers)
        for number, sender in enumerate([org.othello] * 3 + [org.iago] * 3, start=1)
    ]

    email = only_email(org.hamlet, *(entry(m, "stream_email_notify") for m in messages))

    assert email.subject == "#Denmark > test"
    lines = text_lines(email)
    assert lines[: lines.index("--") + 2] == [
        "Othello, the Moor of Venice:",
        "> 1",
        "> 2",
        "> 3",
        "",
        "Iago:",
        "> 4",
        "> 5",
        "> 6",
        "",
        "--",
        "You are receiving this because you have email notifications enabled for #Denmark.",
    ]
    assert email.message_ids == tuple(m.id for m in messages)


def test_a_message_read_before_its_batch_is_due_is_not_emailed(org: Org) -> None:
    read = direct_message(org.othello, [org.hamlet], "seen", flags={10: ["read"]})
    unread = direct_message(org.othello, [org.hamlet], "not seen")

    batch = compose(org.hamlet, entry(read, "direct_message"), entry(unread, "direct_message"))

    assert [email.message_ids for email in batch.emails] == [(unread.id,)]
    assert "> seen" not in text_lines(batch.emails[0])
    assert [(skip.message_ids, skip.reason) for skip in batch.skips] == [
        ((read.id,), SkipReason.READ)
    ]


def test_when_everything_was_read_there_is_no_email_at_all(org: Org) -> None:
    read = direct_message(org.othello, [org.hamlet], "seen", flags={10: ["read"]})

    batch = compose(org.hamlet, entry(read, "direct_message"))

    assert batch.emails == ()
    assert [(skip.message_ids, skip.reason) for skip in batch.skips] == [
        ((read.id,), SkipReason.READ)
    ]


def test_hidden_content_shows_no_subject_names_content_or_topic(org: Org) -> None:
    org.hamlet.message_content_in_email_notifications = False
    org.hamlet.save()
    readers = [org.hamlet, org.othello, org.iago]
    stream = stream_message(
        org.othello,
        org.denmark,
        "secret plans",
        "the crown jewels",
        readers,
        flags={10: ["mentioned"]},
    )
    dm = direct_message(org.iago, [org.hamlet], "whisper words")

    batch = compose(org.hamlet, entry(stream, "mentioned"), entry(dm, "direct_message"))

    assert [email.subject for email in batch.emails] == ["New messages", "New messages"]
    for email in batch.emails:
        for part in (email.text, email.html):
            for secret in ("secret", "crown jewels", "whisper", "Othello", "Iago"):
                assert secret not in part
        assert "you have disabled message content" in email.text
