"""Schema migrations at start: Alembic brings a database to the newest revision (``head``).

``Store.open`` calls ``migrate``. A database already at head is left alone. Otherwise, under
a lock (SQLite's write lock, BEGIN IMMEDIATE; an advisory lock on PostgreSQL), so that two
processes starting at once migrate once, a SQLite file that holds tables is first copied next to
itself (``store.backup``), then every pending revision runs in that one transaction: SQLite and
PostgreSQL both roll DDL back, so a failed migration leaves the database as it was.

A database made before migrations existed (tables, no ``alembic_version``) needs no special
path: the baseline revision creates only the tables it lacks (older versions made some tables
only when their module was first used), so upgrading records it at the baseline and goes on.

The revisions live in ``migrations/versions``; Alembic runs them with the connection handed to
``migrations/env.py``, so no ``alembic.ini`` is needed at run time (docs/upgrading.md).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from hearthcam.errors import StoreError
from hearthcam.store.backup import backup_sqlite
from hearthcam.store.engine import WRITE_LOCK

log = logging.getLogger(__name__)

MIGRATIONS: Final = Path(__file__).with_name("migrations")
LEGACY: Final = "legacy"  # a backup's label for a database made before migrations
_PG_LOCK: Final = 0x6865617274  # "heart": the advisory lock id of hearthcam's migrations


class MigrationError(StoreError):
    """The database cannot be brought to this version's schema."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, pointing into the package (``env.py`` uses ``connection``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision: the schema this version of hearthcam reads and writes."""
    newest = _scripts().get_current_head()
    if newest is None:
        raise MigrationError(f"no migrations in {MIGRATIONS}")
    return newest


def holds_no_table(url: str) -> bool:
    """Whether the database at ``url`` has no table at all (False when it cannot be reached:
    opening it then says why)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return not inspect(connection).get_table_names()
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: never migrated, fresh or made before Alembic)."""
    return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine, now: datetime | None = None) -> Path | None:
    """Brings the database to ``head``; returns the copy made of it first, if one was.

    ``engine`` is a Store's (``store.engine.build_engine``): its SQLite transactions begin for
    real, which running every revision in one transaction relies on."""
    target = head()
    with engine.connect() as connection:
        if current_revision(connection) == target:
            return None
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Off outside any transaction (SQLite ignores it inside one): a batch ALTER copies a
            # table and drops the old one, which must not cascade into the rows that refer to it.
            _foreign_keys(connection, on=False)
        try:
            with connection.execution_options(**{WRITE_LOCK: True}).begin():
                return _upgrade(connection, target, now or datetime.now(UTC))
        finally:
            if sqlite:
                _foreign_keys(connection, on=True)


def _upgrade(connection: Connection, target: str, now: datetime) -> Path | None:
    """Backs the database up when it needs it, then runs every pending revision (write lock
    held)."""
    if connection.dialect.name == "postgresql":
        # PostgreSQL has no BEGIN IMMEDIATE: a transaction-scoped advisory lock keeps two
        # servers starting at once from migrating together.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    current = current_revision(connection)
    if current == target:
        return None  # another process migrated it while we waited for the lock
    if current is not None:
        _require_known(current)
    empty = not inspect(connection).get_table_names()
    copy = None if empty else _backup(connection, current, now)
    try:
        command.upgrade(alembic_config(connection), "head")
    except CommandError as error:
        raise MigrationError(f"migrating the database failed: {error}") from error
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise MigrationError(f"a migration broke {len(broken)} foreign keys: {broken[:5]}")
    log.info("database migrated from %s to %s", "empty" if empty else current or LEGACY, target)
    return copy


def _require_known(revision: str) -> None:
    """Raises when the database is at a revision this version has no script for."""
    try:
        _scripts().get_revision(revision)
    except CommandError as error:
        raise MigrationError(
            f"the database is at revision {revision}, which this version of hearthcam does not"
            " know (was it opened by a newer version?); restore the backup made before that"
            " upgrade, or run the newer version"
        ) from error


def _backup(connection: Connection, current: str | None, now: datetime) -> Path | None:
    """Copies a SQLite file; None for an in-memory database or another kind of database (back
    those up with their own tools)."""
    database = connection.engine.url.database
    if connection.dialect.name == "postgresql":
        log.warning(
            "migrating the PostgreSQL database %s to revision %s (in one transaction); hearthcam"
            " makes no copy of a server's database: keep a pg_dump from before (docs/upgrading.md)",
            database,
            head(),
        )
        return None
    if connection.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    copy = backup_sqlite(Path(str(database)), current or LEGACY, now)
    log.warning(
        "migrating the database %s to revision %s; a copy from before is at %s (it holds the"
        " media keys of that time: delete it once this version runs well; docs/upgrading.md)",
        database,
        head(),
        copy,
    )
    return copy


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    """Turns SQLite's foreign key enforcement on or off for this connection (no transaction)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
