"""The view log over a real SQLite file: entries, the signing key, checkpoints, proofs, and
``verify`` naming each kind of tampering done directly in the database file."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearthcam.errors import StoreError
from hearthcam.store.db import Store
from hearthcam.viewlog import merkle
from hearthcam.viewlog.log import (
    AuditLog,
    Derivative,
    ViewEntry,
    entry_bytes,
    parse_entry,
)
from hearthcam.viewlog.signing import AuditKey, Checkpoint, key_path, load_public_key
from hearthcam.viewlog.verify import ProblemKind, StoredRow, VerifyReport, check
from tests.support.store_fixtures import SQLITE_ONLY

T0 = 1_760_000_000.0


def view(i: int, household: int = 1, viewer: int = 7) -> ViewEntry:
    """The i-th view of a test log."""
    return ViewEntry(
        viewer_id=viewer,
        viewer_role="annotator",
        household_id=household,
        clip_id=f"share-{i % 5}",
        derivative=Derivative.REDACTED,
        time=T0 + i,
        lease_id=f"lease-{i}",
        byte_range=(0, 1023) if i % 2 else None,
    )


# -- tampering, straight in the SQLite file (shared with tests/test_cli_audit.py) ----------------


@contextmanager
def _db(path: Path) -> Iterator[sqlite3.Connection]:
    """An autocommit connection to the file, closed after use."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        yield connection


def change_entry(path: Path, index: int) -> None:
    """Rewrites entry ``index`` to name another viewer, leaving its stored leaf hash."""
    with _db(path) as db:
        (data,) = db.execute("SELECT entry FROM audit_views WHERE idx = ?", (index,)).fetchone()
        fields = json.loads(data)
        fields["viewer"] += 1000
        changed = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
        db.execute("UPDATE audit_views SET entry = ? WHERE idx = ?", (changed, index))


def rehash_entry(path: Path, index: int) -> None:
    """Makes entry ``index``'s stored leaf hash match its (changed) bytes again."""
    with _db(path) as db:
        (data,) = db.execute("SELECT entry FROM audit_views WHERE idx = ?", (index,)).fetchone()
        leaf = merkle.leaf_hash(data)
        db.execute("UPDATE audit_views SET leaf = ? WHERE idx = ?", (leaf, index))


def delete_entry(path: Path, index: int) -> None:
    """Deletes entry ``index``'s row."""
    with _db(path) as db:
        db.execute("DELETE FROM audit_views WHERE idx = ?", (index,))


def swap_entries(path: Path, a: int, b: int) -> None:
    """Swaps the whole contents of two rows (everything but the index)."""
    columns = "household_id, viewer_id, clip_id, time_ms, entry, leaf"
    with _db(path) as db:
        query = f"SELECT {columns} FROM audit_views WHERE idx = ?"
        row_a, row_b = (db.execute(query, (i,)).fetchone() for i in (a, b))
        update = (
            "UPDATE audit_views SET household_id = ?, viewer_id = ?, clip_id = ?, time_ms = ?, "
            "entry = ?, leaf = ? WHERE idx = ?"
        )
        db.execute(update, (*row_b, a))
        db.execute(update, (*row_a, b))


def forge_signature(path: Path) -> None:
    """Flips one bit of the first checkpoint's signature."""
    with _db(path) as db:
        (cid, sig) = db.execute(
            "SELECT id, signature FROM audit_checkpoints ORDER BY id"
        ).fetchone()
        forged = bytes([sig[0] ^ 1]) + sig[1:]
        db.execute("UPDATE audit_checkpoints SET signature = ? WHERE id = ?", (forged, cid))


def filled_log(data_dir: Path, count: int, checkpoint_at: tuple[int, ...]) -> Path:
    """A log of ``count`` views in ``data_dir``, checkpointed after each size listed;
    returns the database file (closed)."""
    db = data_dir / "hearthcam.db"
    data_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(f"sqlite:///{db}") as store:
        log = AuditLog(store, AuditKey.load_or_create(key_path(data_dir)))
        for i in range(count):
            log.append(view(i, household=1 + i % 3))
            if i + 1 in checkpoint_at:
                log.checkpoint(T0 + 100 + i)
    return db


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:  # SQLite: a file in data_dir, tmp_path / "data"
        yield opened


@pytest.fixture
def key(data_dir: Path) -> AuditKey:
    return AuditKey.load_or_create(key_path(data_dir))


@pytest.fixture
def log(store: Store, key: AuditKey) -> AuditLog:
    return AuditLog(store, key)


def verify_file(db: Path, key: AuditKey) -> VerifyReport:
    with Store.open(f"sqlite:///{db}") as store:
        return AuditLog(store, None).verify(key.public_key)


def kinds(report: VerifyReport) -> set[tuple[ProblemKind, int | None]]:
    return {(p.kind, p.index) for p in report.problems}


# -- entries ---------------------------------------------------------------------------------------


def test_entry_bytes_are_canonical_and_carry_their_index() -> None:
    data = entry_bytes(3, view(1))
    assert data == (
        b'{"clip":"share-1","derivative":"redacted","household":1,"lease":"lease-1",'
        b'"range":[0,1023],"role":"annotator","seq":3,"time":1760000001.0,"v":1,"viewer":7}'
    )
    assert parse_entry(data) == (3, view(1))
    assert parse_entry(entry_bytes(0, view(2))) == (0, view(2))


def test_non_canonical_or_foreign_bytes_are_not_entries() -> None:
    spaced = json.dumps(json.loads(entry_bytes(0, view(1)))).encode()
    for data in (spaced, b"{}", b"[1]", b"\xff", b'{"seq": 1}'):
        with pytest.raises(ValueError, match="not"):
            parse_entry(data)


def test_an_entry_must_be_well_formed() -> None:
    with pytest.raises(ValueError, match="finite"):
        ViewEntry(1, "annotator", 1, "c", Derivative.ORIGINAL, float("nan"))
    with pytest.raises(ValueError, match="first <= last"):
        ViewEntry(1, "annotator", 1, "c", Derivative.ORIGINAL, T0, byte_range=(10, 2))


# -- the key -----------------------------------------------------------------------------------


def test_the_key_is_made_once_private_and_reloads(tmp_path: Path) -> None:
    path = key_path(tmp_path)
    assert path == tmp_path / "secrets" / "audit-ed25519.pem"
    made = AuditKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = AuditKey.load_or_create(path)
    assert again.public_raw() == made.public_raw()
    assert len(made.public_raw()) == 32
    assert load_public_key(made.public_pem()).public_bytes_raw() == made.public_raw()


def test_a_key_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_text("not a key")
    with pytest.raises(StoreError, match="cannot read"):
        AuditKey.load(path)


# -- appending ----------------------------------------------------------------------------------


def test_append_gives_contiguous_indexes_and_keeps_exact_bytes(log: AuditLog) -> None:
    assert [log.append(view(i)) for i in range(5)] == [0, 1, 2, 3, 4]
    entries = log.entries()
    assert [e.index for e in entries] == [0, 1, 2, 3, 4]
    assert [e.entry for e in entries] == [view(i) for i in range(5)]
    assert all(e.data == entry_bytes(e.index, e.entry) for e in entries)
    assert log.size() == 5
    assert log.root() == merkle.tree_hash([merkle.leaf_hash(e.data) for e in entries])


def test_the_log_survives_reopening(database_url: str, store: Store, log: AuditLog) -> None:
    for i in range(3):
        log.append(view(i))
    root = log.root()
    store.close()
    with Store.open(database_url) as again:
        reopened = AuditLog(again, None)
        assert reopened.size() == 3
        assert reopened.root() == root
        assert reopened.append(view(3)) == 3


def test_a_failed_append_logs_nothing(log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    log.append(view(0))

    def broken(*_args: object) -> list[bytes]:
        raise StoreError("disk full")

    monkeypatch.setattr(merkle, "frontier_append", broken)
    with pytest.raises(StoreError, match="disk full"):
        log.append(view(1))
    monkeypatch.undo()
    assert log.size() == 1
    assert [e.index for e in log.entries()] == [0]
    assert log.append(view(1)) == 1


@SQLITE_ONLY  # PostgreSQL commits durably itself
def test_append_commits_to_disk_before_returning(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    log.append(view(0))
    assert len(synced) == 1
    assert synced[0].endswith("hearthcam.sqlite-wal")


def test_appends_from_many_threads_stay_contiguous(log: AuditLog) -> None:
    got: list[int] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        for i in range(25):
            index = log.append(view(i, viewer=worker))
            with lock:
                got.append(index)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(200))
    report = log.verify()
    assert report.ok, report.problems
    assert report.entries == 200


def test_appending_costs_log_n_hashes(log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = merkle.node_hash

    def counted(left: bytes, right: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return real(left, right)

    monkeypatch.setattr(merkle, "node_hash", counted)
    started = time.perf_counter()
    most = 0
    for i in range(1500):
        calls = 0
        log.append(view(i))
        most = max(most, calls)
    elapsed = time.perf_counter() - started
    # One node per trailing one bit of the old size: at most log2(1500) < 11, never the
    # thousands a rebuild from the stored leaves would take.
    assert most == 10
    assert elapsed < 60, elapsed  # seconds (about 2 ms each, one fsync), not minutes
    monkeypatch.undo()
    assert log.root() == merkle.tree_hash([e.leaf for e in log.entries()])


# -- checkpoints and proofs ---------------------------------------------------------------------


def test_a_checkpoint_signs_the_current_head(log: AuditLog, key: AuditKey) -> None:
    for i in range(6):
        log.append(view(i))
    checkpoint = log.checkpoint(T0 + 60.5)
    assert (checkpoint.size, checkpoint.root) == (6, log.root())
    assert (
        checkpoint.note
        == (
            f"hearthcam view log\n6\n{base64.b64encode(log.root()).decode()}\n"
            f"{int((T0 + 60.5) * 1000)}\n"
        ).encode()
    )
    assert checkpoint.signed_by(key.public_key)
    assert not checkpoint.signed_by(Ed25519PrivateKey.generate().public_key())
    assert log.checkpoint(T0 + 99) == checkpoint  # nothing new: no new checkpoint
    assert log.latest_checkpoint() == checkpoint
    log.append(view(6))
    assert log.checkpoint(T0 + 100).size == 7
    assert [c.size for c in log.checkpoints()] == [6, 7]


def test_a_log_without_its_key_cannot_sign(store: Store) -> None:
    with pytest.raises(StoreError, match="without its signing key"):
        AuditLog(store, None).checkpoint(T0)


def test_each_household_gets_its_entries_proved_against_a_checkpoint(log: AuditLog) -> None:
    for i in range(23):
        log.append(view(i, household=1 + i % 3))
    checkpoint = log.checkpoint(T0 + 30)
    log.append(view(23, household=2))  # after the checkpoint: not proved by it
    proven = log.proven_entries(2, checkpoint)
    assert [p.logged.index for p in proven] == list(range(1, 23, 3))
    assert {p.logged.entry.household_id for p in proven} == {2}
    for item in proven:
        leaf = merkle.leaf_hash(item.logged.data)
        assert merkle.verify_inclusion(item.logged.index, 23, leaf, item.proof, checkpoint.root)
        assert list(item.proof) == log.inclusion_proof(item.logged.index, 23)
    assert [e.index for e in log.entries_for_household(2)] == [*range(1, 23, 3), 23]


def test_later_checkpoints_extend_earlier_ones(log: AuditLog) -> None:
    for i in range(5):
        log.append(view(i))
    old = log.checkpoint(T0)
    for i in range(5, 19):
        log.append(view(i))
    new = log.checkpoint(T0 + 1)
    proof = log.consistency_proof(old.size, new.size)
    assert merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)


def test_entries_since_a_time(log: AuditLog) -> None:
    for i in range(10):
        log.append(view(i))
    assert [e.index for e in log.entries(since=T0 + 7)] == [7, 8, 9]


# -- verify -------------------------------------------------------------------------------------


def test_an_untouched_log_verifies(tmp_path: Path, key: AuditKey) -> None:
    db = filled_log(tmp_path / "data", 40, (10, 25, 40))
    report = verify_file(db, key)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints) == (40, 3)


def test_an_empty_log_verifies(log: AuditLog) -> None:
    assert log.verify().ok


def test_a_changed_entry_is_named(tmp_path: Path, key: AuditKey) -> None:
    db = filled_log(tmp_path / "data", 20, (20,))
    change_entry(db, 7)
    report = verify_file(db, key)
    assert (ProblemKind.CHANGED, 7) in kinds(report)
    assert (ProblemKind.CHECKPOINT, 20) in kinds(report)


def test_a_changed_and_rehashed_entry_breaks_the_signed_root(tmp_path: Path, key: AuditKey) -> None:
    db = filled_log(tmp_path / "data", 20, (5, 20))
    change_entry(db, 7)
    rehash_entry(db, 7)
    report = verify_file(db, key)
    assert (ProblemKind.CHANGED, 7) not in kinds(report)  # the row agrees with itself...
    assert (ProblemKind.CHECKPOINT, 20) in kinds(report)  # ...not with the signed head
    assert (ProblemKind.CHECKPOINT, 5) not in kinds(report)  # what came before still holds


def test_a_removed_entry_is_named(tmp_path: Path, key: AuditKey) -> None:
    db = filled_log(tmp_path / "data", 20, (20,))
    delete_entry(db, 11)
    report = verify_file(db, key)
    assert (ProblemKind.MISSING, 11) in kinds(report)
    assert "entries 11 are missing" in str(report.problems[0])


def test_removing_the_newest_entry_is_seen(tmp_path: Path, key: AuditKey) -> None:
    db = filled_log(tmp_path / "data", 20, (10,))
    delete_entry(db, 19)  # after the last checkpoint: only the head knows
    report = verify_file(db, key)
    assert [p.kind for p in report.problems] == [ProblemKind.HEAD]
    assert "the last 1 removed" in report.problems[0].detail


def test_reordered_entries_are_named(tmp_path: Path, key: AuditKey) -> None:
    db = filled_log(tmp_path / "data", 20, (20,))
    swap_entries(db, 3, 12)
    report = verify_file(db, key)
    found = kinds(report)
    assert {(ProblemKind.REORDERED, 3), (ProblemKind.REORDERED, 12)} <= found
    assert (ProblemKind.CHECKPOINT, 20) in found
    assert not any(p.kind is ProblemKind.CHANGED for p in report.problems)


def test_a_forged_signature_is_named(tmp_path: Path, key: AuditKey) -> None:
    db = filled_log(tmp_path / "data", 20, (8, 20))
    forge_signature(db)
    report = verify_file(db, key)
    assert kinds(report) == {(ProblemKind.BAD_SIGNATURE, 8)}


def test_checkpoints_signed_by_another_key_are_refused(tmp_path: Path) -> None:
    db = filled_log(tmp_path / "data", 4, (4,))
    stranger = AuditKey(Ed25519PrivateKey.generate())
    assert kinds(verify_file(db, stranger)) == {(ProblemKind.BAD_SIGNATURE, 4)}


def test_checkpoints_without_a_key_to_check_them(tmp_path: Path) -> None:
    db = filled_log(tmp_path / "data", 4, (4,))
    with Store.open(f"sqlite:///{db}") as store:
        report = AuditLog(store, None).verify()
    assert [p.kind for p in report.problems] == [ProblemKind.NO_KEY]


def test_a_signed_root_that_is_not_the_logs(log: AuditLog, key: AuditKey) -> None:
    for i in range(4):
        log.append(view(i))
    rows = [StoredRow(e.index, e.data, e.leaf) for e in log.entries()]
    unsigned = Checkpoint(3, log.root(), 0, b"")  # the root of 4 entries, claimed for 3
    signed = Checkpoint(3, unsigned.root, 0, key.sign(unsigned.note))
    report = check(rows, (4, log.root()), [signed], key.public_key)
    assert kinds(report) == {(ProblemKind.CHECKPOINT, 3)}
    assert "does not match" in report.problems[0].detail


def test_reading_an_unreadable_entry_points_to_verify(tmp_path: Path) -> None:
    db = filled_log(tmp_path / "data", 3, ())
    with _db(db) as connection:
        connection.execute("UPDATE audit_views SET entry = ? WHERE idx = 1", (b"garbage",))
    with Store.open(f"sqlite:///{db}") as store, pytest.raises(StoreError, match="audit verify"):
        AuditLog(store, None).entries()
