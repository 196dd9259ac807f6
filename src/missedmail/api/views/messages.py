"""Messages: store (one or a batch), edit, delete, and per-user flags (contract §4)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from missedmail.api import workflows
from missedmail.api.body import json_object
from missedmail.api.endpoints import ApiContext
from missedmail.api.responses import ApiError, success
from missedmail.api.schemas import (
    FlagsBody,
    MessageBatchBody,
    MessageBody,
    MessageEditBody,
)
from missedmail.api.validation import parse_body
from missedmail.core import writes


def post_messages(request: HttpRequest, context: ApiContext) -> JsonResponse:
    value = json_object(request)
    batch = "messages" in value
    bodies = (
        parse_body(MessageBatchBody, value).messages if batch else [parse_body(MessageBody, value)]
    )

    def where(index: int, error: writes.WriteError) -> ApiError:
        prefix = f"messages[{index}]." if batch else ""
        return ApiError(400, error.code, f"{prefix}{error.field}: {error.problem}")

    messages = []
    for index, body in enumerate(bodies):
        try:
            messages.append(body.to_data())
        except writes.WriteError as error:
            raise where(index, error) from None
    try:
        ids = writes.store_messages(messages)
    except writes.MessageWriteError as error:
        raise where(error.index, error.error) from None
    return success(ids=ids)


def patch_message(request: HttpRequest, context: ApiContext, message_id: int) -> JsonResponse:
    edit = parse_body(MessageEditBody, json_object(request)).to_edit()
    writes.edit_message(message_id, edit)
    return success()


def delete_message(request: HttpRequest, context: ApiContext, message_id: int) -> JsonResponse:
    workflows.delete_message(message_id, now=context.clock.now())
    return success()


def post_flags(request: HttpRequest, context: ApiContext) -> JsonResponse:
    body = parse_body(FlagsBody, json_object(request))
    change = writes.change_flags(
        body.user_id, add=body.op == "add", bit=body.bit, message_ids=body.messages
    )
    return success(messages=change.applied, ignored=change.ignored)
