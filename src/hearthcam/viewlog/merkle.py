"""RFC 6962 Merkle tree math: leaf and node hashes, tree heads, inclusion and consistency proofs.

Pure and storage-free; ``store.audit`` keeps the view log on top of it. The tree is the one of
RFC 6962 §2.1 (split at the largest power of two smaller than n, never padded), so proofs made
here verify with any Certificate Transparency client (Go's transparency-dev/merkle, the
browser module ``web/static/js/merkle.js``). Verification follows RFC 9162 §2.1.3.2 and
§2.1.4.2, which check a proof in one pass without rebuilding the tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) of RFC 6962 §2.1
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): the hash of one log entry."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an inner node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaves, straight from the RFC's recursive definition (the reference)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(tree_hash(leaf_hashes[:k]), tree_hash(leaf_hashes[k:]))


class MerkleTree:
    """An append-only tree that keeps every complete subtree, so any past head or proof costs
    O(log² n) hashes; appending costs O(1) amortized."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # _levels[l][j] is the hash of the complete subtree over leaves [j·2^l, (j+1)·2^l).
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        """How many leaves the tree has."""
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        """Adds a leaf hash, completing every subtree it closes."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
        level = 0
        self._levels[0].append(leaf)
        while len(self._levels[level]) % 2 == 0:
            left, right = self._levels[level][-2:]
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(node_hash(left, right))
            level += 1

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all of them by default)."""
        return self._subtree(0, self._size(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 6962 §2.1.1, leaf side first."""
        n = self._size(size)
        if not 0 <= index < n:
            raise ValueError(f"leaf {index} is not in a tree of {n}")
        return self._path(index, 0, n)

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:size]) of RFC 6962 §2.1.2 (empty for an empty or equal old tree)."""
        n = self._size(size)
        if not 0 <= old_size <= n:
            raise ValueError(f"a tree of {old_size} is not a prefix of one of {n}")
        if old_size in (0, n):
            return []
        return self._subproof(old_size, 0, n, complete=True)

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise ValueError(f"the tree has {self.size} leaves, not {size}")
        return size

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) from the stored complete subtrees."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            return self._levels[level][start >> level]
        k = _split(n)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def _path(self, index: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if index < k:
            return [*self._path(index, start, start + k), self._subtree(start + k, end)]
        return [*self._path(index - k, start + k, end), self._subtree(start, start + k)]

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self._subtree(start, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, complete), self._subtree(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self._subtree(start, start + k)]


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaf_hashes``."""
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the first ``old_size`` leaves are a prefix of the tree of ``leaf_hashes``."""
    return MerkleTree(leaf_hashes).consistency_proof(old_size)


def _shift_while(fn: int, sn: int, odd: bool) -> tuple[int, int]:
    """Right-shifts both while fn's low bit is ``odd`` (and fn is not 0)."""
    while fn and (fn & 1) == odd:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root an audit path leads to (RFC 9162 §2.1.3.2), or None if it cannot be one."""
    if not 0 <= index < size or len(leaf) != HASH_SIZE:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0 or len(p) != HASH_SIZE:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while(fn, sn, odd=False)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` puts leaf hash ``leaf`` at ``index`` in the tree (size, root)."""
    return root_from_inclusion(index, size, leaf, proof) == root


def verify_consistency(
    old_size: int, size: int, old_root: bytes, root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree (old_size, old_root) is a prefix of (size, root)
    (RFC 9162 §2.1.4.2)."""
    if not 0 <= old_size <= size:
        return False
    if old_size == size:
        return not proof and old_root == root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof or any(len(p) != HASH_SIZE for p in proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)  # the old tree is a complete subtree: its root starts the walk
    fn, sn = _shift_while(old_size - 1, size - 1, odd=True)
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_while(fn, sn, odd=False)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == root


def frontier_append(frontier: Sequence[bytes], size: int, leaf: bytes) -> list[bytes]:
    """The compact range of a tree of ``size + 1`` leaves from that of ``size`` and a new leaf.

    A frontier is the roots of the complete subtrees a tree of ``size`` leaves splits into,
    largest first (one per set bit of ``size``), so a log can keep its head in O(log n) space
    and grow it in O(log n) hashes without reading its leaves.
    """
    if len(frontier) != size.bit_count():
        raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier nodes")
    nodes = [*frontier, leaf]
    while size & 1:  # every trailing one bit is a complete subtree the new leaf closes
        right = nodes.pop()
        nodes[-1] = node_hash(nodes[-1], right)
        size >>= 1
    return nodes


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """MTH of the tree a frontier describes: its nodes folded from the right."""
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for node in reversed(frontier[:-1]):
        root = node_hash(node, root)
    return root
