"""RecordRegistry on our executor: anchor, versions, revoke, batch anchoring with SM3 Merkle proofs checked on chain."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address

from harness import Harness
from node.crypto import get_suite
from node.ledger.merkle import merkle_proof, merkle_root

GM = get_suite("gm")
CREDIT = keccak(text="credit")


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    yield harness
    harness.chain.close()


def commitment(record: bytes) -> tuple[bytes, bytes]:
    """A salted commitment, as custodians make them: SM3(salt || canonical bytes)."""
    salt = os.urandom(32)
    return salt, GM.hash(salt + record)


def test_anchor_update_revoke_by_the_custodian_only(h: Harness) -> None:
    center, other = h.admins[0], h.admins[1]
    enterprise = to_checksum_address(h.outsider.address)
    record_id = GM.hash(b"credit/91350100M000100Y43/2026")
    _, first = commitment(b'{"rating":"AAA"}')
    receipt = h.send(center, "anchor", record_id, CREDIT, enterprise, first, 1, contract="RecordRegistry")
    assert receipt.status == 1, receipt.revert_reason
    (event,) = h.events(receipt, "Anchored", contract="RecordRegistry")
    assert event.owner == enterprise and event.custodian.lower() == "0x" + center.address.hex()
    assert h.refused(center, "anchor", record_id, CREDIT, enterprise, first, 1, contract="RecordRegistry") == "RecordExists"
    assert h.refused(other, "update", record_id, first, 1, contract="RecordRegistry") == "NotCustodian"
    assert h.send(center, "admit", enterprise).status == 1  # an admitted enterprise may transact, not anchor
    assert h.refused(h.outsider, "anchor", GM.hash(b"x"), CREDIT, enterprise, first, 1, contract="RecordRegistry") == "NotCenter"
    _, second = commitment(b'{"rating":"AA"}')
    receipt = h.send(center, "update", record_id, second, 2, contract="RecordRegistry")
    (updated,) = h.events(receipt, "Updated", contract="RecordRegistry")
    assert updated.version == 2 and updated.previousCommitment == first and updated.commitment == second
    assert h.call("commitmentAt", record_id, 1, types=["bytes32"], contract="RecordRegistry") == (first,)
    assert h.call("commitmentAt", record_id, 2, types=["bytes32"], contract="RecordRegistry") == (second,)
    assert h.send(center, "revoke", record_id, contract="RecordRegistry").status == 1
    assert h.refused(center, "update", record_id, second, 2, contract="RecordRegistry") == "RecordRevoked"
    assert h.refused(center, "revoke", GM.hash(b"nothing"), contract="RecordRegistry") == "UnknownRecord"
    assert h.refused(center, "anchor", GM.hash(b"y"), CREDIT, to_checksum_address(bytes(20)), first, 1, contract="RecordRegistry") == "InvalidOwner"
    assert h.refused(center, "anchor", GM.hash(b"y"), CREDIT, enterprise, bytes(32), 1, contract="RecordRegistry") == "EmptyCommitment"


def test_batch_of_1000_records_and_inclusion_proofs_checked_on_chain(h: Harness) -> None:
    leaves = [commitment(b"record %d" % i)[1] for i in range(1000)]
    root = merkle_root(GM, leaves)
    receipt = h.send(h.admins[0], "anchorBatch", root, len(leaves), contract="RecordRegistry")
    assert receipt.status == 1
    for index in (0, 1, 511, 998, 999):
        proof = merkle_proof(GM, leaves, index)
        args = (root, leaves[index], index, list(proof.path))
        assert h.call("verifyInBatch", *args, types=["bool"], contract="RecordRegistry") == (True,)
    proof = merkle_proof(GM, leaves, 7)
    assert h.call("verifyInBatch", root, leaves[8], 7, list(proof.path), types=["bool"], contract="RecordRegistry") == (False,)
    assert h.call("verifyInBatch", root, leaves[7], 7, list(proof.path[:-1]), types=["bool"], contract="RecordRegistry") == (False,)
    assert h.call("verifyInBatch", GM.hash(b"unanchored"), leaves[7], 7, list(proof.path), types=["bool"], contract="RecordRegistry") == (False,)
    assert h.refused(h.admins[1], "anchorBatch", root, 1000, contract="RecordRegistry") == "BatchExists"
    assert h.refused(h.admins[1], "anchorBatch", GM.hash(b"r"), 0, contract="RecordRegistry") == "EmptyBatch"


def test_a_batched_record_opens_individually_for_sharing(h: Harness) -> None:
    """A bulk import anchors one root; a record of it becomes addressable (for grants) when its custodian shows
    its leaf and path — and only then, only by that custodian, only with the exact leaf."""
    from eth_abi import encode

    owner = to_checksum_address(h.outsider.address)
    entries = [(GM.hash(b"id %d" % i), CREDIT, owner, commitment(b"record %d" % i)[1], 1) for i in range(5)]
    leaves = [encode(["bytes32", "bytes32", "address", "bytes32", "uint32"], list(e)) for e in entries]
    root = merkle_root(GM, leaves)
    assert h.send(h.admins[0], "anchorBatch", root, len(leaves), contract="RecordRegistry").status == 1
    path = list(merkle_proof(GM, leaves, 3).path)
    assert h.refused(h.admins[0], "record", entries[3][0], contract="RecordRegistry") == "UnknownRecord"
    assert h.refused(h.admins[1], "anchorFromBatch", root, 3, path, *entries[3], contract="RecordRegistry") == "NotCustodian"
    assert h.refused(h.admins[0], "anchorFromBatch", root, 3, path, *entries[2], contract="RecordRegistry") == "NotInBatch"
    forged = (entries[3][0], CREDIT, to_checksum_address(h.admins[0].address), entries[3][3], 1)  # another owner
    assert h.refused(h.admins[0], "anchorFromBatch", root, 3, path, *forged, contract="RecordRegistry") == "NotInBatch"
    assert h.refused(h.admins[0], "anchorFromBatch", GM.hash(b"x"), 3, path, *entries[3], contract="RecordRegistry") == "UnknownBatch"
    receipt = h.send(h.admins[0], "anchorFromBatch", root, 3, path, *entries[3], contract="RecordRegistry")
    assert receipt.status == 1
    (opened,) = h.events(receipt, "OpenedFromBatch", contract="RecordRegistry")
    (anchored,) = h.events(receipt, "Anchored", contract="RecordRegistry")
    assert opened.root == root and opened.index == 3 and anchored.owner == owner and anchored.commitment == entries[3][3]
    record = h.view("record", entries[3][0], contract="RecordRegistry")
    assert record[0].lower() == owner.lower() and record[1].lower() == "0x" + h.admins[0].address.hex() and record[5] == 1
    assert h.refused(h.admins[0], "anchorFromBatch", root, 3, path, *entries[3], contract="RecordRegistry") == "RecordExists"
