"""Checking a whole view log from its stored rows: what ``hearthcam audit verify`` reports.

Pure: it takes the rows as read (index, entry bytes, stored leaf hash), the stored head and the
checkpoints, trusts none of the stored hashes, and names every problem it finds: an entry whose
bytes changed, indexes missing, entries moved to another index, a head that disagrees with the
rows, a checkpoint whose signature or root does not hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hearthcam.viewlog import merkle
from hearthcam.viewlog.signing import Checkpoint


class ProblemKind(StrEnum):
    """What is wrong."""

    CHANGED = "changed"  # an entry's bytes no longer hash to its leaf
    UNREADABLE = "unreadable"  # an entry's bytes are not an entry
    MISSING = "missing"  # indexes absent (rows deleted)
    REORDERED = "reordered"  # an entry sits at another index than it was written at
    HEAD = "head mismatch"  # the stored size or root disagrees with the rows
    BAD_SIGNATURE = "bad signature"  # a checkpoint not signed by the key
    CHECKPOINT = "checkpoint mismatch"  # a signed root the rows no longer produce
    NO_KEY = "no key"  # checkpoints exist but there is no public key to check them


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


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One row of the entries table as read."""

    index: int
    data: bytes
    leaf: bytes


def _written_index(data: bytes) -> int | None:
    """The index an entry's bytes say it was written at, or None if they are not an entry."""
    try:
        value = json.loads(data.decode("utf-8"))
        seq = value["seq"] if isinstance(value, dict) else None
    except (UnicodeDecodeError, ValueError, KeyError):
        return None
    return seq if isinstance(seq, int) else None


def _check_row(row: StoredRow, leaf: bytes) -> list[Problem]:
    """The problems of one row, given the leaf hash of its bytes."""
    problems = []
    if leaf != row.leaf:
        problems.append(Problem(ProblemKind.CHANGED, row.index, f"entry {row.index} was changed"))
    written = _written_index(row.data)
    if written is None:
        problems.append(
            Problem(ProblemKind.UNREADABLE, row.index, f"entry {row.index} is not an entry")
        )
    elif written != row.index:
        problems.append(
            Problem(
                ProblemKind.REORDERED,
                row.index,
                f"entry {row.index} was written as entry {written} (entries reordered)",
            )
        )
    return problems


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
        leaf = merkle.leaf_hash(row.data)
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


def check(
    rows: Iterable[StoredRow],
    head: tuple[int, bytes] | None,
    checkpoints: Sequence[Checkpoint],
    key: Ed25519PublicKey | None,
) -> VerifyReport:
    """Every problem of a log: ``rows`` in index order, ``head`` as (size, root) if stored."""
    tree, end, problems = _check_rows(rows)
    problems += _check_head(tree, end, head)
    if checkpoints and key is None:
        problems.append(
            Problem(ProblemKind.NO_KEY, None, "no public key to check the checkpoints with")
        )
    for checkpoint in checkpoints:
        problems += _check_checkpoint(tree, checkpoint, key)
    return VerifyReport(tree.size, len(checkpoints), tree.root(), tuple(problems))
