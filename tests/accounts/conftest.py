"""Fixtures for the accounts tests: a real database per test (SQLite and PostgreSQL), Accounts
with a cheap hasher."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hearthcam.accounts import Accounts
from hearthcam.store.db import Store
from tests.support.account_factories import PASSWORD, T0, cheap_hasher
from tests.support.store_fixtures import BACKENDS


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each accounts test on SQLite and on PostgreSQL (``tests.support.store_fixtures``)."""
    return str(request.param)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store, hasher=cheap_hasher())


@pytest.fixture
def home(accounts: Accounts) -> int:
    """A household with one owner, 'alice'."""
    owner = accounts.setup("alice", PASSWORD, "Alice's home", ["front", "back"], T0)
    assert owner.household_id is not None
    return owner.household_id
