from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from types import ModuleType

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import include, path

from missedmail.clock import ManualClock
from missedmail.conf import Settings
from missedmail.ops.dependencies import OpsDependencies
from missedmail.ops.urls import build_urlpatterns
from tests.factories import Org, make_org


@pytest.fixture
def org() -> Org:
    return make_org()


@pytest.fixture
def missedmail_settings() -> Settings:
    """The test settings without a broker (tests that need one replace `amqp_url`)."""
    return dataclasses.replace(django_settings.MISSEDMAIL, amqp_url=None)


def ops_urlconf(deps: OpsDependencies) -> ModuleType:
    """The operations URLs bound to `deps` (the service's own urlconf binds the system
    clock), beside the admin the templates link to."""
    urlconf = ModuleType("ops_test_urlconf")
    urlconf.urlpatterns = [  # type: ignore[attr-defined]  # a urlconf built at run time
        path("", include((build_urlpatterns(deps), "ops"))),
        path("ops/admin/", admin.site.urls),
    ]
    return urlconf


@pytest.fixture
def ops_client(clock: ManualClock, missedmail_settings: Settings) -> Iterator[Client]:
    """A test client whose operations views read time from the test's `clock`."""
    deps = OpsDependencies(clock=clock, settings=missedmail_settings)
    with override_settings(ROOT_URLCONF=ops_urlconf(deps)):
        yield Client()


@pytest.fixture
def operator(db: None) -> User:
    return User.objects.create_user("operator", password="correct horse battery", is_staff=True)


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser("root", password="correct horse battery")
