"""Alembic's environment of the hub's tables: runs their revisions on the connection handed over.

At run time ``hub.registry.open_hub_engine`` migrates through ``store.migrate`` with the hub's
``Schema``, which puts an open connection, inside its transaction, in
``config.attributes["connection"]``; every revision runs on it. The revision is recorded in
``hub_alembic_version``: the hub's database also holds the home's schema (the hub's accounts and
view log, recorded in ``alembic_version`` by the home's revisions), so each compares and migrates
only its own tables. A developer running the ``alembic`` command line names this directory with
``-c src/hearthcam/hub/migrations/alembic.ini`` and a database with ``-x url=...`` (default: a
scratch SQLite file under ``build/``; docs/upgrading.md).
"""

from __future__ import annotations

from pathlib import Path

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from hearthcam.hub.registry import VERSION_TABLE, metadata

_SCRATCH = Path("build") / "alembic-hub-dev.sqlite"


def _ours(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
    """Only the hub's tables: the home's tables in the same database are not for these
    revisions to make or drop."""
    return kind != "table" or name in metadata.tables


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things; batch operations copy the table instead.
        render_as_batch=True,
        compare_type=True,
        include_object=_ours,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    _SCRATCH.parent.mkdir(exist_ok=True)
    return f"sqlite:///{_SCRATCH}"


def _run() -> None:
    if context.is_offline_mode():  # ``alembic upgrade --sql``: the SQL, for a DBA to run
        context.configure(
            url=_url(), target_metadata=metadata, version_table=VERSION_TABLE, literal_binds=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    handed: Connection | None = context.config.attributes.get("connection")
    if handed is not None:
        _configure(handed)
        return
    engine = create_engine(_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            connection.commit()
    finally:
        engine.dispose()


_run()
