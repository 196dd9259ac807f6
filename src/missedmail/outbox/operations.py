"""What operators do with failed emails: list them, and give them a fresh round of attempts.

Shared by `missedmail failed` / `missedmail requeue` and the API (`GET /api/v1/outbox/failed`,
`POST /api/v1/outbox/{id}/requeue`), so both answer the same way. An email is failed when
its server refused it for good (5xx), when its attempts ran out, or when its message could
not be built (an address nobody can write to); the last kind cannot be requeued, sending it
would fail the same way.

A requeued email starts again at attempt 1 (its attempt log keeps the history) and is ready
at once; a running worker picks it up within one heartbeat (10 s).

Logs carry ids and counts only: subjects and addresses stay in the database, the API's
answers and the command's output.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from django.db import transaction
from django.db.models import QuerySet

from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.outbox.sender import requeue_failed

logger = logging.getLogger(__name__)

DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000
EXIT_INCOMPLETE = 1  # some of the emails asked for could not be requeued
EXIT_USAGE = 2


def timestamp(moment: datetime | None) -> str | None:
    """The API's time format: UTC, whole seconds, e.g. 2026-11-28T10:02:00Z."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class FailedEmail:
    id: int
    user_id: int
    to_address: str
    subject: str
    message_ids: tuple[int, ...]
    attempts: int
    response: str  # the server's last answer, or why the email was never sent
    created_at: datetime
    failed_at: datetime
    requeueable: bool  # False when the message could not be built

    @classmethod
    def from_row(cls, email: OutboundEmail) -> FailedEmail:
        return cls(
            id=email.id,
            user_id=email.user_id,
            to_address=email.to_address,
            subject=email.subject,
            message_ids=tuple(email.message_ids),
            attempts=email.attempts,
            response=email.last_response,
            created_at=email.created_at,
            failed_at=email.updated_at,
            requeueable=bool(email.mime),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "to": self.to_address,
            "subject": self.subject,
            "message_ids": list(self.message_ids),
            "attempts": self.attempts,
            "response": self.response,
            "created_at": timestamp(self.created_at),
            "failed_at": timestamp(self.failed_at),
            "requeueable": self.requeueable,
        }


def _failed() -> QuerySet[OutboundEmail]:
    return OutboundEmail.objects.filter(status=EmailStatus.FAILED)


def failed_count() -> int:
    return _failed().count()


def failed_emails(*, limit: int = DEFAULT_LIST_LIMIT) -> list[FailedEmail]:
    """The most recently failed emails, newest first (index `email_status_updated`)."""
    limit = max(1, min(limit, MAX_LIST_LIMIT))
    rows = _failed().order_by("-updated_at", "-id")[:limit]
    return [FailedEmail.from_row(row) for row in rows]


@dataclass
class RequeueResult:
    requeued: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    not_failed: dict[int, str] = field(default_factory=dict)  # id -> its status
    unbuildable: list[int] = field(default_factory=list)  # failed, but cannot be sent

    @property
    def complete(self) -> bool:
        return not (self.unknown or self.not_failed or self.unbuildable)

    def problems(self) -> list[str]:
        """One line per email that was not requeued, saying why."""
        lines = [f"email {email_id}: unknown" for email_id in self.unknown]
        lines += [
            f"email {email_id}: {status}, not failed; nothing to do"
            for email_id, status in sorted(self.not_failed.items())
        ]
        lines += [
            f"email {email_id}: its message could not be built; it stays failed"
            for email_id in self.unbuildable
        ]
        return lines


def requeue(email_ids: Iterable[int], now: datetime) -> RequeueResult:
    """Requeue the failed emails among `email_ids`, saying what happened to each."""
    wanted = sorted(set(email_ids))
    result = RequeueResult()
    with transaction.atomic():
        # Locked, so the answer about each email is the state the update acted on.
        rows = {
            row["id"]: row
            for row in OutboundEmail.objects.select_for_update()
            .filter(id__in=wanted)
            .values("id", "status", "mime")
        }
        for email_id in wanted:
            row = rows.get(email_id)
            if row is None:
                result.unknown.append(email_id)
            elif row["status"] != EmailStatus.FAILED:
                result.not_failed[email_id] = str(row["status"])
            elif not row["mime"]:
                result.unbuildable.append(email_id)
            else:
                result.requeued.append(email_id)
        requeue_failed(result.requeued, now)
    _log(result)
    return result


def requeue_all_failed(now: datetime) -> RequeueResult:
    """Requeue every failed email that can be sent; those that cannot are listed."""
    ids = list(_failed().order_by("id").values_list("id", flat=True))
    return requeue(ids, now)


def _log(result: RequeueResult) -> None:
    logger.info(
        "action=operator_requeue requeued=%d unknown=%d not_failed=%d unbuildable=%d",
        len(result.requeued),
        len(result.unknown),
        len(result.not_failed),
        len(result.unbuildable),
    )


# -- the command line: `missedmail failed [--json]`, `missedmail requeue ID... | --all-failed`
# Called by the CLI once Django is set up and the database checked; output goes to `out`,
# problems to `err`, and the return value is the exit code.


def failed_command(*, as_json: bool, out: TextIO, limit: int = DEFAULT_LIST_LIMIT) -> int:
    total = failed_count()
    emails = failed_emails(limit=limit)
    if as_json:
        document = {"count": total, "emails": [email.to_json() for email in emails]}
        print(json.dumps(document, ensure_ascii=False, sort_keys=True), file=out)
        return 0
    for line in failed_lines(total, emails):
        print(line, file=out)
    return 0


def failed_lines(total: int, emails: Sequence[FailedEmail]) -> list[str]:
    """The human listing; no subjects (content), the `--json` output has them."""
    if not emails:
        return ["no failed emails"]
    shown = "" if total == len(emails) else f", the {len(emails)} newest shown"
    lines = [f"{total} failed email{'s' if total != 1 else ''}{shown}:"]
    for email in emails:
        note = "" if email.requeueable else "  (cannot be requeued)"
        lines.append(
            f"  #{email.id}  user {email.user_id}  to {email.to_address}  "
            f"attempts {email.attempts}  failed {timestamp(email.failed_at)}{note}"
        )
        lines.append(f"      {email.response or '(no response recorded)'}")
    requeueable = [str(email.id) for email in emails if email.requeueable]
    if requeueable:
        lines.append(
            f"requeue with: missedmail requeue {' '.join(requeueable)}   (or --all-failed)"
        )
    return lines


def parse_email_ids(words: Sequence[str]) -> list[int]:
    """Email ids as typed on the command line ("42", "#42"); ValueError names a bad one."""
    ids = []
    for word in words:
        text = word.strip().removeprefix("#")
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"not an email id: {word!r}")
        ids.append(int(text))
    return ids


def requeue_command(
    words: Sequence[str], *, all_failed: bool, now: datetime, out: TextIO, err: TextIO
) -> int:
    if bool(words) == all_failed:
        print("missedmail: error: give email ids or --all-failed (not both)", file=err)
        return EXIT_USAGE
    try:
        ids = parse_email_ids(words)
    except ValueError as error:
        print(f"missedmail: error: {error}", file=err)
        return EXIT_USAGE
    result = requeue_all_failed(now) if all_failed else requeue(ids, now)
    for line in result.problems():
        print(line, file=err)
    count = len(result.requeued)
    listed = f": {' '.join(str(i) for i in result.requeued)}" if 0 < count <= 20 else ""
    print(f"requeued {count} email{'s' if count != 1 else ''}{listed}", file=out)
    # With --all-failed, the emails that cannot be sent are reported, and expected.
    return 0 if result.complete or all_failed else EXIT_INCOMPLETE
