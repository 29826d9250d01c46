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

import json
import math
import os
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.engine import make_url

from hearthcam.errors import StoreError
from hearthcam.store.db import Store
from hearthcam.store.viewlog import CheckpointRow, HeadRow, ViewRow
from hearthcam.viewlog import merkle
from hearthcam.viewlog.signing import AuditKey, Checkpoint
from hearthcam.viewlog.verify import StoredRow, VerifyReport, check

_FORMAT = 1  # the "v" of an entry's bytes


class Derivative(StrEnum):
    """What form of a clip was sent."""

    REDACTED = "redacted"
    ORIGINAL = "original"
    THUMBNAIL = "thumbnail"
    SNAPSHOT = "snapshot"


@dataclass(frozen=True, slots=True)
class ViewEntry:
    """One delivery of a clip's bytes to someone other than its owner."""

    viewer_id: int
    viewer_role: str
    household_id: int  # the clip's household: whose "Who viewed my clips" lists the entry
    clip_id: str  # the clip or share id
    derivative: Derivative
    time: float  # Unix seconds
    lease_id: str | None = None
    byte_range: tuple[int, int] | None = None  # first and last byte, as in HTTP Range

    def __post_init__(self) -> None:
        if not math.isfinite(self.time):
            raise ValueError(f"time {self.time} is not a finite Unix time")
        if self.byte_range is not None and not 0 <= self.byte_range[0] <= self.byte_range[1]:
            raise ValueError(f"byte range {self.byte_range} is not first <= last")


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    """An entry as the log holds it: its index, its exact bytes and their leaf hash."""

    index: int
    entry: ViewEntry
    data: bytes
    leaf: bytes


def entry_bytes(index: int, entry: ViewEntry) -> bytes:
    """The canonical bytes of entry ``index``: compact UTF-8 JSON with sorted keys."""
    fields = {
        "v": _FORMAT,
        "seq": index,
        "viewer": entry.viewer_id,
        "role": entry.viewer_role,
        "household": entry.household_id,
        "clip": entry.clip_id,
        "derivative": entry.derivative.value,
        "time": entry.time,
        "lease": entry.lease_id,
        "range": None if entry.byte_range is None else list(entry.byte_range),
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def parse_entry(data: bytes) -> tuple[int, ViewEntry]:
    """(index, entry) from bytes ``entry_bytes`` wrote; ValueError if they are not such bytes."""
    try:
        f = json.loads(data.decode("utf-8"))
        span = f["range"]
        entry = ViewEntry(
            viewer_id=int(f["viewer"]),
            viewer_role=str(f["role"]),
            household_id=int(f["household"]),
            clip_id=str(f["clip"]),
            derivative=Derivative(f["derivative"]),
            time=float(f["time"]),
            lease_id=None if f["lease"] is None else str(f["lease"]),
            byte_range=None if span is None else (int(span[0]), int(span[1])),
        )
        index = int(f["seq"])
    except (UnicodeDecodeError, TypeError, KeyError, IndexError, ValueError) as error:
        raise ValueError(f"not a view log entry: {error}") from error
    if entry_bytes(index, entry) != data:
        raise ValueError("not in canonical form")
    return index, entry


_HEAD_ID = 1  # the one row of audit_head


def _split_hashes(blob: bytes) -> list[bytes]:
    size = merkle.HASH_SIZE
    return [blob[i : i + size] for i in range(0, len(blob), size)]


def _logged(row: ViewRow) -> LoggedEntry:
    try:
        entry = parse_entry(row.entry)[1]
    except ValueError as error:  # only a hand-edited database gets here
        raise StoreError(f"view log entry {row.idx}: {error} (hearthcam audit verify)") from None
    return LoggedEntry(row.idx, entry, row.entry, row.leaf)


def _checkpoint(row: CheckpointRow) -> Checkpoint:
    return Checkpoint(row.size, row.root, row.time_ms, row.signature)


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
        with self._store.write_session() as session:  # the write lock: indexes stay contiguous
            head = session.get(HeadRow, _HEAD_ID)
            if head is None:
                head = HeadRow(id=_HEAD_ID, size=0, frontier=b"")
                session.add(head)
            index = head.size
            data = entry_bytes(index, entry)
            leaf = merkle.leaf_hash(data)
            session.add(
                ViewRow(
                    idx=index,
                    household_id=entry.household_id,
                    viewer_id=entry.viewer_id,
                    clip_id=entry.clip_id,
                    time_ms=int(entry.time * 1000),
                    entry=data,
                    leaf=leaf,
                )
            )
            frontier = merkle.frontier_append(_split_hashes(head.frontier), index, leaf)
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
            return (0, []) if head is None else (head.size, _split_hashes(head.frontier))

    def checkpoint(self, now: float) -> Checkpoint:
        """Signs the current head; the latest checkpoint again if the log has not grown since."""
        if self._key is None:
            raise StoreError("this view log was opened without its signing key")
        with self._store.write_session() as session:
            latest = session.scalars(
                select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(1)
            ).first()
            head = session.get(HeadRow, _HEAD_ID)
            size, frontier = (0, []) if head is None else (head.size, _split_hashes(head.frontier))
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

    def entries_for_household(self, household_id: int) -> list[LoggedEntry]:
        """Every entry about a household's clips, oldest first (for its owner's page)."""
        query = select(ViewRow).where(ViewRow.household_id == household_id)
        with self._store.read_session() as session:
            return [_logged(r) for r in session.scalars(query.order_by(ViewRow.idx))]

    def entries(self, since: float | None = None) -> list[LoggedEntry]:
        """Every entry (timed at or after ``since``, when given), oldest first."""
        query = select(ViewRow).order_by(ViewRow.idx)
        if since is not None:
            query = query.where(ViewRow.time_ms >= int(since * 1000))
        with self._store.read_session() as session:
            return [_logged(r) for r in session.scalars(query)]

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
                    tree.append(leaf)
        if tree.size < size:
            raise ValueError(f"the view log has {tree.size} entries, not {size}")
        return tree

    def verify(self, public_key: Ed25519PublicKey | None = None) -> VerifyReport:
        """Checks the whole log from its entry bytes (``public_key`` defaults to the signer's)."""
        if public_key is None and self._key is not None:
            public_key = self._key.public_key
        checkpoints = self.checkpoints()  # first: any later append only adds rows they cover
        query = select(ViewRow.idx, ViewRow.entry, ViewRow.leaf).order_by(ViewRow.idx)
        with self._store.read_session() as session:  # one snapshot: head and rows agree
            row = session.get(HeadRow, _HEAD_ID)
            head = None
            if row is not None:
                head = (row.size, merkle.frontier_root(_split_hashes(row.frontier)))
            # Streamed: a long log costs its leaf hashes in memory, not its entries.
            rows = session.execute(query).yield_per(1000)
            return check((StoredRow(i, d, h) for i, d, h in rows), head, checkpoints, public_key)
