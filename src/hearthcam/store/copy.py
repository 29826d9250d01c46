"""Moving an install's SQLite database into an empty PostgreSQL database (``hearthcam db copy``).

The source is opened read-only (SQLite's ``mode=ro``), so the copy never changes it, and must be
at this version's migration head (run hearthcam once to upgrade it: that makes its own backup).
The target must hold no table at all; it is migrated to head by the same Alembic revisions as
any database (``store.migrate``), then every table of ``store.schema`` is copied in foreign-key
order inside ONE transaction, the integer sequences are moved past the copied ids, and each
table's row count is checked against the source before that transaction commits: a failed or
short copy leaves the target's tables empty, to be copied again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

from sqlalchemy import Integer, Table, create_engine, func, insert, inspect, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from hearthcam.errors import StoreError
from hearthcam.store.db import Store
from hearthcam.store.migrate import current_revision, head
from hearthcam.store.schema import metadata

BATCH: Final = 1000

# (table, rows copied so far, rows in all) after each batch and once per table at its start.
Progress = Callable[[str, int, int], None]


class CopyRefused(StoreError):
    """The copy cannot start: the source or the target is not what it must be."""


@dataclass(frozen=True, slots=True)
class CopiedTable:
    """One table copied: its name and its rows (the same in the source and the target)."""

    name: str
    rows: int


def _quiet(_table: str, _done: int, _total: int) -> None:
    return None


def shown(url: str) -> str:
    """A database URL as it may be printed (no password)."""
    return make_url(url).render_as_string(hide_password=True)


def read_only_sqlite(database: Path) -> Engine:
    """An Engine that can only read the SQLite file.

    A database whose last user closed it cleanly has no ``-wal`` file: it is opened
    ``immutable`` (no lock, no ``-shm``/``-wal`` made beside it, so not one byte there changes;
    the caller holds the data directory's lock, so nobody writes it meanwhile). One with a
    ``-wal`` (hearthcam was killed) is opened ``mode=ro``, which reads the WAL's pages too."""
    if not database.is_file():
        raise CopyRefused(f"no SQLite database at {database}")
    wal = database.with_name(database.name + "-wal")
    mode = "mode=ro" if wal.exists() else "immutable=1"
    uri = f"file:{quote(str(database.absolute()))}?{mode}"
    return create_engine(f"sqlite:///{uri}&uri=true")


def copy_database(source: Path, target_url: str, progress: Progress = _quiet) -> list[CopiedTable]:
    """Copies the SQLite database at ``source`` into the empty database at ``target_url``;
    returns each table with its rows. CopyRefused names what is wrong with either side."""
    if make_url(target_url).get_backend_name() != "postgresql":
        raise CopyRefused(f"the target must be a PostgreSQL database, not {shown(target_url)}")
    reader = read_only_sqlite(source)
    writer = create_engine(target_url)
    try:
        with reader.connect() as connection:
            _require_head(connection, source)
            totals = {t.name: _count(connection, t) for t in metadata.sorted_tables}
        _require_empty(writer, target_url)
        Store.open(target_url).close()  # the same revisions as any database, to head
        with writer.begin() as target, reader.connect() as connection:
            copied = [_copy_table(connection, target, t, totals[t.name], progress)
                      for t in metadata.sorted_tables]  # fmt: skip
            _reset_sequences(target)
            _check_counts(target, copied)
        return copied
    except SQLAlchemyError as error:
        raise StoreError(f"copying {source} to {shown(target_url)} failed: {error}") from error
    finally:
        reader.dispose()
        writer.dispose()


def _require_head(connection: Connection, source: Path) -> None:
    revision = current_revision(connection)
    if revision != head():
        raise CopyRefused(
            f"{source} is at revision {revision or 'none'}, not {head()}: run this version of "
            "hearthcam on it once (it upgrades the database, keeping a copy), then copy it"
        )


def _require_empty(writer: Engine, target_url: str) -> None:
    with writer.connect() as connection:
        held = sorted(inspect(connection).get_table_names())
    if held:
        more = f" and {len(held) - 5} more" if len(held) > 5 else ""
        raise CopyRefused(
            f"the target database {shown(target_url)} is not empty: it holds the tables "
            f"{', '.join(held[:5])}{more}; copy into a new, empty database"
        )


def _count(connection: Connection, table: Table) -> int:
    return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def _copy_table(
    source: Connection, target: Connection, table: Table, total: int, progress: Progress
) -> CopiedTable:
    """Streams one table's rows across in batches."""
    progress(table.name, 0, total)
    done = 0
    rows = source.execution_options(yield_per=BATCH).execute(select(table))
    for batch in rows.partitions():
        target.execute(insert(table), [dict(row._mapping) for row in batch])
        done += len(batch)
        progress(table.name, done, total)
    if done != total:
        raise StoreError(
            f"{table.name} had {total} rows and then {done}: stop hearthcam before copying"
        )
    return CopiedTable(table.name, done)


def _reset_sequences(target: Connection) -> None:
    """Moves each integer key's sequence past the largest id copied, so the next row the app
    adds does not collide with a copied one."""
    for table in metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        query = text("SELECT pg_get_serial_sequence(:table, :column)")
        sequence = target.scalar(query, {"table": table.name, "column": keys[0].name})
        if sequence is None:
            continue  # a key the app chooses itself (no sequence)
        largest = target.scalar(select(func.max(keys[0])))
        if largest is not None:
            target.execute(text("SELECT setval(:seq, :value)"), {"seq": sequence, "value": largest})


def _check_counts(target: Connection, copied: list[CopiedTable]) -> None:
    """Raises (rolling the copy back) when a table of the target holds other than what was read."""
    wrong = [
        f"{c.name} ({found} of {c.rows})"
        for c in copied
        if (found := _count(target, metadata.tables[c.name])) != c.rows
    ]
    if wrong:
        raise StoreError(f"the copy's row counts differ from the source: {', '.join(wrong)}")
