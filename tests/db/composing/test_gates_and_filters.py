"""Who gets no email at all (behaviour §4.1) and which messages are dropped (§4.2)."""

from __future__ import annotations

import pytest

from missedmail.composing.batch import (
    ComposedBatch,
    CompositionOptions,
    Skip,
    compose_user_batch,
)
from missedmail.core.models import Message, UserMessage
from missedmail.skips import SkipReason
from tests.db.composing.batches import compose, entry
from tests.factories import Org, direct_message, stream_message

pytestmark = pytest.mark.django_db


def two_dms(org: Org) -> list[Message]:
    return [
        direct_message(org.othello, [org.hamlet], "one"),
        direct_message(org.iago, [org.hamlet], "two"),
    ]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("enable_offline_email_notifications", False, SkipReason.NOTIFICATIONS_OFF),
        ("is_bot", True, SkipReason.USER_IS_BOT),
        ("is_active", False, SkipReason.USER_DEACTIVATED),
        ("email", "", SkipReason.NO_EMAIL_ADDRESS),
    ],
)
def test_a_user_gate_skips_every_message_of_the_batch_with_its_reason(
    org: Org, field: str, value: object, reason: SkipReason
) -> None:
    messages = two_dms(org)
    setattr(org.hamlet, field, value)
    org.hamlet.save()

    batch = compose(org.hamlet, *(entry(m, "direct_message") for m in messages))

    assert batch == ComposedBatch(
        emails=(), skips=(Skip((messages[0].id, messages[1].id), reason),)
    )


def test_a_deactivated_realm_skips_every_message_and_explains_before_user_settings(
    org: Org,
) -> None:
    messages = two_dms(org)
    org.realm.deactivated = True
    org.realm.save()
    org.hamlet.enable_offline_email_notifications = False
    org.hamlet.save()

    batch = compose(org.hamlet, *(entry(m, "direct_message") for m in messages))

    assert batch.skips == (Skip((messages[0].id, messages[1].id), SkipReason.REALM_DEACTIVATED),)
    assert batch.emails == ()


def test_a_missing_user_yields_nothing_to_send_or_record(org: Org) -> None:
    # Deleting a user cascades to their notifications: nothing is left to account for.
    messages = two_dms(org)

    gone = compose_user_batch(
        4242, [entry(m, "direct_message") for m in messages], CompositionOptions(False)
    )
    assert gone == ComposedBatch(emails=(), skips=())


def test_each_dropped_message_is_skipped_with_its_own_reason(org: Org) -> None:
    readers = [org.hamlet, org.othello]
    kept = stream_message(org.othello, org.denmark, "test", "kept", readers)
    read = stream_message(org.othello, org.denmark, "test", "read", readers, flags={10: ["read"]})
    content_deleted = stream_message(org.othello, org.denmark, "test", "(deleted)", readers)
    not_received = stream_message(org.othello, org.denmark, "test", "not for hamlet", [org.othello])
    deleted = stream_message(org.othello, org.denmark, "test", "deleted", readers)
    deleted_id = deleted.id
    deleted.delete()

    batch = compose(
        org.hamlet,
        *(
            entry(m, "stream_email_notify")
            for m in (kept, read, content_deleted, not_received, deleted_id)
        ),
    )

    assert [email.message_ids for email in batch.emails] == [(kept.id,)]
    assert {skip.reason: skip.message_ids for skip in batch.skips} == {
        SkipReason.READ: (read.id,),
        SkipReason.DELETED: (deleted_id,),
        SkipReason.NOT_RECEIVED: (not_received.id,),
        SkipReason.CONTENT_DELETED: (content_deleted.id,),
    }


def test_a_message_whose_user_message_row_was_removed_counts_as_not_received(org: Org) -> None:
    dm = direct_message(org.othello, [org.hamlet], "hi")
    UserMessage.objects.filter(user=org.hamlet, message=dm).delete()

    batch = compose(org.hamlet, entry(dm, "direct_message"))

    assert batch.skips == (Skip((dm.id,), SkipReason.NOT_RECEIVED),)


def test_the_same_message_given_twice_is_accounted_for_once_with_the_stronger_trigger(
    org: Org,
) -> None:
    message = stream_message(
        org.othello, org.denmark, "test", "hi", [org.hamlet], flags={10: ["mentioned"]}
    )

    batch = compose(org.hamlet, entry(message, "stream_email_notify"), entry(message, "mentioned"))

    assert [email.message_ids for email in batch.emails] == [(message.id,)]
    assert "personally mentioned" in batch.emails[0].text


def test_an_empty_batch_composes_nothing(org: Org) -> None:
    assert compose(org.hamlet) == ComposedBatch(emails=(), skips=())
