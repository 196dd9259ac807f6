"""The recipient of a batch, and what their settings and their organisation's settings
decide for every email in it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from missedmail.composing.content import RenderContext
from missedmail.composing.languages import email_language
from missedmail.composing.thread_roots import realm_host
from missedmail.core.models import RealmNamePolicy, UserProfile


@dataclass(frozen=True)
class Reader:
    user: UserProfile
    realm_url: str  # without a trailing slash
    realm_host: str
    language: str  # the user's language when we ship it, else English (see languages.py)
    content_hidden_by_realm: bool
    content_hidden_by_user: bool
    # Replies are read only when the gateway is configured and the email shows content
    # (behaviour §6: Zulip offered a reply address even when content was hidden).
    reply_by_email: bool
    realm_name_in_subject: bool

    @property
    def show_content(self) -> bool:
        return not (self.content_hidden_by_realm or self.content_hidden_by_user)

    @property
    def realm_name(self) -> str:
        return self.user.realm.name

    def render_context(self, stream_ids: Mapping[str, int]) -> RenderContext:
        return RenderContext(
            realm_url=self.realm_url,
            timezone=self.user.timezone,
            twenty_four_hour_time=self.user.twenty_four_hour_time,
            stream_ids=stream_ids,
            language=self.language,
        )


def wants_realm_name_in_subject(user: UserProfile, address_is_shared: Callable[[], bool]) -> bool:
    """Policy 2 always, 3 never, 1 (automatic) when the address has several accounts;
    `address_is_shared` is a query, so it only runs for the automatic policy."""
    match user.realm_name_in_email_notifications_policy:
        case RealmNamePolicy.ALWAYS:
            return True
        case RealmNamePolicy.NEVER:
            return False
    return address_is_shared()


def make_reader(user: UserProfile, *, gateway_configured: bool, realm_name: bool) -> Reader:
    realm = user.realm
    hidden_by_realm = not realm.message_content_allowed_in_email_notifications
    hidden_by_user = not user.message_content_in_email_notifications
    return Reader(
        user=user,
        realm_url=realm.url.strip().rstrip("/"),
        realm_host=realm_host(realm.url),
        language=email_language(user.default_language),
        content_hidden_by_realm=hidden_by_realm,
        content_hidden_by_user=hidden_by_user,
        reply_by_email=gateway_configured and not (hidden_by_realm or hidden_by_user),
        realm_name_in_subject=realm_name,
    )
