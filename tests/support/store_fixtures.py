"""Fixtures of the store, vault and view-log tests: a data directory and a real store inside it
(modules or folders with a store of another shape define their own, which win).

The store is SQLite unless a folder's ``conftest.py`` overrides ``backend`` with
``BACKENDS`` (both databases): then each test runs on SQLite and on PostgreSQL. PostgreSQL is
one real server for the whole session (``tests.support.postgres``), started only when a test
first needs it; each test gets a fresh database copied from one migrated at head (a template
copy takes milliseconds, a migration most of a second). A test that needs SQLite itself (raw
file edits, WAL, pragmas) says so with ``SQLITE_ONLY``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from hearthcam.store.db import Store
from tests.support.postgres import database_name, new_database, postgres_server, server_installed
from tests.support.required import require

BACKENDS: Final = ("sqlite", "postgresql")
# Direct parametrization wins over the folder's ``backend`` fixture.
SQLITE_ONLY: Final = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture(scope="session")
def postgres_host() -> Iterator[str]:
    """One real PostgreSQL server (Debian's) for the session; yields its socket folder."""
    require(server_installed(), "PostgreSQL server binaries (Debian's postgresql package)")
    with postgres_server() as host:
        yield host


@pytest.fixture(scope="session")
def postgres_template(postgres_host: str) -> str:
    """A database migrated to head, the template of every test's own (its name)."""
    url = new_database(postgres_host)
    Store.open(url).close()
    return database_name(url)


@pytest.fixture
def backend() -> str:
    """The database the store runs on ("sqlite" or "postgresql")."""
    return "sqlite"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, backend: str, data_dir: Path) -> str:
    """A new database of ``backend`` for this test (SQLite: a file in ``data_dir``)."""
    if backend == "sqlite":
        return f"sqlite:///{data_dir / 'hearthcam.sqlite'}"
    host: str = request.getfixturevalue("postgres_host")
    return new_database(host, request.getfixturevalue("postgres_template"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def store(database_url: str, data_dir: Path) -> Iterator[Store]:
    with Store.open(database_url, data_dir=data_dir) as opened:
        yield opened
