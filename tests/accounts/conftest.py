"""Fixtures for the accounts tests: a real SQLite file per test, Accounts with a cheap hasher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hearthcam.accounts import Accounts
from hearthcam.store.db import Store
from tests.support.account_factories import PASSWORD, T0, cheap_hasher


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'hearthcam.db'}") as opened:
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
