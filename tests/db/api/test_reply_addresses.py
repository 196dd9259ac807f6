"""GET /reply_addresses/{token}: the inbound-mail handler's lookup, counting uses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from missedmail.clock import ManualClock
from missedmail.outbox.models import ReplyAddress
from tests.db.api.conftest import ApiClient, error_of, ok
from tests.factories import Org, direct_message, stream_message

pytestmark = pytest.mark.django_db

TOKEN = "mm" + "0123456789abcdef" * 2


def _address(org: Org, message_id: int, token: str = TOKEN) -> ReplyAddress:
    return ReplyAddress.objects.create(
        token=token,
        user=org.hamlet,
        message_id=message_id,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_a_reply_address_resolves_to_its_stream_conversation_and_counts_the_use(
    api: ApiClient, org: Org, api_clock: ManualClock
) -> None:
    message = stream_message(org.iago, org.denmark, "release plan", "x", [org.hamlet])
    _address(org, message.id)

    body = ok(api.get(f"reply_addresses/{TOKEN}"))

    assert body == {
        "result": "success",
        "msg": "",
        "user_id": 10,
        "message_id": message.id,
        "realm_id": 1,
        "conversation": {"type": "stream", "stream_id": 3, "topic": "release plan"},
    }
    address = ReplyAddress.objects.get(token=TOKEN)
    assert (address.uses, address.last_used_at) == (1, api_clock.now())

    api_clock.advance(60)
    ok(api.get(f"reply_addresses/{TOKEN}"))
    address = ReplyAddress.objects.get(token=TOKEN)
    assert (address.uses, address.last_used_at) == (2, api_clock.now())


def test_a_reply_address_of_a_group_dm_lists_every_participant(api: ApiClient, org: Org) -> None:
    message = direct_message(org.othello, [org.hamlet, org.iago], "x")
    _address(org, message.id)
    assert ok(api.get(f"reply_addresses/{TOKEN}"))["conversation"] == {
        "type": "direct",
        "participant_ids": [10, 11, 12],
    }


def test_an_unknown_reply_address_is_404(api: ApiClient, org: Org) -> None:
    code, msg = error_of(api.get(f"reply_addresses/{TOKEN}"), 404)
    assert (code, msg) == ("NOT_FOUND", f"unknown reply address {TOKEN}")


@pytest.mark.parametrize(
    "token", ["mm0123", "MM" + "0" * 32, "mm" + "0123456789ABCDEF" * 2, "mm" + "g" * 32, "x" * 300]
)
def test_a_malformed_reply_address_is_400(api: ApiClient, org: Org, token: str) -> None:
    code, msg = error_of(api.get(f"reply_addresses/{token}"), 400)
    assert code == "INVALID_INPUT"
    assert msg.startswith("token: expected mm followed by 32 lowercase hex digits")
