"""The tamper-evident view log: who received bytes of which clip, as an RFC 6962 Merkle log.

Keeps the log in ``audit_views`` (one row per entry: its index, its exact canonical bytes, its
leaf hash), ``audit_head`` (the size and compact range of the tree, so appending and signing cost
O(log n)) and ``audit_checkpoints`` (signed tree heads), whose rows ``store.viewlog`` declares.
The math is ``merkle``'s, the key and the checkpoint text ``signing``'s, the checks of ``verify``
``viewlog.verify``'s (they recompute everything from the entry bytes alone), the unusual
patterns ``flags``'.

The rule callers keep: ``append`` an entry before sending any byte of a clip to anyone but its
owner, and send nothing if it raises. Each entry's bytes carry its own index, so rows moved
to other places are named as reordered, not only as a root that no longer matches.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from hearthcam.errors import StoreError
from hearthcam.store.db import Store
from hearthcam.store.viewlog import CheckpointRow, HeadRow, ViewRow
from hearthcam.viewlog import merkle
from hearthcam.viewlog.entry import Derivative, ViewEntry, entry_bytes, parse_entry
from hearthcam.viewlog.signing import AuditKey, Checkpoint
from hearthcam.viewlog.verify import (
    SIDE_COLUMNS,
    Problem,
    ProblemKind,
    StoredRow,
    VerifyReport,
    check,
    side_values,
)

__all__ = [
    "AuditLog",
    "Derivative",
    "LoggedEntry",
    "ProvenEntry",
    "ViewEntry",
    "entry_bytes",
    "parse_entry",
]


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """An entry as the log holds it: its index, its exact bytes and their leaf hash."""

    index: int
    entry: ViewEntry
    data: bytes
    leaf: bytes


_HEAD_ID = 1  # the one row of audit_head


def _split_hashes(blob: bytes) -> list[bytes]:
    size = merkle.HASH_SIZE
    return [blob[i : i + size] for i in range(0, len(blob), size)]


def _head_state(head: HeadRow | None) -> tuple[int, list[bytes]]:
    """(size, frontier) of the head row; StoreError if hand-editing left it unusable (nothing
    is then appended, so no clip is sent, and nothing signed)."""
    if head is None:
        return 0, []
    size, blob = head.size, head.frontier
    if not (isinstance(size, int) and isinstance(blob, bytes)) or size < 0:
        raise StoreError("the view log's head row is damaged (hearthcam audit verify)")
    if len(blob) != merkle.HASH_SIZE * size.bit_count():
        raise StoreError("the view log's head row is damaged (hearthcam audit verify)")
    return size, _split_hashes(blob)


def _logged(index: int, data: object, leaf: object) -> LoggedEntry:
    """An entry read from its hashed bytes (never from the side columns, which only index)."""
    try:
        entry = parse_entry(data)[1]
    except ValueError as error:  # only a hand-edited database gets here
        raise StoreError(f"view log entry {index}: {error} (hearthcam audit verify)") from None
    if not isinstance(leaf, bytes) or not isinstance(data, bytes):
        raise StoreError(
            f"view log entry {index}: its leaf hash is damaged (hearthcam audit verify)"
        )
    return LoggedEntry(index, entry, data, leaf)


def _stored_checkpoint(row: CheckpointRow) -> Checkpoint | None:
    """A checkpoint row as a Checkpoint; None if a column holds another storage class."""
    size, root, time_ms, signature = row.size, row.root, row.time_ms, row.signature
    if not (isinstance(size, int) and isinstance(time_ms, int)):
        return None
    if not (isinstance(root, bytes) and isinstance(signature, bytes)):
        return None
    return Checkpoint(size, root, time_ms, signature)


def _checkpoint(row: CheckpointRow) -> Checkpoint:
    checkpoint = _stored_checkpoint(row)
    if checkpoint is None:  # only a hand-edited database gets here
        raise StoreError(f"view log checkpoint row {row.id} is damaged (hearthcam audit verify)")
    return checkpoint


def _fsync_commit(url: str) -> None:
    """Makes the last commit survive a power cut, not only a crash.

    The store runs SQLite WAL with synchronous=NORMAL, where a commit reaches the WAL file but
    not the disk; a view logged that way could vanish after its bytes were sent. Syncing the
    WAL (the database file without WAL) costs one fsync per entry and leaves the store's other
    writers as they are.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return  # other databases commit durably; an in-memory one cannot
    database = Path(parsed.database)
    for path in (Path(f"{database}-wal"), database):
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        return


@dataclass(frozen=True, slots=True)
class ProvenEntry:
    """An entry with its audit path in the tree of a checkpoint."""

    logged: LoggedEntry
    proof: tuple[bytes, ...]


class AuditLog:
    """The view log over one Store; safe to append from many threads and processes."""

    def __init__(self, store: Store, key: AuditKey | None) -> None:
        """``key`` signs checkpoints; None opens the log to read and verify only."""
        self._store = store
        self._key = key
        # Complete subtrees of the leaves seen so far: entries never change, so proofs reuse
        # it and only read the leaves appended since.
        self._tree = merkle.MerkleTree()
        self._tree_lock = threading.Lock()

    @property
    def key(self) -> AuditKey | None:
        """The signing key, if this log may sign."""
        return self._key

    def append(self, entry: ViewEntry) -> int:
        """Logs ``entry`` durably and returns its index; send the bytes only after it returns."""
        # The write lock keeps indexes contiguous; a damaged head is named, not a decode error.
        with self._store.write_session() as session, _any_text(session):
            head = session.get(HeadRow, _HEAD_ID)
            if head is None:
                head = HeadRow(id=_HEAD_ID, size=0, frontier=b"")
                session.add(head)
            index, frontier = _head_state(head)
            data = entry_bytes(index, entry)
            leaf = merkle.leaf_hash(data)
            side = dict(zip(SIDE_COLUMNS, side_values(entry), strict=True))
            session.add(ViewRow(idx=index, entry=data, leaf=leaf, **side))
            frontier = merkle.frontier_append(frontier, index, leaf)
            head.size, head.frontier = index + 1, b"".join(frontier)
        _fsync_commit(self._store.url)
        return index

    def size(self) -> int:
        """How many entries the log has."""
        return self._head()[0]

    def root(self) -> bytes:
        """The current tree head (MTH of every entry)."""
        return merkle.frontier_root(self._head()[1])

    def _head(self) -> tuple[int, list[bytes]]:
        with self._store.read_session() as session:
            head = session.get(HeadRow, _HEAD_ID)
            return _head_state(head)

    def checkpoint(self, now: float) -> Checkpoint:
        """Signs the current head; the latest checkpoint again if the log has not grown since."""
        if self._key is None:
            raise StoreError("this view log was opened without its signing key")
        with self._store.write_session() as session, _any_text(session):
            latest = session.scalars(
                select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(1)
            ).first()
            head = session.get(HeadRow, _HEAD_ID)
            size, frontier = _head_state(head)
            if latest is not None and latest.size == size:
                return _checkpoint(latest)
            unsigned = Checkpoint(size, merkle.frontier_root(frontier), int(now * 1000), b"")
            signature = self._key.sign(unsigned.note)
            session.add(
                CheckpointRow(
                    size=size, root=unsigned.root, time_ms=unsigned.time_ms, signature=signature
                )
            )
        return Checkpoint(unsigned.size, unsigned.root, unsigned.time_ms, signature)

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""
        with self._store.read_session() as session:
            rows = session.scalars(select(CheckpointRow).order_by(CheckpointRow.id))
            return [_checkpoint(r) for r in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint, or None before the first."""
        with self._store.read_session() as session:
            query = select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(1)
            row = session.scalars(query).first()
            return None if row is None else _checkpoint(row)

    def _read(self, keep: Callable[[ViewEntry], bool]) -> list[LoggedEntry]:
        """The entries ``keep`` accepts, oldest first, judged by their hashed bytes.

        Every row is read: a side column an attacker edited must not hide an entry, and the
        bytes are what the Merkle tree (and the owner's browser) proves.
        """
        query = select(ViewRow.idx, ViewRow.entry, ViewRow.leaf).order_by(ViewRow.idx)
        found = []
        with self._store.read_session() as session:
            for index, data, leaf in session.execute(query).yield_per(1000):
                logged = _logged(index, data, leaf)
                if keep(logged.entry):
                    found.append(logged)
        return found

    def entries_for_household(self, household_id: int) -> list[LoggedEntry]:
        """Every entry about a household's clips, oldest first (for its owner's page)."""
        return self._read(lambda entry: entry.household_id == household_id)

    def entries(self, since: float | None = None) -> list[LoggedEntry]:
        """Every entry (timed at or after ``since``, when given), oldest first."""
        return self._read(lambda entry: since is None or entry.time >= since)

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """The audit path of entry ``index`` in the tree of the first ``tree_size`` entries."""
        with self._tree_lock:
            return self._tree_of(tree_size).inclusion_proof(index, tree_size)

    def consistency_proof(self, old_size: int, tree_size: int) -> list[bytes]:
        """The proof that the log at ``old_size`` is a prefix of the log at ``tree_size``."""
        with self._tree_lock:
            return self._tree_of(tree_size).consistency_proof(old_size, tree_size)

    def proven_entries(self, household_id: int, checkpoint: Checkpoint) -> list[ProvenEntry]:
        """A household's entries that ``checkpoint`` covers, each with its audit path."""
        covered = [e for e in self.entries_for_household(household_id) if e.index < checkpoint.size]
        with self._tree_lock:
            tree = self._tree_of(checkpoint.size)
            return [
                ProvenEntry(e, tuple(tree.inclusion_proof(e.index, checkpoint.size)))
                for e in covered
            ]

    def _tree_of(self, size: int) -> merkle.MerkleTree:
        """The cached tree, grown to at least ``size`` leaves (hold ``_tree_lock``)."""
        tree = self._tree
        if tree.size < size:
            query = (
                select(ViewRow.idx, ViewRow.leaf)
                .where(ViewRow.idx >= tree.size, ViewRow.idx < size)
                .order_by(ViewRow.idx)
            )
            with self._store.read_session() as session:
                for index, leaf in session.execute(query):
                    if index != tree.size:
                        raise StoreError(f"view log entry {tree.size} is missing (audit verify)")
                    if not isinstance(leaf, bytes) or len(leaf) != merkle.HASH_SIZE:
                        raise StoreError(f"view log entry {index}: its leaf hash is damaged")
                    tree.append(leaf)
        if tree.size < size:
            raise ValueError(f"the view log has {tree.size} entries, not {size}")
        return tree

    def verify(
        self, public_key: Ed25519PublicKey | None = None, saved: Sequence[Checkpoint] = ()
    ) -> VerifyReport:
        """Checks the whole log from its entry bytes (``public_key`` defaults to the signer's),
        and against ``saved``: checkpoints kept outside the database (see ``verify.check``)."""
        if public_key is None and self._key is not None:
            public_key = self._key.public_key
        damaged: list[Problem] = []
        checkpoints = []
        with self._store.read_session() as session, _any_text(session):  # first: see below
            for row in session.scalars(select(CheckpointRow).order_by(CheckpointRow.id)):
                checkpoint = _stored_checkpoint(row)
                if checkpoint is None:
                    detail = f"checkpoint row {row.id} holds text or numbers where bytes belong"
                    damaged.append(Problem(ProblemKind.CHECKPOINT, None, detail))
                else:
                    checkpoints.append(checkpoint)
        columns = [getattr(ViewRow, name) for name in SIDE_COLUMNS]
        query = select(ViewRow.idx, ViewRow.entry, ViewRow.leaf, *columns).order_by(ViewRow.idx)
        # One snapshot: head and rows agree (checkpoints were read first: appends since then
        # only add rows they cover).
        with self._store.read_session() as session, _any_text(session):
            head = _stored_head(session.get(HeadRow, _HEAD_ID), damaged)
            # Streamed: a long log costs its leaf hashes in memory, not its entries.
            rows = session.execute(query).yield_per(1000)
            stored = (StoredRow(i, d, h, tuple(side)) for i, d, h, *side in rows)
            return check(stored, head, checkpoints, public_key, saved=saved, damaged=damaged)


@contextmanager
def _any_text(session: Session) -> Iterator[None]:
    """Reads text that is not UTF-8 too (as str with surrogate escapes), for this session only.

    An attacker who casts a hash column to TEXT leaves bytes SQLite's driver cannot decode; by
    default the whole read then fails, and ``verify`` could not name the row.
    """
    driver = session.connection().connection.driver_connection
    if not isinstance(driver, sqlite3.Connection):
        yield  # other databases keep a bytes column bytes
        return
    before = driver.text_factory
    driver.text_factory = _escaped
    try:
        yield
    finally:
        driver.text_factory = before


def _escaped(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _stored_head(row: HeadRow | None, damaged: list[Problem]) -> tuple[int, bytes] | None:
    """The stored head as (size, root); a damaged one is added to ``damaged`` and read as
    empty (the rows then disagree with it)."""
    if row is None:
        return None
    size, frontier = row.size, row.frontier
    fine = isinstance(size, int) and isinstance(frontier, bytes)
    if not fine or len(frontier) != merkle.HASH_SIZE * size.bit_count():
        damaged.append(Problem(ProblemKind.HEAD, None, "the log's head row is damaged"))
        return (0, merkle.EMPTY_ROOT)
    return size, merkle.frontier_root(_split_hashes(frontier))
