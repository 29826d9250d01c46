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

The same machinery migrates another schema given as a ``Schema``: its own script directory,
version table and advisory lock, so two schemas can live in one database (the review hub's
tables beside the home's accounts and view log, ``hub.registry``) and each migrates alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Final

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from hearthcam.errors import StoreError
from hearthcam.store.backup import backup_sqlite
from hearthcam.store.engine import WRITE_LOCK

log = logging.getLogger(__name__)
# Alembic says at INFO which dialect it found each time a context is made, i.e. at every open
# of every database (the hub opens its own six times at start): noise in a server's log. Its
# other lines (each revision run) stay.
logging.getLogger("alembic.runtime.migration").addFilter(
    lambda record: not record.getMessage().startswith(("Context impl", "Will assume"))
)

MIGRATIONS: Final = Path(__file__).with_name("migrations")
LEGACY: Final = "legacy"  # a backup's label for a database made before migrations
_PG_LOCK: Final = 0x6865617274  # "heart": the advisory lock id of hearthcam's migrations


class MigrationError(StoreError):
    """The database cannot be brought to this version's schema."""


@dataclass(frozen=True, slots=True)
class Schema:
    """One schema Alembic keeps: its scripts, the table that records its revision, its lock.

    ``tables``: the tables it makes, when it shares its database with another schema; a copy
    is made first only if one of them is there (empty: any table at all counts)."""

    what: str  # how logs and errors name the database
    scripts: Path  # the script directory (env.py, versions/)
    version_table: str
    lock: int  # PostgreSQL's advisory lock id of its migrations
    label: str = ""  # put before the revision in a copy's name
    secrets: str = "the media keys"  # what a copy holds that the owner should know of
    tables: frozenset[str] = frozenset()


# The home's schema (``store.schema``): the defaults of every function below.
HOME: Final = Schema("the database", MIGRATIONS, "alembic_version", _PG_LOCK)


def alembic_config(connection: Connection | None = None, schema: Schema = HOME) -> Config:
    """Alembic's configuration, pointing into the package (``env.py`` uses ``connection``)."""
    config = Config()
    config.set_main_option("script_location", str(schema.scripts))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _scripts(schema: Schema) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(schema=schema))


def head(schema: Schema = HOME) -> str:
    """The newest revision: the schema this version of hearthcam reads and writes."""
    newest = _scripts(schema).get_current_head()
    if newest is None:
        raise MigrationError(f"no migrations in {schema.scripts}")
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


def current_revision(connection: Connection, schema: Schema = HOME) -> str | None:
    """The revision the database is at (None: never migrated, fresh or made before Alembic)."""
    opts = {"version_table": schema.version_table}
    return MigrationContext.configure(connection, opts=opts).get_current_revision()


def migrate(engine: Engine, now: datetime | None = None, schema: Schema = HOME) -> Path | None:
    """Brings the database to ``head``; returns the copy made of it first, if one was.

    ``engine`` is a Store's (``store.engine.build_engine``): its SQLite transactions begin for
    real, which running every revision in one transaction relies on."""
    target = head(schema)
    with engine.connect() as connection:
        if current_revision(connection, schema) == target:
            return None
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Off outside any transaction (SQLite ignores it inside one): a batch ALTER copies a
            # table and drops the old one, which must not cascade into the rows that refer to it.
            _foreign_keys(connection, on=False)
        try:
            with connection.execution_options(**{WRITE_LOCK: True}).begin():
                return _upgrade(connection, schema, target, now or datetime.now(UTC))
        finally:
            if sqlite:
                _foreign_keys(connection, on=True)


def _upgrade(connection: Connection, schema: Schema, target: str, now: datetime) -> Path | None:
    """Backs the database up when it needs it, then runs every pending revision (write lock
    held)."""
    if connection.dialect.name == "postgresql":
        # PostgreSQL has no BEGIN IMMEDIATE: a transaction-scoped advisory lock keeps two
        # servers starting at once from migrating together.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": schema.lock})
    current = current_revision(connection, schema)
    if current == target:
        return None  # another process migrated it while we waited for the lock
    if current is not None:
        _require_known(schema, current)
    present = set(inspect(connection).get_table_names())
    empty = not (present & schema.tables if schema.tables else present)
    copy = None if empty else _backup(connection, schema, current, now)
    try:
        command.upgrade(alembic_config(connection, schema), "head")
    except CommandError as error:
        raise MigrationError(f"migrating {schema.what} failed: {error}") from error
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise MigrationError(f"a migration broke {len(broken)} foreign keys: {broken[:5]}")
    was = "empty" if empty else current or LEGACY
    log.info("%s migrated from %s to %s", schema.what, was, target)
    return copy


def _require_known(schema: Schema, revision: str) -> None:
    """Raises when the database is at a revision this version has no script for."""
    try:
        _scripts(schema).get_revision(revision)
    except CommandError as error:
        raise MigrationError(
            f"{schema.what} is at revision {revision}, which this version of hearthcam does not"
            " know (was it opened by a newer version?); restore the backup made before that"
            " upgrade, or run the newer version"
        ) from error


def _backup(
    connection: Connection, schema: Schema, current: str | None, now: datetime
) -> Path | None:
    """Copies a SQLite file; None for an in-memory database or another kind of database (back
    those up with their own tools)."""
    database = connection.engine.url.database
    if connection.dialect.name == "postgresql":
        log.warning(
            "migrating %s (the PostgreSQL database %s) to revision %s (in one transaction);"
            " hearthcam makes no copy of a server's database: keep a pg_dump from before"
            " (docs/upgrading.md)",
            schema.what,
            database,
            head(schema),
        )
        return None
    if connection.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    copy = backup_sqlite(Path(str(database)), schema.label + (current or LEGACY), now)
    log.warning(
        "migrating %s %s to revision %s; a copy from before is at %s (it holds %s of that"
        " time: delete it once this version runs well; docs/upgrading.md)",
        schema.what,
        database,
        head(schema),
        copy,
        schema.secrets,
    )
    return copy


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    """Turns SQLite's foreign key enforcement on or off for this connection (no transaction)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


#: Alembic's ``include_object``: whether a compared object belongs to the schema.
IncludeObject = Callable[[object, str | None, str, bool, object], bool]


def run_environment(
    metadata: MetaData,
    scratch: str,
    version_table: str = "alembic_version",
    include: Callable[[str], IncludeObject] | None = None,
) -> None:
    """What a schema's ``env.py`` runs: its revisions on the connection ``migrate`` hands over
    (inside its transaction), or, for a developer's ``alembic`` command line, on the database
    named by ``-x url=...`` (default: the scratch SQLite file ``build/SCRATCH``), or as SQL for
    a DBA (``alembic upgrade --sql``). ``include(dialect)``: which objects the comparison with
    the models sees on that dialect."""

    def configure(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=version_table,
            # SQLite cannot ALTER most things; batch operations copy the table instead.
            render_as_batch=True,
            compare_type=True,
            include_object=None if include is None else include(connection.dialect.name),
        )
        with context.begin_transaction():
            context.run_migrations()

    def url() -> str:
        given = context.get_x_argument(as_dictionary=True).get("url")
        if given:
            return str(given)
        folder = Path("build")
        folder.mkdir(exist_ok=True)
        return f"sqlite:///{folder / scratch}"

    if context.is_offline_mode():  # ``alembic upgrade --sql``: the SQL, for a DBA to run
        context.configure(
            url=url(), target_metadata=metadata, version_table=version_table, literal_binds=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    handed: Connection | None = context.config.attributes.get("connection")
    if handed is not None:
        configure(handed)
        return
    engine = create_engine(url())
    try:
        with engine.connect() as connection:
            configure(connection)
            connection.commit()
    finally:
        engine.dispose()
