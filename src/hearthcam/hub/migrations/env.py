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

from hearthcam.hub.registry import VERSION_TABLE, metadata
from hearthcam.store.migrate import run_environment


def _ours(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
    """Only the hub's tables: the home's tables in the same database are not for these
    revisions to make or drop."""
    return kind != "table" or name in metadata.tables


run_environment(metadata, "alembic-hub-dev.sqlite", VERSION_TABLE, include=lambda dialect: _ours)
