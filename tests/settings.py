"""Django settings for the test suite: the real settings, on a throw-away data dir.

The database is the one `DATABASE_URL` names (SQLite in a temporary folder by default;
`make test` runs the database tests on PostgreSQL too). Environment defaults are set before
the real settings module reads them.
"""

import os
import tempfile

os.environ.setdefault("MISSEDMAIL_DATA_DIR", tempfile.mkdtemp(prefix="missedmail-test-"))
os.environ.setdefault("MISSEDMAIL_API_TOKEN", "test-token-0123456789abcdef")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from missedmail.django_settings import *  # noqa: F403
from missedmail.django_settings import DATABASES, MISSEDMAIL

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's shared in-memory database: WAL and IMMEDIATE transactions behave
    # as in production, and threads each get a real connection.
    DATABASES["default"]["TEST"] = {"NAME": str(MISSEDMAIL.data_dir / "test.sqlite3")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
