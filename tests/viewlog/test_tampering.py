"""What an attacker with write access to the SQLite file can no longer do quietly (issue 13): edit
a side column to hide an entry, store an entry as text to crash ``verify``, or truncate the log
back to an earlier checkpoint (or wipe it) when the owner holds a later signed checkpoint."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from hearthcam.errors import StoreError
from hearthcam.store.db import Store
from hearthcam.viewlog import merkle
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey, Checkpoint, key_path
from hearthcam.viewlog.verify import ProblemKind, VerifyReport
from tests.viewlog.test_log import T0, filled_log, view


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """The attacker's connection: plain SQL, autocommit."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        yield connection


def set_column(path: Path, index: int, column: str, value: object) -> None:
    """Sets one column of entry ``index`` (hashes untouched)."""
    with raw(path) as db:
        db.execute(f"UPDATE audit_views SET {column} = ? WHERE idx = ?", (value, index))


def entry_as_text(path: Path, index: int) -> None:
    """Rewrites entry ``index`` as TEXT (the same characters, another storage class)."""
    with raw(path) as db:
        db.execute("UPDATE audit_views SET entry = CAST(entry AS TEXT) WHERE idx = ?", (index,))


def truncate_to(path: Path, size: int) -> None:
    """Drops every entry from ``size`` on and every checkpoint above it, and writes the head
    the remaining entries make: the log as it would have been, had nobody viewed since."""
    with raw(path) as db:
        db.execute("DELETE FROM audit_views WHERE idx >= ?", (size,))
        db.execute("DELETE FROM audit_checkpoints WHERE size > ?", (size,))
        frontier: list[bytes] = []
        for i, (leaf,) in enumerate(db.execute("SELECT leaf FROM audit_views ORDER BY idx")):
            frontier = merkle.frontier_append(frontier, i, leaf)
        db.execute("UPDATE audit_head SET size = ?, frontier = ?", (size, b"".join(frontier)))


def wipe(path: Path) -> None:
    """Empties every table of the view log."""
    with raw(path) as db:
        for table in ("audit_views", "audit_head", "audit_checkpoints"):
            db.execute(f"DELETE FROM {table}")


def verify_file(db: Path, key: AuditKey, saved: tuple[Checkpoint, ...] = ()) -> VerifyReport:
    with Store.open(f"sqlite:///{db}") as store:
        return AuditLog(store, None).verify(key.public_key, saved=saved)


def kinds(report: VerifyReport) -> set[tuple[ProblemKind, int | None]]:
    return {(p.kind, p.index) for p in report.problems}


@pytest.fixture
def key(tmp_path: Path) -> AuditKey:
    return AuditKey.load_or_create(key_path(tmp_path / "data"))


# -- side columns ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [("household_id", 99), ("time_ms", 0), ("viewer_id", 4242), ("clip_id", "other-clip")],
)
def test_an_edited_side_column_is_tampering(
    tmp_path: Path, key: AuditKey, column: str, value: object
) -> None:
    db = filled_log(tmp_path / "data", 12, (12,))
    set_column(db, 4, column, value)
    report = verify_file(db, key)
    assert kinds(report) == {(ProblemKind.SIDE, 4)}
    assert f"entry 4: its {column} column" in str(report.problems[0])


def test_the_owner_sees_an_entry_whose_household_column_was_moved(
    tmp_path: Path, key: AuditKey
) -> None:
    db = filled_log(tmp_path / "data", 12, (12,))  # household 1 + i % 3: entry 4 is household 2's
    set_column(db, 4, "household_id", 3)
    with Store.open(f"sqlite:///{db}") as store:
        log = AuditLog(store, key)
        assert 4 in [e.index for e in log.entries_for_household(2)]
        assert 4 not in [e.index for e in log.entries_for_household(3)]
        checkpoint = log.checkpoint(T0 + 500)
        assert 4 in [p.logged.index for p in log.proven_entries(2, checkpoint)]


def test_the_flags_see_an_entry_whose_time_column_was_moved_back(
    tmp_path: Path, key: AuditKey
) -> None:
    db = filled_log(tmp_path / "data", 12, (12,))
    set_column(db, 10, "time_ms", 0)  # 1970: out of any window the flags look at
    with Store.open(f"sqlite:///{db}") as store:
        since = [e.index for e in AuditLog(store, None).entries(since=T0 + 9)]
    assert since == [9, 10, 11]


# -- an entry of another storage class -----------------------------------------------------------


def test_an_entry_stored_as_text_is_named_not_a_crash(tmp_path: Path, key: AuditKey) -> None:
    db = filled_log(tmp_path / "data", 6, (6,))
    entry_as_text(db, 3)
    report = verify_file(db, key)
    assert (ProblemKind.UNREADABLE, 3) in kinds(report)
    assert "entry 3 is stored as text" in " ".join(map(str, report.problems))


def test_a_leaf_stored_as_text_is_named(tmp_path: Path, key: AuditKey) -> None:
    db = filled_log(tmp_path / "data", 6, (6,))
    set_column(db, 2, "leaf", "not a hash")
    with raw(db) as connection:  # a hash as TEXT: bytes that are not UTF-8
        connection.execute("UPDATE audit_views SET leaf = CAST(leaf AS TEXT) WHERE idx = 4")
    report = verify_file(db, key)
    assert {(ProblemKind.CHANGED, 2), (ProblemKind.CHANGED, 4)} <= kinds(report)


def test_a_head_or_checkpoint_stored_as_text_is_named_and_stops_appends(
    tmp_path: Path, key: AuditKey
) -> None:
    db = filled_log(tmp_path / "data", 6, (3, 6))
    with raw(db) as connection:
        connection.execute("UPDATE audit_head SET frontier = CAST(frontier AS TEXT)")
        connection.execute("UPDATE audit_checkpoints SET root = 'forged' WHERE size = 3")
    report = verify_file(db, key)
    assert (ProblemKind.HEAD, None) in kinds(report)
    named = " / ".join(map(str, report.problems))
    assert "checkpoint row 1 holds text or numbers where bytes belong" in named
    assert "the log's head row is damaged" in named
    with Store.open(f"sqlite:///{db}") as store:
        log = AuditLog(store, key)
        with pytest.raises(StoreError, match="head row is damaged"):
            log.append(view(6))  # nothing logged: the caller sends nothing
        with pytest.raises(StoreError, match="head row is damaged"):
            log.checkpoint(T0 + 900)


# -- truncation and wiping, against a checkpoint the owner kept ----------------------------------


def saved_after(
    tmp_path: Path, views: int, checkpoints: tuple[int, ...]
) -> tuple[Path, Checkpoint]:
    """A log of ``views`` entries and the newest signed checkpoint, as the owner saved it."""
    db = filled_log(tmp_path / "data", views, checkpoints)
    with Store.open(f"sqlite:///{db}") as store:
        latest = AuditLog(store, None).latest_checkpoint()
    assert latest is not None
    return db, latest


def test_truncating_to_an_earlier_checkpoint_passes_alone_but_not_against_a_saved_one(
    tmp_path: Path, key: AuditKey
) -> None:
    db, saved = saved_after(tmp_path, 8, (1, 8))
    truncate_to(db, 1)  # 7 of 8 views erased
    assert verify_file(db, key).ok  # the database alone is consistent again...
    report = verify_file(db, key, saved=(saved,))  # ...the owner's checkpoint is not
    assert kinds(report) == {(ProblemKind.SAVED, 8)}
    assert "the saved checkpoint has 8 entries, the log only 1: 7 removed" in str(
        report.problems[0]
    )


def test_a_wiped_log_fails_against_a_saved_checkpoint(tmp_path: Path, key: AuditKey) -> None:
    db, saved = saved_after(tmp_path, 8, (8,))
    wipe(db)
    assert verify_file(db, key).ok
    report = verify_file(db, key, saved=(saved,))
    assert kinds(report) == {(ProblemKind.SAVED, 8)}
    assert "the log only 0: 8 removed" in str(report.problems[0])


def test_a_rewritten_prefix_fails_against_a_saved_checkpoint(tmp_path: Path, key: AuditKey) -> None:
    db, saved = saved_after(tmp_path, 8, (8,))
    truncate_to(db, 0)
    with Store.open(f"sqlite:///{db}") as store:  # 8 other views, signed with the real key
        log = AuditLog(store, key)
        for i in range(8):
            log.append(view(i, household=9))
        log.checkpoint(T0 + 900)
    assert verify_file(db, key).ok
    report = verify_file(db, key, saved=(saved,))
    assert kinds(report) == {(ProblemKind.SAVED, 8)}
    assert "does not match the log's first 8 entries" in str(report.problems[0])


def test_a_saved_checkpoint_of_another_key_is_named(tmp_path: Path, key: AuditKey) -> None:
    db, saved = saved_after(tmp_path, 8, (8,))
    forged = Checkpoint(saved.size, saved.root, saved.time_ms, bytes(64))
    report = verify_file(db, key, saved=(forged,))
    assert kinds(report) == {(ProblemKind.BAD_SIGNATURE, 8)}
    assert "saved checkpoint at size 8: bad signature" in str(report.problems[0])


def test_an_intact_log_that_grew_passes_against_a_saved_checkpoint(
    tmp_path: Path, key: AuditKey
) -> None:
    db, saved = saved_after(tmp_path, 8, (8,))
    with Store.open(f"sqlite:///{db}") as store:
        AuditLog(store, key).append(view(8))
    report = verify_file(db, key, saved=(saved,))
    assert report.ok, report.problems
