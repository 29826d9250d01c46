"""RFC 6962 math against the published vectors (as used by transparency-dev/merkle) and by
exhaustion over small trees: every proof made verifies, every altered proof fails."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearthcam.viewlog import merkle
from hearthcam.viewlog.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    frontier_append,
    frontier_root,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

# The eight leaves of the RFC 6962 test tree and the roots of its first 1..8 leaves.
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
# (index, tree size, audit path)
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old size, new size, consistency proof)
CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
HASHES = [leaf_hash(x) for x in LEAVES]


def hashes(n: int) -> list[bytes]:
    """Leaf hashes of ``n`` distinct entries."""
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def flipped(value: bytes, bit: int) -> bytes:
    """``value`` with one bit inverted."""
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_hashes_are_domain_separated_sha256() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_the_rfc_tree(size: int) -> None:
    assert tree_hash(HASHES[:size]) == ROOTS[size - 1]
    assert MerkleTree(HASHES).root(size) == ROOTS[size - 1]
    assert MerkleTree(HASHES[:size]).root() == ROOTS[size - 1]


def test_the_empty_tree() -> None:
    assert tree_hash([]) == EMPTY_ROOT
    assert MerkleTree().root() == EMPTY_ROOT
    assert frontier_root([]) == EMPTY_ROOT


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, path: list[str]) -> None:
    proof = [bytes.fromhex(h) for h in path]
    assert MerkleTree(HASHES).inclusion_proof(index, size) == proof
    assert merkle.inclusion_proof(HASHES[:size], index) == proof
    assert verify_inclusion(index, size, HASHES[index], proof, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_vectors(old: int, new: int, path: list[str]) -> None:
    proof = [bytes.fromhex(h) for h in path]
    assert MerkleTree(HASHES).consistency_proof(old, new) == proof
    assert merkle.consistency_proof(HASHES[:new], old) == proof
    assert verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


def test_every_index_of_every_size_proves_and_verifies() -> None:
    leaves = hashes(64)
    tree = MerkleTree(leaves)
    for size in range(1, 65):
        root = tree_hash(leaves[:size])
        assert tree.root(size) == root
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert root_from_inclusion(index, size, leaves[index], proof) == root, (index, size)


def test_every_consistency_pair_up_to_64_verifies() -> None:
    leaves = hashes(64)
    tree = MerkleTree(leaves)
    for size in range(0, 65):
        for old in range(0, size + 1):
            proof = tree.consistency_proof(old, size)
            assert verify_consistency(old, size, tree.root(old), tree.root(size), proof)


def inclusion_tampers(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, tuple[int, int, bytes, list[bytes], bytes]]]:
    """Every single change to an inclusion claim that must make it fail."""
    other = leaf_hash(b"another entry")
    cases = [
        ("index + 1", (index + 1, size, leaf, proof, root)),
        ("index - 1", (index - 1, size, leaf, proof, root)),
        ("index ^ 2", (index ^ 2, size, leaf, proof, root)),
        ("size * 2", (index, size * 2, leaf, proof, root)),
        ("size // 2", (index, size // 2, leaf, proof, root)),
        ("other leaf", (index, size, other, proof, root)),
        ("empty root", (index, size, leaf, proof, EMPTY_ROOT)),
        ("appended", (index, size, leaf, [*proof, root], root)),
        ("prepended", (index, size, leaf, [root, *proof], root)),
    ]
    if proof:
        cases.append(("truncated", (index, size, leaf, proof[:-1], root)))
    for i, node in enumerate(proof):
        for bit in (0, 7, 100, 255):
            changed = [*proof[:i], flipped(node, bit), *proof[i + 1 :]]
            cases.append((f"proof[{i}] bit {bit}", (index, size, leaf, changed, root)))
    for bit in (0, 255):
        cases.append((f"leaf bit {bit}", (index, size, flipped(leaf, bit), proof, root)))
        cases.append((f"root bit {bit}", (index, size, leaf, proof, flipped(root, bit))))
    return cases


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 13, 16, 33, 64])
def test_altered_inclusion_proofs_fail(size: int) -> None:
    leaves = hashes(size)
    tree = MerkleTree(leaves)
    for index in range(size):
        proof = tree.inclusion_proof(index, size)
        for name, claim in inclusion_tampers(index, size, proof, tree.root(), leaves[index]):
            if name.startswith(("index", "size")) and claim[0] == index and claim[1] == size:
                continue  # e.g. 0 ^ 2 in a tree of 1 is not a change
            assert not verify_inclusion(*claim), (name, index, size)


@pytest.mark.parametrize(("old", "new"), [(1, 8), (6, 8), (2, 5), (6, 7), (3, 64), (32, 33)])
def test_altered_consistency_proofs_fail(old: int, new: int) -> None:
    tree = MerkleTree(hashes(new))
    root1, root2, proof = tree.root(old), tree.root(new), tree.consistency_proof(old, new)
    assert verify_consistency(old, new, root1, root2, proof)
    # Sizes one apart are not in the list: the same hashes can make the same root for both
    # (RFC 9162 binds a root to its size only through the signed checkpoint).
    bad = [
        (old - 1, new, root1, root2, proof),
        (old + 1, new, root1, root2, proof),
        (old, new * 2, root1, root2, proof),
        (old, new // 2, root1, root2, proof),
        (old, new, root2, root1, proof),
        (old, new, flipped(root1, 3), root2, proof),
        (old, new, root1, flipped(root2, 3), proof),
        (old, new, root1, root2, []),
        (old, new, root1, root2, proof[:-1]),
        (old, new, root1, root2, [*proof, root1]),
        (old, new, root1, root2, [proof[0], *proof]),
        (new, old, root2, root1, proof),
    ]
    for i in range(len(proof)):
        bad.append((old, new, root1, root2, [*proof[:i], flipped(proof[i], 12), *proof[i + 1 :]]))
    for case in bad:
        assert not verify_consistency(*case), case


def test_out_of_range_claims_fail() -> None:
    leaf = leaf_hash(b"x")
    assert not verify_inclusion(0, 0, leaf, [], EMPTY_ROOT)
    assert not verify_inclusion(1, 1, leaf, [], leaf)
    assert not verify_inclusion(-1, 1, leaf, [], leaf)
    assert verify_inclusion(0, 1, leaf, [], leaf)
    assert not verify_inclusion(0, 1, b"short", [], b"short")
    with pytest.raises(ValueError, match="not in a tree"):
        MerkleTree([leaf]).inclusion_proof(1)
    with pytest.raises(ValueError, match="has 1 leaves"):
        MerkleTree([leaf]).root(2)
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleTree().append(b"short")


def test_the_frontier_tracks_the_root() -> None:
    leaves = hashes(70)
    frontier: list[bytes] = []
    for size, leaf in enumerate(leaves):
        frontier = frontier_append(frontier, size, leaf)
        assert len(frontier) == (size + 1).bit_count()
        assert frontier_root(frontier) == tree_hash(leaves[: size + 1])
    with pytest.raises(ValueError, match="frontier nodes"):
        frontier_append([], 3, leaves[0])


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(st.binary(max_size=40), min_size=1, max_size=300),
    data=st.data(),
)
def test_random_trees_prove_their_entries_and_reject_flips(
    entries: list[bytes], data: st.DataObject
) -> None:
    leaves = [leaf_hash(e) for e in entries]
    size = data.draw(st.integers(1, len(leaves)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    tree = MerkleTree(leaves)
    root = tree_hash(leaves[:size])
    proof = tree.inclusion_proof(index, size)
    assert verify_inclusion(index, size, leaves[index], proof, root)
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1), label="node")
        bit = data.draw(st.integers(0, 255), label="bit")
        proof[which] = flipped(proof[which], bit)
        assert not verify_inclusion(index, size, leaves[index], proof, root)
    old = data.draw(st.integers(0, size), label="old")
    consistency = tree.consistency_proof(old, size)
    assert verify_consistency(old, size, tree_hash(leaves[:old]), root, consistency)
