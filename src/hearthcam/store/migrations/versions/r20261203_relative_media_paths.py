"""Media paths relative to the data directory: segments.path, events.clip, events.snapshot.

Revision ID: 2c7d0b610f4d
Revises: 0c1a7f5e2b10
Create Date: 2026-12-03 15:00:00

Before this revision the three columns held absolute paths (``<data_dir>/recordings/...``), so a
data directory moved or restored elsewhere lost every clip. From now on they hold the path
relative to the data directory, POSIX (``layout.stored_path``); the store joins it with the
data directory it runs on.

Which part of an old absolute path is the data directory is derived per row from the media
layout, not taken from the data directory hearthcam is started with: every media file has always
lived at ``<data_dir>/<recordings|clips|snapshots>/<camera>/<YYYY-MM-DD>/<file>``, so the last four
parts are the relative path, whatever came before them. That is exact for every row written by
the layout (a data directory whose own path holds ``recordings`` is no trouble, as the parts are
counted from the end), and it is right in the very case this revision is for: a data directory
restored or moved elsewhere *before* this upgrade, whose rows name the old place, which the data
directory of the new place cannot tell. It also needs nothing but the rows, so the ``alembic``
command line and PostgreSQL need no data directory.

- An absolute path in that layout becomes relative.
- A relative path in that layout with something before it (written relative to the working
  directory, by versions before the data directory was made absolute) loses that prefix.
- A relative path otherwise is taken to be relative to the data directory already: untouched.
- An absolute path outside that layout is left as it is and logged (the store reads it only if
  it lies inside the data directory).
- Two segment rows that come to name the same file (a data directory moved and indexed again
  before an upgrade) are one: the later row is deleted, logged (``segments.path`` is unique).

Plain SELECTs and UPDATEs through SQLAlchemy Core, so it runs on SQLite and PostgreSQL alike. It
reads rows, so ``alembic upgrade --sql`` (offline) emits nothing for it: run it online.
``downgrade`` makes the paths absolute again under a data directory it must be given
(``config.attributes["data_dir"]``, or ``alembic -x data_dir=...``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Final

import sqlalchemy as sa
from alembic import context, op

from hearthcam.errors import StoreError

revision: str = "2c7d0b610f4d"
down_revision: str | Sequence[str] | None = "0c1a7f5e2b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("hearthcam.store.migrations")

# The media layout as it was when this revision was written (frozen here, not imported: a
# revision must do the same thing whatever later versions change).
_KINDS: Final = frozenset({"recordings", "clips", "snapshots"})
_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_DEPTH: Final = 4  # kind / camera / day / file

_SEGMENTS: Final = sa.table("segments", sa.column("id", sa.Integer), sa.column("path", sa.String))
_EVENTS: Final = sa.table(
    "events",
    sa.column("id", sa.String),
    sa.column("clip", sa.String),
    sa.column("snapshot", sa.String),
)


def relative(stored: str) -> str | None:
    """The value ``stored`` becomes relative to its data directory; None: leave it as it is."""
    path = PurePosixPath(stored)
    parts = path.parts
    in_layout = (
        len(parts) >= _DEPTH and parts[-_DEPTH] in _KINDS and bool(_DAY.fullmatch(parts[-2]))
    )
    if in_layout:
        found = "/".join(parts[-_DEPTH:])
        return None if found == stored else found
    if path.is_absolute():
        log.warning("media path %s is in no known layout: left as it is", stored)
    return None


def upgrade() -> None:
    if context.is_offline_mode():
        return  # no rows to read: see the docstring
    connection = op.get_bind()
    _relative_segments(connection)
    for column in (_EVENTS.c.clip, _EVENTS.c.snapshot):
        rows = connection.execute(sa.select(_EVENTS.c.id, column).where(column.is_not(None)))
        changes = [(row_id, relative(value)) for row_id, value in rows.all()]
        _update(connection, _EVENTS, column, [(i, new) for i, new in changes if new is not None])


def _relative_segments(connection: sa.Connection) -> None:
    query = sa.select(_SEGMENTS.c.id, _SEGMENTS.c.path).order_by(_SEGMENTS.c.id)
    rows = connection.execute(query).all()
    changes = {row_id: relative(path) for row_id, path in rows}
    taken = {path for row_id, path in rows if changes[row_id] is None}
    updates, duplicates = [], []
    for row_id, new in changes.items():
        if new is None:
            continue
        if new in taken:
            duplicates.append(row_id)
            log.warning("segment row %d names %s like another row: deleted", row_id, new)
        else:
            taken.add(new)
            updates.append((row_id, new))
    if duplicates:
        connection.execute(sa.delete(_SEGMENTS).where(_SEGMENTS.c.id.in_(duplicates)))
    _update(connection, _SEGMENTS, _SEGMENTS.c.path, updates)


def _update(
    connection: sa.Connection,
    table: sa.TableClause,
    column: sa.ColumnClause[str],
    values: list[tuple[object, str]],
) -> None:
    """Sets ``column`` of each row by id (one executemany)."""
    if not values:
        return
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values({column.name: sa.bindparam("value")})
    )
    connection.execute(statement, [{"row_id": i, "value": v} for i, v in values])


def downgrade() -> None:
    if context.is_offline_mode():
        return
    connection = op.get_bind()
    columns = [(_SEGMENTS, _SEGMENTS.c.path), (_EVENTS, _EVENTS.c.clip)]
    columns.append((_EVENTS, _EVENTS.c.snapshot))
    for table, column in columns:
        rows = connection.execute(sa.select(table.c.id, column).where(column.is_not(None)))
        relative_rows = [(i, v) for i, v in rows.all() if not PurePosixPath(v).is_absolute()]
        if relative_rows:
            root = _data_dir()
            _update(connection, table, column, [(i, str(root / v)) for i, v in relative_rows])


def _data_dir() -> Path:
    """The data directory a downgrade makes paths absolute under."""
    given = context.config.attributes.get("data_dir") or context.get_x_argument(
        as_dictionary=True
    ).get("data_dir")
    if not given:
        raise StoreError(
            "downgrading makes media paths absolute again and needs the data directory:"
            ' config.attributes["data_dir"], or alembic -x data_dir=...'
        )
    return Path(given).expanduser().absolute()
