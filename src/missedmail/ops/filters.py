"""The filter forms of the operator's lists, and the bounded queries they make.

Each list reads at most `PAGE_ROWS + 1` rows through an index: emails by state use
(status, updated_at), emails of a user use (user, created_at), rejected events use
received_at (a user or message filter narrows a time window; it has no index of its own).
Pages are numbered and capped: no `COUNT(*)` over the table is ever run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from django import forms
from django.db.models import Model, QuerySet
from django.http import QueryDict

from missedmail.ops.userpage import EMAIL_LIST_FIELDS
from missedmail.outbox.models import EmailStatus, OutboundEmail
from missedmail.scheduling.models import EventSource, RejectedEvent

PAGE_ROWS = 50
MAX_PAGE = 100

PERIODS = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "all": None,
}
PERIOD_CHOICES = [
    ("hour", "last hour"),
    ("day", "last 24 hours"),
    ("week", "last 7 days"),
    ("all", "any time"),
]

RowT = TypeVar("RowT", bound=Model)


@dataclass(frozen=True)
class Page(Generic[RowT]):
    rows: list[RowT]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page_of(queryset: QuerySet[RowT], number: int) -> Page[RowT]:
    start = (number - 1) * PAGE_ROWS
    rows = list(queryset[start : start + PAGE_ROWS + 1])
    return Page(rows=rows[:PAGE_ROWS], number=number, has_next=len(rows) > PAGE_ROWS)


class _ListForm(forms.Form):
    period = forms.ChoiceField(choices=PERIOD_CHOICES, required=False)
    page = forms.IntegerField(min_value=1, max_value=MAX_PAGE, required=False)
    default_period = "all"

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        # The form shows the period it applies, also when the query string names none.
        if data is not None and not data.get("period"):
            values = data.dict() if isinstance(data, QueryDict) else dict(data)
            data = {**values, "period": self.default_period}
        super().__init__(data, **kwargs)

    def since(self, now: datetime) -> datetime | None:
        span = PERIODS[self.cleaned_data.get("period") or self.default_period]
        return None if span is None else now - span

    @property
    def page_number(self) -> int:
        number: int | None = self.cleaned_data.get("page")
        return number or 1


class EmailFilterForm(_ListForm):
    status = forms.ChoiceField(choices=[("", "any state"), *EmailStatus.choices], required=False)
    user = forms.IntegerField(min_value=1, required=False, label="User id")

    def queryset(self, now: datetime) -> QuerySet[OutboundEmail]:
        data: dict[str, Any] = self.cleaned_data
        emails = OutboundEmail.objects.only(*EMAIL_LIST_FIELDS)
        if data.get("user"):
            emails = emails.filter(user_id=data["user"])
        if data.get("status"):
            emails = emails.filter(status=data["status"])
        if (since := self.since(now)) is not None:
            emails = emails.filter(updated_at__gte=since)
        if data.get("user"):
            return emails.order_by("-created_at", "-id")  # email_user_recent
        if data.get("status"):
            return emails.order_by("-updated_at", "-id")  # email_status_updated
        return emails.order_by("-id")


class RejectedFilterForm(_ListForm):
    source = forms.ChoiceField(choices=[("", "any source"), *EventSource.choices], required=False)
    user = forms.IntegerField(min_value=1, required=False, label="User id")
    message = forms.IntegerField(min_value=1, required=False, label="Message id")
    default_period = "week"

    def queryset(self, now: datetime) -> QuerySet[RejectedEvent]:
        data: dict[str, Any] = self.cleaned_data
        # The payload (producer input) is only on the detail page.
        events = RejectedEvent.objects.only(
            "id", "received_at", "source", "reason", "field", "user_id", "message_id"
        )
        if data.get("source"):
            events = events.filter(source=data["source"])
        if data.get("user"):
            events = events.filter(user_id=data["user"])
        if data.get("message"):
            events = events.filter(message_id=data["message"])
        if (since := self.since(now)) is not None:
            events = events.filter(received_at__gte=since)
        return events.order_by("-received_at", "-id")


class UserLookupForm(forms.Form):
    q = forms.CharField(max_length=254, label="User id or email address", strip=True, required=True)


class TestEmailForm(forms.Form):
    address = forms.EmailField(max_length=254, label="Send a test email to")
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
