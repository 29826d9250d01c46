"""The one Engine of a Store, and the write lock every write session takes.

Every write path of the store was written for SQLite's one-writer-at-a-time: a write session
reads (the view log's head, a lease count, a key row) and then writes what follows from what
it read. On SQLite that holds because a write session begins with ``BEGIN IMMEDIATE`` (WAL,
busy timeout): writers queue for the one write lock, readers never wait.

On PostgreSQL a write session takes the same single lock: its first statement is
``pg_advisory_xact_lock(WRITE_KEY)``, a transaction-level advisory lock released by COMMIT or
ROLLBACK (never left behind by a crashed client: the server ends the transaction). Under READ
COMMITTED each later statement sees every transaction that committed before the lock was
granted, so a read-then-write inside a write session is exactly as atomic as on SQLite, from
any number of processes and machines, and readers still never wait (MVCC).

Why not SERIALIZABLE with retry, or ``SELECT ... FOR UPDATE``: a write session's body is the
caller's code (it signs checkpoints, wraps keys, counts quotas), not something the store could
re-run after a serialization failure; and row locks cannot guard "no row yet" (the first view
log head, the count of a quota), which the advisory lock does. The cost is that writes are
serialized, as on SQLite; write transactions are short (milliseconds), and docs/scale.md has
what the tests measured. Constraints stay the second line of defence (primary keys, the
leases' partial unique indexes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from hearthcam.errors import StoreError

# The execution option a write session sets so the "begin" listener takes the write lock up
# front (BEGIN IMMEDIATE): a read-then-write transaction in WAL mode fails at once with
# SQLITE_BUSY_SNAPSHOT if another thread committed in between, and no busy timeout helps.
WRITE_LOCK: Final = "hearthcam_sqlite_begin"
# PostgreSQL's advisory lock key of write sessions ("hearth", apart from migrate's "heart").
WRITE_KEY: Final = 0x686561727468
# The session-level advisory lock of the one server that recovers and writes a database.
SERVER_KEY: Final = 0x6865617274686F


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


def _postgres_on_begin(conn: Connection) -> None:
    """Takes the write lock as a write session's first statement (held until it ends)."""
    if conn.get_execution_options().get(WRITE_LOCK):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_KEY})


def claim(engine: Engine) -> Connection | None:
    """Takes the server's lock of a PostgreSQL database on a connection of its own, held until
    that connection closes (None on SQLite, whose file lives in the data directory its ``flock``
    guards). Raises StoreError when another server holds it: two servers with two data
    directories on one database would each run start-up recovery against the other's rows."""
    if engine.dialect.name != "postgresql":
        return None
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    query = text("SELECT pg_try_advisory_lock(:key)")
    if not connection.scalar(query, {"key": SERVER_KEY}):
        connection.close()
        shown = engine.url.render_as_string(hide_password=True)
        raise StoreError(
            f"another hearthcam server holds the database {shown}: one server per database "
            "(docs/scale.md)"
        )
    return connection


#: The advisory-lock class of cameras' claims (``claim_camera``), beside the server's key.
CAMERA_CLASS: Final = 0x68636D
#: How the server watches a claim's connection over TCP: idle seconds before the first probe,
#: seconds between probes, probes lost, and milliseconds unacknowledged data may wait.
CLAIM_KEEPALIVE: Final = {
    "tcp_keepalives_idle": 10,
    "tcp_keepalives_interval": 5,
    "tcp_keepalives_count": 3,
    "tcp_user_timeout": 25_000,
}


def claim_camera(engine: Engine, camera: str) -> Connection | None:
    """Takes ``camera``'s lock of a PostgreSQL database on a connection of its own, held until
    that connection closes; None when another process holds it (its recorder is alive: one
    whose cluster node stopped answering Ray may still reach the database and write)."""
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    # A holder whose machine lost power never closes its connection: the server must notice
    # the silence (keepalives over TCP; Unix sockets ignore these) and free the lock within
    # about half a minute, not the operating system's two hours.
    for setting, value in CLAIM_KEEPALIVE.items():
        connection.execute(text(f"SET {setting} = {value:d}"))
    query = text("SELECT pg_try_advisory_lock(:kind, hashtext(:camera))")
    if not connection.scalar(query, {"kind": CAMERA_CLASS, "camera": camera}):
        connection.close()
        return None
    return connection


def build_engine(url: str, busy_timeout: float, wal: bool) -> Engine:
    """Creates the one Engine of a Store, with SQLite tuned for several threads."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        # A writer waits for the lock at most ``busy_timeout``, as SQLite's busy timeout does.
        options = f"-c lock_timeout={int(busy_timeout * 1000):d}"
        engine = create_engine(url, pool_pre_ping=True, connect_args={"options": options})
        event.listen(engine, "begin", _postgres_on_begin)
        return engine
    if backend != "sqlite":
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
