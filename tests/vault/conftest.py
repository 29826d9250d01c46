"""The vault tests run on SQLite and on PostgreSQL (``tests.support.store_fixtures``)."""

from __future__ import annotations

import pytest

from tests.support.store_fixtures import BACKENDS


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test with a store once per database."""
    return str(request.param)
