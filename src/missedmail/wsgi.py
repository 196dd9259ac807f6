"""WSGI entry point for `missedmail web` and for external servers such as gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missedmail.django_settings")
application = get_wsgi_application()
