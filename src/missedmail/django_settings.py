"""Django settings, derived from `missedmail.conf` (the only place that reads the environment).

`MISSEDMAIL` holds the typed `Settings` for code that needs more than Django's names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from missedmail.conf import load_settings

MISSEDMAIL = load_settings()

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = MISSEDMAIL.secret_key
DEBUG = MISSEDMAIL.debug
ALLOWED_HOSTS = MISSEDMAIL.allowed_hosts

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "missedmail.core",
    "missedmail.scheduling",
    "missedmail.outbox",
    "missedmail.health",
    "missedmail.api",
    "missedmail.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "missedmail.api.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "missedmail.urls"
WSGI_APPLICATION = "missedmail.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database(config: dict[str, Any]) -> dict[str, Any]:
    db = dict(config)
    if db["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on the busy timeout instead of failing to upgrade a
        # read lock ("database is locked") halfway through a transaction.
        db["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        }
    else:
        db.setdefault("OPTIONS", {})
        db["CONN_HEALTH_CHECKS"] = True
        db["OPTIONS"].setdefault("connect_timeout", 5)
    db["CONN_MAX_AGE"] = None  # worker threads keep their connection; health checks renew it
    return db


DATABASES = {"default": _database(MISSEDMAIL.database)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
# Emails and the unsubscribe pages pick the user's language themselves (composing/languages.py).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step

LOGIN_URL = "/ops/login/"
LOGIN_REDIRECT_URL = "/ops/"

# Contract §4: bodies over 10 MiB are answered 413 (see ApiErrorMiddleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING_CONFIG = None  # missedmail.logging configures logging once, from the CLI
