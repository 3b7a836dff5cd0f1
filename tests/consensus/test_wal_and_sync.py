"""The file WAL survives torn writes; block sync applies only certified blocks, in order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from node.consensus.sync import Applied, ApplyBlock, BlockReceived, BlockSync, PeerHeight, PeerMisbehaved, RequestFailed, SendRequest
from node.consensus.wal import FileWal, WalError
from node.crypto import get_suite
from node.types import CommitCertificate, Validator, ValidatorSet, Vote, VoteType

SUITE = get_suite("ecdsa")
KEYS = sorted((SUITE.key_from_secret(hashlib.sha256(bytes([i, 7])).digest()) for i in range(4)), key=lambda k: k.address)
VALIDATORS = ValidatorSet.of([Validator(k.address, k.public_key) for k in KEYS])


def votes(height: int, value: bytes, signers=KEYS[:3]) -> list[Vote]:
    return [Vote(1, VoteType.PRECOMMIT, height, 0, value, k.address).signed(k) for k in signers]


def test_file_wal_round_trip_torn_tail_and_prune(tmp_path: Path) -> None:
    path = tmp_path / "wal"
    wal = FileWal(path)
    for height in (1, 2, 3):
        wal.append(votes(height, bytes(32))[0])
    wal.close()
    with open(path, "ab") as handle:
        handle.write(b"\x00\x00\x01\x00torn")  # a crash mid-append
    reopened = FileWal(path)
    assert [m.height for m in reopened.records()] == [1, 2, 3]
    reopened.append(votes(4, bytes(32))[0])
    reopened.prune_below(3)
    reopened.close()
    assert [m.height for m in FileWal(path).records()] == [3, 4]
    data = bytearray(path.read_bytes())
    data[12] ^= 0xFF  # damage inside the first record, not the tail
    path.write_bytes(bytes(data))
    with pytest.raises(WalError, match="corrupt"):
        FileWal(path)


def block(height: int) -> bytes:
    return hashlib.sha256(b"block%d" % height).digest()


def certificate(height: int, value: bytes | None = None, signers=KEYS[:3]) -> CommitCertificate:
    return CommitCertificate.from_votes(votes(height, value or block(height), signers))


def test_sync_applies_in_order_and_reports_a_bad_peer() -> None:
    sync = BlockSync(suite=SUITE, chain_id=1, validators_at=lambda h: VALIDATORS, block_hash_of=lambda b: b, next_height=1)
    requests = [a for a in sync.step(PeerHeight("bad", 3)) if isinstance(a, SendRequest)]
    assert [(r.peer, r.height) for r in requests] == [("bad", 1), ("bad", 2), ("bad", 3)]
    actions = sync.step(BlockReceived("bad", 1, block(1), certificate(1, signers=KEYS[:2])))  # too few signatures
    assert any(isinstance(a, PeerMisbehaved) and "quorum" in a.reason for a in actions)
    assert not sync.in_flight  # nothing more is expected from the bad peer
    requests = [a for a in sync.step(PeerHeight("good", 3)) if isinstance(a, SendRequest)]
    assert [(r.peer, r.height) for r in requests] == [("good", 1), ("good", 2), ("good", 3)]
    applied = []
    for height in (3, 2, 1):  # answers arrive in reverse order
        for action in sync.step(BlockReceived("good", height, block(height), certificate(height))):
            assert not isinstance(action, PeerMisbehaved)
            if isinstance(action, ApplyBlock):
                applied.append(action.height)
    while sync.applying is not None:
        for action in sync.step(Applied(sync.applying)):
            if isinstance(action, ApplyBlock):
                applied.append(action.height)
    assert applied == [1, 2, 3] and sync.next_height == 4 and not sync.syncing


def test_sync_refuses_a_certificate_for_another_block_and_retries_after_failure() -> None:
    sync = BlockSync(suite=SUITE, chain_id=1, validators_at=lambda h: VALIDATORS, block_hash_of=lambda b: b, next_height=1)
    (request,) = [a for a in sync.step(PeerHeight("p", 1)) if isinstance(a, SendRequest)]
    actions = sync.step(BlockReceived("p", 1, block(1), certificate(1, value=block(9))))
    assert any(isinstance(a, PeerMisbehaved) and "does not certify" in a.reason for a in actions)
    sync.step(PeerHeight("q", 1))
    actions = sync.step(RequestFailed("q", 1))
    assert sync.next_height == 1


def test_certificates_are_checked_against_the_set_in_force_at_their_height() -> None:
    """From height 3 on, a new validator set (the last three old keys plus a new one) is in force."""
    newcomer = SUITE.key_from_secret(hashlib.sha256(b"newcomer").digest())
    new_keys = sorted(KEYS[1:] + [newcomer], key=lambda k: k.address)
    new_set = ValidatorSet.of([Validator(k.address, k.public_key) for k in new_keys])
    sync = BlockSync(suite=SUITE, chain_id=1, validators_at=lambda h: VALIDATORS if h < 3 else new_set,
                     block_hash_of=lambda b: b, next_height=3)
    sync.step(PeerHeight("p", 4))
    # signed by the old set's first three keys: KEYS[0] is no longer a validator at height 3
    actions = sync.step(BlockReceived("p", 3, block(3), certificate(3, signers=KEYS[:3])))
    assert any(isinstance(a, PeerMisbehaved) and "not a validator at height 3" in a.reason for a in actions)
    sync.step(PeerHeight("q", 4))
    requests = [a for a in sync.step(RequestFailed("x", 3)) if isinstance(a, SendRequest)]
    peer = sync.in_flight[3]
    actions = sync.step(BlockReceived(peer, 3, block(3), certificate(3, signers=new_keys[:3])))
    assert any(isinstance(a, ApplyBlock) and a.height == 3 for a in actions)
