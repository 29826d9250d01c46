"""Checking a whole view log from its stored rows: what ``hearthcam audit verify`` reports.

Pure: it takes the rows as read (index, entry bytes, stored leaf hash, the side columns that
index them), the stored head and the checkpoints, trusts none of the stored hashes, and names
every problem it finds: an entry whose bytes changed or are no entry (text included), a side
column that disagrees with the bytes, indexes missing, entries moved to another index, a head
that disagrees with the rows, a checkpoint whose signature or root does not hold.

A log cut back to an earlier checkpoint (or emptied), with its head rewritten, agrees with
itself: only a checkpoint kept outside the database shows it. ``saved`` takes those (the
owner's, from ``hearthcam audit checkpoint`` or the "Who viewed my clips" page) and names a
log smaller than one of them, or whose first entries no longer make its root.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hearthcam.viewlog import merkle
from hearthcam.viewlog.entry import ViewEntry, parse_entry, stored_as
from hearthcam.viewlog.signing import Checkpoint


class ProblemKind(StrEnum):
    """What is wrong."""

    CHANGED = "changed"  # an entry's bytes no longer hash to its leaf
    UNREADABLE = "unreadable"  # an entry's bytes are not an entry
    SIDE = "side column"  # an index column disagrees with the entry's hashed bytes
    MISSING = "missing"  # indexes absent (rows deleted)
    REORDERED = "reordered"  # an entry sits at another index than it was written at
    HEAD = "head mismatch"  # the stored size or root disagrees with the rows
    BAD_SIGNATURE = "bad signature"  # a checkpoint not signed by the key
    CHECKPOINT = "checkpoint mismatch"  # a signed root the rows no longer produce
    NO_KEY = "no key"  # checkpoints exist but there is no public key to check them
    SAVED = "saved checkpoint"  # a checkpoint kept outside the database the log no longer holds


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the log; ``index`` is the entry's (or the checkpoint's size)."""

    kind: ProblemKind
    index: int | None
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What verification found."""

    entries: int
    checkpoints: int
    root: bytes  # the head recomputed from the entry bytes
    problems: tuple[Problem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


# The columns of audit_views that index an entry, and what of the entry each must equal.
SIDE_COLUMNS = ("household_id", "viewer_id", "clip_id", "time_ms")


def side_values(entry: ViewEntry) -> tuple[object, ...]:
    """What the side columns of an entry's row hold (in ``SIDE_COLUMNS`` order)."""
    return entry.household_id, entry.viewer_id, entry.clip_id, int(entry.time * 1000)


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One row of the entries table as read; ``data`` and ``leaf`` are whatever the database
    gave back (an attacker may have stored text there), ``side`` the index columns, if read."""

    index: int
    data: object
    leaf: object
    side: tuple[object, ...] | None = None  # in SIDE_COLUMNS order


def _raw(data: object) -> bytes:
    """The bytes an entry value stands for, whatever its storage class (for the tree)."""
    if isinstance(data, bytes):
        return data
    return str(data).encode("utf-8", "surrogateescape")  # what a non-UTF-8 text was read as


def _check_side(row: StoredRow, entry: ViewEntry) -> list[Problem]:
    if row.side is None:
        return []
    problems = []
    for column, stored, hashed in zip(SIDE_COLUMNS, row.side, side_values(entry), strict=True):
        if type(stored) is not type(hashed) or stored != hashed:
            detail = (
                f"entry {row.index}: its {column} column says {stored!r}, its hashed bytes "
                f"{hashed!r} (the index was edited)"
            )
            problems.append(Problem(ProblemKind.SIDE, row.index, detail))
    return problems


def _check_row(row: StoredRow, leaf: bytes) -> list[Problem]:
    """The problems of one row, given the leaf hash of its bytes."""
    problems = []
    if leaf != row.leaf:
        problems.append(Problem(ProblemKind.CHANGED, row.index, f"entry {row.index} was changed"))
    if not isinstance(row.data, bytes):
        detail = f"entry {row.index} is stored as {stored_as(row.data)}, not bytes"
        return [*problems, Problem(ProblemKind.UNREADABLE, row.index, detail)]
    try:
        written, entry = parse_entry(row.data)
    except ValueError as error:
        detail = f"entry {row.index} is not an entry ({error})"
        return [*problems, Problem(ProblemKind.UNREADABLE, row.index, detail)]
    if written != row.index:
        problems.append(
            Problem(
                ProblemKind.REORDERED,
                row.index,
                f"entry {row.index} was written as entry {written} (entries reordered)",
            )
        )
    return problems + _check_side(row, entry)


def _missing(expected: int, found: int) -> Problem:
    shown = str(expected) if found == expected + 1 else f"{expected}-{found - 1}"
    return Problem(ProblemKind.MISSING, expected, f"entries {shown} are missing (removed)")


def _check_rows(rows: Iterable[StoredRow]) -> tuple[merkle.MerkleTree, int, list[Problem]]:
    """The tree of the rows' own bytes, the next index expected, and the rows' problems."""
    tree = merkle.MerkleTree()
    problems: list[Problem] = []
    expected = 0
    for row in rows:
        if row.index != expected:
            problems.append(_missing(expected, row.index))
        leaf = merkle.leaf_hash(_raw(row.data))
        problems += _check_row(row, leaf)
        tree.append(leaf)
        expected = row.index + 1
    return tree, expected, problems


def _check_head(tree: merkle.MerkleTree, end: int, head: tuple[int, bytes] | None) -> list[Problem]:
    """The stored head against the rows: its size, then its root."""
    size, root = head if head is not None else (0, merkle.EMPTY_ROOT)
    if size != end or size != tree.size:
        detail = f"the log's head says {size} entries; {tree.size} are stored"
        if size > end:
            detail += f", the last {size - end} removed"
        return [Problem(ProblemKind.HEAD, None, detail)]
    if root != tree.root():
        return [Problem(ProblemKind.HEAD, None, "the log's head root does not match its entries")]
    return []


def _check_checkpoint(
    tree: merkle.MerkleTree, checkpoint: Checkpoint, key: Ed25519PublicKey | None
) -> list[Problem]:
    """One checkpoint: its signature, then its root against the rows at its size."""
    size = checkpoint.size
    problems = []
    if key is not None and not checkpoint.signed_by(key):
        problems.append(
            Problem(ProblemKind.BAD_SIGNATURE, size, f"checkpoint at size {size}: bad signature")
        )
    if size > tree.size:
        detail = f"checkpoint at size {size}, but only {tree.size} entries remain (removed)"
        problems.append(Problem(ProblemKind.CHECKPOINT, size, detail))
    elif tree.root(size) != checkpoint.root:
        detail = f"checkpoint at size {size} does not match the entries before it"
        problems.append(Problem(ProblemKind.CHECKPOINT, size, detail))
    return problems


def _when(time_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(time_ms / 1000))


def _check_saved(
    tree: merkle.MerkleTree, saved: Checkpoint, key: Ed25519PublicKey | None
) -> list[Problem]:
    """A checkpoint kept outside the database: the log must still hold it as a prefix."""
    size = saved.size
    problems = []
    if key is not None and not saved.signed_by(key):
        detail = f"saved checkpoint at size {size}: bad signature (not the log's key)"
        problems.append(Problem(ProblemKind.BAD_SIGNATURE, size, detail))
    if size > tree.size:
        detail = (
            f"the saved checkpoint has {size} entries, the log only {tree.size}: "
            f"{size - tree.size} removed (signed {_when(saved.time_ms)})"
        )
        problems.append(Problem(ProblemKind.SAVED, size, detail))
    elif tree.root(size) != saved.root:
        detail = (
            f"the saved checkpoint of {_when(saved.time_ms)} does not match the log's first "
            f"{size} entries (entries rewritten)"
        )
        problems.append(Problem(ProblemKind.SAVED, size, detail))
    return problems


def check(
    rows: Iterable[StoredRow],
    head: tuple[int, bytes] | None,
    checkpoints: Sequence[Checkpoint],
    key: Ed25519PublicKey | None,
    *,
    saved: Sequence[Checkpoint] = (),
    damaged: Sequence[Problem] = (),
) -> VerifyReport:
    """Every problem of a log: ``rows`` in index order, ``head`` as (size, root) if stored,
    ``saved`` the checkpoints kept outside it, ``damaged`` what reading the rows found."""
    tree, end, problems = _check_rows(rows)
    problems += damaged
    problems += _check_head(tree, end, head)
    if checkpoints and key is None:
        problems.append(
            Problem(ProblemKind.NO_KEY, None, "no public key to check the checkpoints with")
        )
    for checkpoint in checkpoints:
        problems += _check_checkpoint(tree, checkpoint, key)
    for kept in saved:
        problems += _check_saved(tree, kept, key)
    return VerifyReport(tree.size, len(checkpoints), tree.root(), tuple(problems))
