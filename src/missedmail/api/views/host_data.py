"""PUT realms, users, streams and user groups: idempotent upserts (contract §4)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from missedmail.api import workflows
from missedmail.api.body import json_object
from missedmail.api.endpoints import ApiContext
from missedmail.api.responses import success
from missedmail.api.schemas import RealmBody, StreamBody, UserBody, UserGroupBody
from missedmail.api.validation import parse_body
from missedmail.core import writes


def put_realm(request: HttpRequest, context: ApiContext, realm_id: int) -> JsonResponse:
    body = parse_body(RealmBody, json_object(request))
    result = writes.upsert_realm(realm_id, body.to_fields())
    return success(created=result.created)


def put_user(request: HttpRequest, context: ApiContext, user_id: int) -> JsonResponse:
    body = parse_body(UserBody, json_object(request))
    result = workflows.put_user(user_id, body.to_fields())
    return success(created=result.created)


def put_stream(request: HttpRequest, context: ApiContext, stream_id: int) -> JsonResponse:
    body = parse_body(StreamBody, json_object(request))
    result = writes.upsert_stream(stream_id, body.to_fields())
    return success(created=result.created)


def put_user_group(request: HttpRequest, context: ApiContext, group_id: int) -> JsonResponse:
    body = parse_body(UserGroupBody, json_object(request))
    result = writes.upsert_user_group(group_id, body.to_fields())
    return success(created=result.created)
