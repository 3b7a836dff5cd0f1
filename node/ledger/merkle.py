"""Binary Merkle trees over the chain's suite hash, with inclusion proofs.

The tree is RFC 6962's (Certificate Transparency): a leaf hashes as
``H(0x00 || leaf)``, an inner node as ``H(0x01 || left || right)``, and a node
without a sibling moves up a level unchanged. The domain bytes keep a leaf
from passing as an inner node. The empty tree's root is ``H(b"")``.

Transactions roots use the raw transaction bytes as leaves; receipt roots the
canonical receipt encoding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Sequence

from node.crypto.suites import Suite
from node.errors import ValidationError

LEAF = b"\x00"
NODE = b"\x01"


def leaf_hash(suite: Suite, leaf: bytes) -> bytes:
    return suite.hash(LEAF + leaf)


def leaf_hasher(suite: Suite) -> Callable[[bytes], bytes]:
    """:func:`leaf_hash` for many leaves, the prefix hashed once where the suite can (a batch of 10,000 leaves)."""
    return suite.hash_after(LEAF)


def _levels(suite: Suite, leaves: Sequence[bytes]) -> list[list[bytes]]:
    return _levels_above(suite, [leaf_hash(suite, leaf) for leaf in leaves])


def _levels_above(suite: Suite, level: list[bytes]) -> list[list[bytes]]:
    levels = [level]
    while len(level) > 1:
        level = [
            suite.hash(NODE + level[i] + level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
        levels.append(level)
    return levels


def merkle_root(suite: Suite, leaves: Sequence[bytes]) -> bytes:
    """The root of ``leaves`` (in order)."""
    if not leaves:
        return suite.hash(b"")
    return _levels(suite, leaves)[-1][0]


@dataclasses.dataclass(frozen=True, slots=True)
class MerkleProof:
    """That the leaf at ``index`` of a tree of ``size`` leaves has the given root.

    ``path`` lists the sibling hashes from the leaf level upwards, skipping
    levels where the node had no sibling.
    """

    index: int
    size: int
    path: tuple[bytes, ...]

    def root_for(self, suite: Suite, leaf: bytes) -> bytes:
        """The root this proof yields for ``leaf``; raises ValidationError when malformed."""
        if not 0 <= self.index < self.size:
            raise ValidationError("proof.index", f"{self.index} is outside a tree of {self.size} leaves")
        node = leaf_hash(suite, leaf)
        index, width, path = self.index, self.size, list(self.path)
        while width > 1:
            if index % 2 == 1:
                if not path:
                    raise ValidationError("proof.path", "too short for the tree size")
                node = suite.hash(NODE + path.pop(0) + node)
            elif index + 1 < width:
                if not path:
                    raise ValidationError("proof.path", "too short for the tree size")
                node = suite.hash(NODE + node + path.pop(0))
            index, width = index // 2, (width + 1) // 2
        if path:
            raise ValidationError("proof.path", f"{len(path)} hash(es) too many for the tree size")
        return node

    def verify(self, suite: Suite, leaf: bytes, root: bytes) -> bool:
        try:
            return self.root_for(suite, leaf) == root
        except ValidationError:
            return False

    def to_json(self) -> dict:
        return {"index": self.index, "size": self.size, "path": ["0x" + h.hex() for h in self.path]}

    @classmethod
    def from_json(cls, document: dict) -> MerkleProof:
        try:
            return cls(int(document["index"]), int(document["size"]), tuple(bytes.fromhex(h.removeprefix("0x")) for h in document["path"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValidationError("proof", f"malformed Merkle proof: {exc}") from None


def _path(levels: list[list[bytes]], index: int) -> tuple[bytes, ...]:
    path = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return tuple(path)


def merkle_proof(suite: Suite, leaves: Sequence[bytes], index: int) -> MerkleProof:
    """The inclusion proof of ``leaves[index]``."""
    if not 0 <= index < len(leaves):
        raise ValidationError("index", f"{index} is outside a list of {len(leaves)} leaves")
    return proof_from_levels(_levels(suite, leaves), index)


def merkle_levels(suite: Suite, leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree of ``leaves``, leaf hashes first and the root (alone) last: keep it to answer any
    leaf's proof later with :func:`proof_from_levels`, without hashing again."""
    if not leaves:
        raise ValidationError("leaves", "a tree needs at least one leaf")
    return _levels(suite, leaves)


def merkle_levels_of_hashes(suite: Suite, leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """:func:`merkle_levels` of leaves whose hashes (:func:`leaf_hash`) were computed already, elsewhere."""
    if not leaf_hashes:
        raise ValidationError("leaves", "a tree needs at least one leaf")
    return _levels_above(suite, list(leaf_hashes))


def proof_from_levels(levels: Sequence[Sequence[bytes]], index: int) -> MerkleProof:
    """The proof of leaf ``index`` from a tree's levels (:func:`merkle_levels`)."""
    size = len(levels[0])
    if not 0 <= index < size:
        raise ValidationError("index", f"{index} is outside a tree of {size} leaves")
    return MerkleProof(index, size, _path(levels, index))  # type: ignore[arg-type]
