""" "Why didn't Hamlet get an email?" — the answer, in sentences, from what is on record.

A pure function of facts gathered by `missedmail.ops.userpage`, so every case is tested
without a database. Findings name states, reasons and times; never content.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from missedmail.ops.formatting import duration
from missedmail.outbox.models import EmailStatus
from missedmail.skips import SkipReason

# A due batch normally leaves within a second; past this, the workers are behind or down.
LATE_AFTER_SECONDS = 60


class Level(enum.StrEnum):
    OK = "ok"
    INFO = "info"
    WARN = "warn"
    BAD = "bad"


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str


@dataclass(frozen=True)
class LatestEmail:
    id: int
    status: str
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime
    attempts: int
    last_response: str


@dataclass(frozen=True)
class LatestSkip:
    reason: str
    at: datetime
    notifications: int


@dataclass(frozen=True)
class UserFacts:
    name: str
    is_active: bool
    is_bot: bool
    has_email: bool
    emails_enabled: bool  # enable_offline_email_notifications
    realm_deactivated: bool
    pending: int
    due: int
    next_due_at: datetime | None  # the earliest pending row's time
    latest_email: LatestEmail | None
    latest_skip: LatestSkip | None
    recent_rejections: int  # rejected events naming the user, last week


def findings(facts: UserFacts, now: datetime) -> list[Finding]:
    """What stops or delays this user's emails, most important first; then what happened
    last. Always at least one finding."""
    found = _blockers(facts)
    found += _pending(facts, now)
    found += _latest(facts, now)
    if facts.recent_rejections:
        found.append(
            Finding(
                Level.WARN,
                f"{facts.recent_rejections} event(s) naming this user were rejected in the "
                "last 7 days (see below): the host sent something missedmail could not use.",
            )
        )
    if not found:
        found.append(
            Finding(
                Level.INFO,
                "Nothing on record for this user: no pending notification, no email, no "
                "skipped notification. missedmail was probably never asked to email them "
                "(the host only sends events for users who are offline and whose settings "
                "ask for emails).",
            )
        )
    return found


def _blockers(facts: UserFacts) -> list[Finding]:
    reasons = [
        (not facts.is_active, SkipReason.USER_DEACTIVATED, "the user is deactivated"),
        (facts.realm_deactivated, SkipReason.REALM_DEACTIVATED, "the organisation is deactivated"),
        (facts.is_bot, SkipReason.USER_IS_BOT, "the user is a bot"),
        (not facts.has_email, SkipReason.NO_EMAIL_ADDRESS, "the user has no email address"),
        (
            not facts.emails_enabled,
            SkipReason.NOTIFICATIONS_OFF,
            "the user turned missed-message emails off (or unsubscribed)",
        ),
    ]
    return [
        Finding(Level.BAD, f"No email can be sent: {text}. Notifications are skipped ({reason}).")
        for applies, reason, text in reasons
        if applies
    ]


def _pending(facts: UserFacts, now: datetime) -> list[Finding]:
    if not facts.pending or facts.next_due_at is None:
        return []
    if facts.next_due_at > now:
        wait = duration((facts.next_due_at - now).total_seconds())
        return [
            Finding(
                Level.INFO,
                f"{facts.pending} notification(s) wait for the batching period; the next "
                f"batch falls due in {wait}.",
            )
        ]
    late = (now - facts.next_due_at).total_seconds()
    level = Level.BAD if late > LATE_AFTER_SECONDS else Level.INFO
    return [
        Finding(
            level,
            f"{facts.due} notification(s) are due and not sent yet (due for {duration(late)})"
            + (": are the workers running? See the dashboard." if level == Level.BAD else "."),
        )
    ]


def _latest(facts: UserFacts, now: datetime) -> list[Finding]:
    found: list[Finding] = []
    email = facts.latest_email
    if email is not None:
        found.append(_email_finding(email, now))
    skip = facts.latest_skip
    if skip is not None and (email is None or skip.at >= email.created_at):
        label = SkipReason(skip.reason).label if skip.reason in SkipReason.values else skip.reason
        found.append(
            Finding(
                Level.INFO,
                f"The latest skipped notification(s) ({skip.notifications}, "
                f"{duration((now - skip.at).total_seconds())} ago) were not emailed because: "
                f"{label}.",
            )
        )
    return found


def _email_finding(email: LatestEmail, now: datetime) -> Finding:
    ago = duration((now - email.created_at).total_seconds())
    if email.status == EmailStatus.SENT and email.sent_at is not None:
        sent_ago = duration((now - email.sent_at).total_seconds())
        return Finding(
            Level.OK,
            f"The latest email (#{email.id}) was accepted by the mail server {sent_ago} ago. "
            "If it did not arrive, look at the recipient's spam folder and the mail "
            "server's log.",
        )
    if email.status == EmailStatus.FAILED:
        return Finding(
            Level.BAD,
            f"The latest email (#{email.id}, composed {ago} ago) failed after "
            f"{email.attempts} attempt(s): {email.last_response or 'no response recorded'}.",
        )
    if email.status == EmailStatus.RETRYING:
        wait = duration(max(0.0, (email.next_attempt_at - now).total_seconds()))
        return Finding(
            Level.WARN,
            f"The latest email (#{email.id}) is being retried; the next attempt is in {wait}. "
            f"Last answer: {email.last_response or 'none'}.",
        )
    return Finding(
        Level.INFO,
        f"The latest email (#{email.id}, composed {ago} ago) is {email.status}: "
        "a sender is about to deliver it.",
    )
