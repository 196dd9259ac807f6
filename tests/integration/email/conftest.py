from __future__ import annotations

import pytest

from tests.factories import Org, make_org

# Fixtures shared by this folder's tests live with the helpers that use them.
from tests.integration.email.support import mail_server, transport  # noqa: F401 -- fixtures


@pytest.fixture
def org(db: None) -> Org:
    return make_org()
