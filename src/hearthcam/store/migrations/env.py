"""Alembic's environment: runs the revisions on the connection ``store.migrate`` hands over.

At run time ``store.migrate`` puts an open connection, inside its transaction, in
``config.attributes["connection"]``; every revision runs on it. A developer running the
``alembic`` command line (``[tool.alembic]`` in pyproject.toml, docs/upgrading.md) names a
database with ``-x url=...`` (default: a scratch SQLite file under ``build/``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from hearthcam.store.schema import compared_on, metadata

_SCRATCH = Path("build") / "alembic-dev.sqlite"


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch operations copy the table instead.
        render_as_batch=True,
        compare_type=True,
        include_object=compared_on(connection.dialect.name),
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
        context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
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
