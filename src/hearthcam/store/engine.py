"""The one Engine of a Store: SQLite tuned for several threads (WAL, busy timeout, BEGIN
IMMEDIATE for writers), any other database as SQLAlchemy makes it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

# The execution option a write session sets so the "begin" listener takes the write lock up
# front (BEGIN IMMEDIATE): a read-then-write transaction in WAL mode fails at once with
# SQLITE_BUSY_SNAPSHOT if another thread committed in between, and no busy timeout helps.
WRITE_LOCK: Final = "hearthcam_sqlite_begin"


def _sqlite_on_connect(busy_ms: int, wal: bool) -> Callable[[Any, ConnectionPoolEntry], None]:
    """Returns a connect listener that sets the pragmas every SQLite connection needs."""

    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        conn: sqlite3.Connection = dbapi_connection
        # The driver's own implicit BEGIN is turned off; ``_sqlite_on_begin`` issues ours.
        conn.isolation_level = None
        cursor = conn.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms:d}")
        cursor.close()

    return on_connect


def _sqlite_on_begin(conn: Connection) -> None:
    """Starts each transaction, taking the write lock at once for write sessions."""
    mode = "IMMEDIATE" if conn.get_execution_options().get(WRITE_LOCK) else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def build_engine(url: str, busy_timeout: float, wal: bool) -> Engine:
    """Creates the one Engine of a Store, with SQLite tuned for several threads."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    memory = parsed.database in (None, "", ":memory:")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout},
        # An in-memory database exists once per connection, so every thread must share one.
        poolclass=StaticPool if memory else None,
    )
    event.listen(engine, "connect", _sqlite_on_connect(int(busy_timeout * 1000), wal))
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine
