"""Merkle roots and inclusion proofs (RFC 6962 shape) over both suites."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.crypto import get_suite
from node.errors import ValidationError
from node.ledger.merkle import LEAF, NODE, MerkleProof, merkle_proof, merkle_root

GM = get_suite("gm")


def test_small_trees_match_the_definition() -> None:
    h = GM.hash
    a, b, c = b"a", b"b", b"c"
    la, lb, lc = h(LEAF + a), h(LEAF + b), h(LEAF + c)
    assert merkle_root(GM, []) == h(b"")
    assert merkle_root(GM, [a]) == la
    assert merkle_root(GM, [a, b]) == h(NODE + la + lb)
    assert merkle_root(GM, [a, b, c]) == h(NODE + h(NODE + la + lb) + lc)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=40), st.data())
def test_every_leaf_has_a_proof_and_only_that_leaf_passes(leaves: list[bytes], data) -> None:
    for suite in (GM, get_suite("ecdsa")):
        root = merkle_root(suite, leaves)
        index = data.draw(st.integers(0, len(leaves) - 1))
        proof = merkle_proof(suite, leaves, index)
        assert proof.verify(suite, leaves[index], root)
        assert not proof.verify(suite, leaves[index] + b"x", root)
        assert MerkleProof.from_json(proof.to_json()) == proof
        if len(leaves) > 1:
            moved = MerkleProof((index + 1) % len(leaves), proof.size, proof.path)
            assert not moved.verify(suite, leaves[index], root) or leaves[moved.index] == leaves[index]


def test_malformed_proofs_are_rejected_not_crashing() -> None:
    leaves = [bytes([i]) for i in range(5)]
    root = merkle_root(GM, leaves)
    proof = merkle_proof(GM, leaves, 3)
    assert not MerkleProof(3, 5, proof.path[:-1]).verify(GM, leaves[3], root)
    assert not MerkleProof(3, 5, proof.path + (bytes(32),)).verify(GM, leaves[3], root)
    assert not MerkleProof(7, 5, proof.path).verify(GM, leaves[3], root)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 100])
def test_stored_levels_answer_the_same_proofs(size: int) -> None:
    from node.ledger.merkle import leaf_hash, merkle_levels, merkle_levels_of_hashes, proof_from_levels

    suite = get_suite("gm")
    leaves = [bytes([i % 256]) * 5 + i.to_bytes(4, "big") for i in range(size)]
    root = merkle_root(suite, leaves)
    levels = merkle_levels(suite, leaves)
    assert levels[-1] == [root]
    assert merkle_levels_of_hashes(suite, [leaf_hash(suite, leaf) for leaf in leaves]) == levels  # (batch workers hash the leaves)
    for index in range(size):
        assert proof_from_levels(levels, index) == merkle_proof(suite, leaves, index)
        assert proof_from_levels(levels, index).verify(suite, leaves[index], root)
    with pytest.raises(ValidationError):
        proof_from_levels(levels, size)
