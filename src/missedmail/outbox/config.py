"""What the outbox needs to know about this installation, grouped once."""

from __future__ import annotations

from dataclasses import dataclass

from missedmail.conf import ConfigError, Settings
from missedmail.outbox.headers import InvalidAddressError, envelope_address

# What a reply token looks like, to check the gateway pattern makes an address of it.
SAMPLE_REPLY_TOKEN = "mm" + "0" * 32


@dataclass(frozen=True)
class OutboxConfig:
    from_name: str  # "<installation name> notifications"
    noreply_email: str  # envelope sender, From, and Reply-To when reply-by-email is off
    gateway_pattern: str  # "%s@chat.example.com", or "" when reply-by-email is off
    public_url: str  # base of the one-click unsubscribe link, no trailing slash

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboxConfig:
        """The config; `ConfigError` naming the variable when an address it makes could not
        be written into an email (checked at start, not at the first email)."""
        config = cls(
            from_name=settings.from_display_name,
            noreply_email=settings.noreply_email,
            gateway_pattern=settings.email_gateway_pattern,
            public_url=settings.public_url,
        )
        config.check()
        return config

    def check(self) -> None:
        try:
            envelope_address(self.noreply_email)
        except InvalidAddressError as error:
            raise ConfigError(
                f"MISSEDMAIL_NOREPLY_EMAIL: cannot be used in an email: {error}"
            ) from None
        if self.gateway_pattern:
            try:
                envelope_address(self.reply_address(SAMPLE_REPLY_TOKEN))
            except InvalidAddressError as error:
                raise ConfigError(
                    f"MISSEDMAIL_EMAIL_GATEWAY_PATTERN: does not make an email address: {error}"
                ) from None

    @property
    def noreply_domain(self) -> str:
        return self.noreply_email.rpartition("@")[2]

    def reply_address(self, token: str) -> str:
        # str.replace, not %: the pattern is operator input and may hold other % signs.
        return self.gateway_pattern.replace("%s", token)
