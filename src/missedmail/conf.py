"""Typed settings, read once from the environment.

Every variable of the contract (§2) is parsed here and nowhere else. A bad value raises
`ConfigError` whose message starts with the variable's name; the CLI prints that one line
and exits, so an operator never sees a traceback and never gets a silent default.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
API_TOKEN_FILE = "api-token"  # noqa: S105 -- a file name, not a secret
SECRET_KEY_FILE = "secret-key"  # noqa: S105 -- a file name, not a secret


class ConfigError(Exception):
    """A setting is invalid. The message names the variable and fits on one line."""


@dataclass(frozen=True)
class EmailSettings:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    use_tls: bool
    use_ssl: bool
    timeout_seconds: float | None

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class DeliverySettings:
    """How the outbox retries and leases (docs/reliability.md): MISSEDMAIL_RETRY_* and
    MISSEDMAIL_SEND_LEASE_SECONDS."""

    retry_attempts: int = 8
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 600.0
    lease_seconds: float = 300.0


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database: dict[str, Any]
    database_is_embedded: bool
    amqp_url: str | None
    email: EmailSettings
    api_token: str = field(repr=False)
    bind_host: str
    bind_port: int
    public_url: str
    noreply_email: str
    installation_name: str
    email_gateway_pattern: str
    staging: bool
    secret_key: str = field(repr=False)
    debug: bool
    allowed_hosts: list[str]
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    # MISSEDMAIL_RENDER_AHEAD_SECONDS: how long before their due time pending notifications'
    # messages are rendered, in the worker's idle time (worker/render_ahead.py); 0: never.
    render_ahead_seconds: float = 60.0

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def from_display_name(self) -> str:
        return f"{self.installation_name} notifications"

    @property
    def bind_url(self) -> str:
        host = f"[{self.bind_host}]" if ":" in self.bind_host else self.bind_host
        return f"http://{host}:{self.bind_port}"


def parse_bool(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def parse_int(name: str, raw: str, *, low: int, high: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def parse_float(name: str, raw: str, *, low: float, high: float) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
    return value


def parse_database_url(raw: str) -> dict[str, Any]:
    try:
        config = dict(dj_database_url.parse(raw, conn_max_age=0))
    except Exception as error:  # dj-database-url raises several types for bad URLs
        raise ConfigError(f"DATABASE_URL: cannot use {redact_url(raw)!r}: {error}") from None
    engine = config.get("ENGINE", "")
    if engine not in ("django.db.backends.sqlite3", "django.db.backends.postgresql"):
        raise ConfigError(
            f"DATABASE_URL: unsupported database {engine or redact_url(raw)!r}; "
            "use sqlite:/// or postgres://"
        )
    if engine == "django.db.backends.sqlite3" and not config.get("NAME"):
        raise ConfigError("DATABASE_URL: an SQLite URL needs a file path, e.g. sqlite:///var/db")
    return config


def redact_url(raw: str) -> str:
    """The URL with its password replaced, for error messages."""
    try:
        parts = urlsplit(raw)
    except ValueError:
        return "<unparseable URL>"
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return raw


def parse_amqp_url(raw: str) -> str:
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 -- evaluating it validates the port
    except ValueError as error:
        raise ConfigError(f"AMQP_URL: cannot parse {redact_url(raw)!r}: {error}") from None
    if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
        raise ConfigError(
            f"AMQP_URL: expected amqp://user:password@host:port/vhost, got {redact_url(raw)!r}"
        )
    return raw


def parse_bind(raw: str) -> tuple[str, int]:
    host, sep, port = raw.strip().rpartition(":")
    if not sep or not host:
        raise ConfigError(f"MISSEDMAIL_BIND: expected host:port, got {raw!r}")
    host = host.strip("[]")
    return host, parse_int("MISSEDMAIL_BIND", port, low=0, high=65535)


def parse_public_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"MISSEDMAIL_PUBLIC_URL: expected an http(s) URL, got {raw!r}")
    return raw.strip().rstrip("/")


def parse_email_address(name: str, raw: str) -> str:
    value = raw.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(c in value for c in " \r\n<>,;\"'"):
        raise ConfigError(f"{name}: expected a plain email address, got {raw!r}")
    return value


def parse_gateway_pattern(raw: str) -> str:
    value = raw.strip()
    if value and (value.count("%s") != 1 or "@" not in value or any(c in value for c in " \r\n")):
        raise ConfigError(
            "MISSEDMAIL_EMAIL_GATEWAY_PATTERN: expected one %s and a domain, "
            f"e.g. %s@chat.example.com, got {raw!r}"
        )
    return value


def parse_header_text(name: str, raw: str) -> str:
    value = raw.strip()
    if not value or any(ord(c) < 32 for c in value):
        raise ConfigError(f"{name}: expected a non-empty single line, got {raw!r}")
    return value


def parse_delivery(get: Callable[[str, str], str]) -> DeliverySettings:
    defaults = DeliverySettings()

    def number(name: str, default: float, high: float) -> float:
        return parse_float(name, get(name, "") or str(default), low=0.01, high=high)

    base = number("MISSEDMAIL_RETRY_BASE_SECONDS", defaults.retry_base_seconds, 86400)
    most = number("MISSEDMAIL_RETRY_MAX_SECONDS", defaults.retry_max_seconds, 7 * 86400)
    if most < base:
        raise ConfigError(
            f"MISSEDMAIL_RETRY_MAX_SECONDS: must be at least MISSEDMAIL_RETRY_BASE_SECONDS "
            f"({base:g}), got {most:g}"
        )
    attempts_raw = get("MISSEDMAIL_RETRY_ATTEMPTS", "") or str(defaults.retry_attempts)
    return DeliverySettings(
        retry_attempts=parse_int("MISSEDMAIL_RETRY_ATTEMPTS", attempts_raw, low=1, high=100),
        retry_base_seconds=base,
        retry_max_seconds=most,
        lease_seconds=number("MISSEDMAIL_SEND_LEASE_SECONDS", defaults.lease_seconds, 86400),
    )


def read_or_create_secret(path: Path, *, nbytes: int) -> str:
    """A secret kept in the data dir so it survives restarts; created (mode 0600) if absent."""
    try:
        existing = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    value = secrets.token_urlsafe(nbytes)
    # O_EXCL: two processes starting at once must not each write a different secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(value + "\n")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ

    def get(name: str, default: str = "") -> str:
        return env.get(name, default)

    data_dir = Path(get("MISSEDMAIL_DATA_DIR", "./var") or "./var").resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"MISSEDMAIL_DATA_DIR: cannot create {data_dir}: {error}") from None

    database_url = get("DATABASE_URL").strip()
    embedded = not database_url
    if embedded:
        database_url = f"sqlite:///{data_dir / 'missedmail.sqlite3'}"
    database = parse_database_url(database_url)

    amqp_raw = get("AMQP_URL").strip()
    amqp_url = parse_amqp_url(amqp_raw) if amqp_raw else None

    use_tls = parse_bool("EMAIL_USE_TLS", get("EMAIL_USE_TLS", "false"))
    use_ssl = parse_bool("EMAIL_USE_SSL", get("EMAIL_USE_SSL", "false"))
    if use_tls and use_ssl:
        raise ConfigError("EMAIL_USE_SSL: cannot be true together with EMAIL_USE_TLS")
    timeout_raw = get("EMAIL_TIMEOUT").strip()
    email = EmailSettings(
        host=get("EMAIL_HOST").strip(),
        port=parse_int("EMAIL_PORT", get("EMAIL_PORT", "25") or "25", low=1, high=65535),
        user=get("EMAIL_HOST_USER"),
        password=get("EMAIL_HOST_PASSWORD"),
        use_tls=use_tls,
        use_ssl=use_ssl,
        timeout_seconds=(
            parse_float("EMAIL_TIMEOUT", timeout_raw, low=0.1, high=3600) if timeout_raw else None
        ),
    )

    bind_host, bind_port = parse_bind(get("MISSEDMAIL_BIND", "127.0.0.1:8000"))
    bind_url_host = f"[{bind_host}]" if ":" in bind_host else bind_host
    public_url = parse_public_url(
        get("MISSEDMAIL_PUBLIC_URL") or f"http://{bind_url_host}:{bind_port}"
    )

    # The embedded mode is for a developer's machine: DEBUG defaults on there, and off
    # whenever a real database is configured (docs/configuration.md).
    debug = parse_bool("DEBUG", get("DEBUG", "true" if embedded else "false"))
    secret_key = get("SECRET_KEY").strip()
    if not secret_key:
        if not debug:
            raise ConfigError("SECRET_KEY: required when DEBUG is false")
        secret_key = read_or_create_secret(data_dir / SECRET_KEY_FILE, nbytes=48)

    api_token = get("MISSEDMAIL_API_TOKEN").strip()
    if not api_token:
        api_token = read_or_create_secret(data_dir / API_TOKEN_FILE, nbytes=32)
    elif len(api_token) < 16 or any(ord(c) <= 32 or ord(c) > 126 for c in api_token):
        raise ConfigError("MISSEDMAIL_API_TOKEN: expected at least 16 printable ASCII characters")

    allowed_raw = get("ALLOWED_HOSTS").strip()
    public_host = urlsplit(public_url).hostname or "localhost"
    allowed_hosts = (
        [host.strip() for host in allowed_raw.split(",") if host.strip()]
        if allowed_raw
        else sorted({"localhost", "127.0.0.1", "[::1]", bind_host, public_host})
    )

    return Settings(
        data_dir=data_dir,
        database=database,
        database_is_embedded=embedded,
        amqp_url=amqp_url,
        email=email,
        api_token=api_token,
        bind_host=bind_host,
        bind_port=bind_port,
        public_url=public_url,
        noreply_email=parse_email_address(
            "MISSEDMAIL_NOREPLY_EMAIL", get("MISSEDMAIL_NOREPLY_EMAIL", "noreply@localhost")
        ),
        installation_name=parse_header_text(
            "MISSEDMAIL_INSTALLATION_NAME", get("MISSEDMAIL_INSTALLATION_NAME", "missedmail")
        ),
        email_gateway_pattern=parse_gateway_pattern(get("MISSEDMAIL_EMAIL_GATEWAY_PATTERN")),
        staging=parse_bool("MISSEDMAIL_STAGING", get("MISSEDMAIL_STAGING", "false")),
        secret_key=secret_key,
        debug=debug,
        allowed_hosts=allowed_hosts,
        delivery=parse_delivery(get),
        render_ahead_seconds=parse_float(
            "MISSEDMAIL_RENDER_AHEAD_SECONDS",
            get("MISSEDMAIL_RENDER_AHEAD_SECONDS", "") or "60",
            low=0,
            high=86400,
        ),
    )
