"""The queue event "email user U about message M because of trigger T" (contract §3).

Parsed and validated once, here, at the boundary: nothing past this module sees a raw dict.
Reference checks (does the user exist, did they receive the message) need the database and
live in `missedmail.scheduling.ingest`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_ID = 2**63 - 1
MAX_EVENT_BYTES = 64 * 1024


class Trigger(StrEnum):
    DIRECT_MESSAGE = "direct_message"
    MENTIONED = "mentioned"
    TOPIC_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC = "topic_wildcard_mentioned_in_followed_topic"
    STREAM_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC = "stream_wildcard_mentioned_in_followed_topic"
    TOPIC_WILDCARD_MENTIONED = "topic_wildcard_mentioned"
    STREAM_WILDCARD_MENTIONED = "stream_wildcard_mentioned"
    FOLLOWED_TOPIC_EMAIL_NOTIFY = "followed_topic_email_notify"
    STREAM_EMAIL_NOTIFY = "stream_email_notify"

    @property
    def precedence(self) -> int:
        """1 is the highest (behaviour §1); used when one (user, message) has several."""
        return _PRECEDENCE[self]

    @property
    def is_mention(self) -> bool:
        return self in MENTION_TRIGGERS


_PRECEDENCE = {trigger: rank for rank, trigger in enumerate(Trigger, start=1)}

MENTION_TRIGGERS = frozenset(
    {
        Trigger.MENTIONED,
        Trigger.TOPIC_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC,
        Trigger.STREAM_WILDCARD_MENTIONED_IN_FOLLOWED_TOPIC,
        Trigger.TOPIC_WILDCARD_MENTIONED,
        Trigger.STREAM_WILDCARD_MENTIONED,
    }
)

LEGACY_TRIGGER_NAMES = {
    "private_message": Trigger.DIRECT_MESSAGE,
    "wildcard_mentioned": Trigger.STREAM_WILDCARD_MENTIONED,
}


def stronger(a: Trigger, b: Trigger) -> Trigger:
    return a if a.precedence <= b.precedence else b


class EventError(ValueError):
    """The event is not a valid missed-message event; `reason` names the field."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True, slots=True)
class MissedMessageEvent:
    user_profile_id: int
    message_id: int
    trigger: Trigger
    mentioned_user_group_id: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "user_profile_id": self.user_profile_id,
            "message_id": self.message_id,
            "trigger": self.trigger.value,
            "mentioned_user_group_id": self.mentioned_user_group_id,
        }


def _optional_id(obj: dict[str, Any], name: str) -> int | None:
    if obj.get(name) is None:
        return None
    return _required_id(obj, name)


def _required_id(obj: dict[str, Any], name: str) -> int:
    if obj.get(name) is None:
        raise EventError(f"{name}: missing", name)
    value = obj[name]
    # bool is an int in Python; an id of `true` is a producer bug, not the id 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventError(f"{name}: expected an integer id, got {type(value).__name__}", name)
    if not 1 <= value <= MAX_ID:
        raise EventError(f"{name}: must be between 1 and 2^63-1, got {value}", name)
    return value


# Every accepted spelling, current and legacy: one dict lookup per event instead of an
# Enum call (which showed in profiles of queue ingest).
_TRIGGERS_BY_NAME: dict[str, Trigger] = {t.value: t for t in Trigger} | LEGACY_TRIGGER_NAMES


def parse_trigger(value: object) -> Trigger:
    if not isinstance(value, str):
        raise EventError(f"trigger: expected a string, got {type(value).__name__}", "trigger")
    trigger = _TRIGGERS_BY_NAME.get(value)
    if trigger is None:
        shown = value if len(value) <= 64 else value[:64] + "…"
        raise EventError(f"trigger: unknown trigger {shown!r}", "trigger")
    return trigger


def event_from_object(obj: object) -> MissedMessageEvent:
    """Validate an already-decoded JSON value. Unknown extra keys are ignored (contract §3)."""
    if not isinstance(obj, dict):
        raise EventError(f"event: expected a JSON object, got {json_type(obj)}")
    if "trigger" not in obj:
        raise EventError("trigger: missing", "trigger")
    return MissedMessageEvent(
        user_profile_id=_required_id(obj, "user_profile_id"),
        message_id=_required_id(obj, "message_id"),
        trigger=parse_trigger(obj["trigger"]),
        mentioned_user_group_id=_optional_id(obj, "mentioned_user_group_id"),
    )


def parse_event(body: bytes | str) -> MissedMessageEvent:
    """Decode one queue message body (UTF-8 JSON) into an event."""
    if len(body) > MAX_EVENT_BYTES:
        raise EventError(f"event: body of {len(body)} bytes exceeds {MAX_EVENT_BYTES}")
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise EventError(
                f"event: body is not UTF-8 ({error.reason} at byte {error.start})"
            ) from None
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as error:
        raise EventError(f"event: invalid JSON ({error.msg} at position {error.pos})") from None
    except RecursionError:
        raise EventError("event: JSON nested too deeply") from None
    return event_from_object(obj)


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
        case _:
            return type(value).__name__
