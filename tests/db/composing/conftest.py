from __future__ import annotations

import pytest

from tests.factories import Org, make_org


@pytest.fixture
def org() -> Org:
    return make_org()
