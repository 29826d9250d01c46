"""Copies of a SQLite database file, taken before a migration changes it.

The copy is made with SQLite's online backup API, so a database in WAL mode copies whole (the
pages still in the ``-wal`` file included) while other connections keep it open. It is written
under a ``.part`` name and renamed when complete, so a ``.bak`` file is never half a copy, and
in rollback-journal mode, so it is one file that restores by copying it back.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

from hearthcam.errors import StoreError


def backup_path(database: Path, label: str, now: datetime) -> Path:
    """``<name>.pre-<label>-<UTC timestamp>.bak`` next to ``database`` (never an existing file)."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = database.with_name(f"{database.name}.pre-{label}-{stamp}.bak")
    count = 1
    while path.exists():  # a second copy within the same second keeps the first
        count += 1
        path = database.with_name(f"{database.name}.pre-{label}-{stamp}-{count}.bak")
    return path


def backup_sqlite(database: Path, label: str, now: datetime | None = None) -> Path:
    """Copies the SQLite database file to ``backup_path`` and returns where the copy is."""
    target = backup_path(database, label, now or datetime.now(UTC))
    part = target.with_name(target.name + ".part")
    try:
        # The copy holds what the database holds (password hashes, wrapped keys): it is made
        # with the database's permissions, never wider ones from the umask.
        part.unlink(missing_ok=True)
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.chmod(part, stat.S_IMODE(database.stat().st_mode))
        source = sqlite3.connect(database)
        try:
            copy = sqlite3.connect(part)
            try:
                source.backup(copy)
                # One self-contained file, even from a WAL database: no -wal/-shm to carry.
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
        finally:
            source.close()
        _fsync(part)
        part.replace(target)
        _fsync(target.parent)
    except (OSError, sqlite3.Error) as error:
        part.unlink(missing_ok=True)
        raise StoreError(f"cannot copy {database} before migrating it: {error}") from error
    return target


def _fsync(path: Path) -> None:
    """Makes a file (or a directory's entries) reach the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
