"""Authorization on our executor: direct and relayed (SM2-signed) grants, scope, uses, expiry, revocation, access log."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from harness import Harness
from node.consortium import AUTHORIZATION_ADDRESS
from node.crypto import get_suite

GM = get_suite("gm")
CREDIT, PERFORMANCE = keccak(text="credit"), keccak(text="performance")


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    yield harness
    harness.chain.close()


def terms(owner, grantee, *, ids=(), types=(), purpose="guarantee review", window=(-60, 3600), uses=0, nonce=1) -> tuple:  # type: ignore[no-untyped-def]
    now = int(time.time())
    return (to_checksum_address(owner), to_checksum_address(grantee), list(ids), list(types), purpose,
            now + window[0], now + window[1], uses, nonce)


def digest(h: Harness, t: tuple) -> bytes:
    """The message the owner signs, computed here independently of the contract."""
    encoded = encode(
        ["bytes32", "uint256", "address", "address", "address", "bytes32", "bytes32", "bytes32", "uint64", "uint64", "uint32", "uint64"],
        [keccak(text="YILIAN/grant/v1"), h.chain.chain_id, AUTHORIZATION_ADDRESS, t[0], t[1], keccak(b"".join(t[2])),
         keccak(b"".join(t[3])), keccak(t[4].encode()), t[5], t[6], t[7], t[8]],
    )
    return keccak(encoded)


def setup_records(h: Harness) -> tuple[bytes, bytes]:
    owner = to_checksum_address(h.outsider.address)
    r1, r2 = GM.hash(b"record-1"), GM.hash(b"record-2")
    assert h.send(h.admins[0], "anchor", r1, CREDIT, owner, GM.hash(b"c1"), 1, contract="RecordRegistry").status == 1
    assert h.send(h.admins[0], "anchor", r2, PERFORMANCE, owner, GM.hash(b"c2"), 1, contract="RecordRegistry").status == 1
    assert h.send(h.admins[0], "admit", owner).status == 1
    return r1, r2


def authorized(h: Harness, grantee: bytes, record: bytes) -> bool:
    return h.call("isAuthorized", to_checksum_address(grantee), record, types=["bool"], contract="Authorization")[0]


def test_direct_grant_scope_uses_and_access_log(h: Harness) -> None:
    r1, r2 = setup_records(h)
    bank = GM.generate_key().address
    t = terms(h.outsider.address, bank, ids=[r1], uses=2)
    receipt = h.send(h.outsider, "grant", t, contract="Authorization")
    assert receipt.status == 1, receipt.revert_reason
    (granted,) = h.events(receipt, "Granted", contract="Authorization")
    assert granted.relayed is False and granted.maxUses == 2
    assert authorized(h, bank, r1) and not authorized(h, bank, r2) and not authorized(h, GM.generate_key().address, r1)
    grant_id = granted.grantId
    assert h.refused(h.admins[1], "logAccess", grant_id, r1, contract="Authorization") == "NotCustodian"
    for expected in (1, 2):
        receipt = h.send(h.admins[0], "logAccess", grant_id, r1, contract="Authorization")
        assert h.events(receipt, "AccessLogged", contract="Authorization")[0].uses == expected
    assert h.refused(h.admins[0], "logAccess", grant_id, r1, contract="Authorization") == "NotAuthorized"  # uses exhausted
    assert not authorized(h, bank, r1)
    assert h.refused(h.admins[0], "grant", terms(h.outsider.address, bank, ids=[r1], nonce=2), contract="Authorization") == "NotOwner"
    assert h.refused(h.outsider, "grant", t, contract="Authorization") == "NonceUsed"
    assert h.refused(h.outsider, "grant", terms(h.outsider.address, bank, nonce=3), contract="Authorization") == "EmptyScope"
    assert h.refused(h.outsider, "grant", terms(h.outsider.address, bank, ids=[r1], window=(-100, -10), nonce=4),
                     contract="Authorization") == "GrantExpired"


def test_relayed_sm2_signed_grant_and_revocation(h: Harness) -> None:
    r1, r2 = setup_records(h)
    bank = GM.generate_key().address
    t = terms(h.outsider.address, bank, types=[PERFORMANCE], purpose="credit line review", nonce=7)
    message = h.call("grantDigest", t, types=["bytes32"], contract="Authorization")[0]
    assert message == digest(h, t)
    signature = h.outsider.sign(message)  # the enterprise's wallet signs (SM2); a center relays
    public = h.outsider.public_key[1:]
    forged = terms(h.outsider.address, GM.generate_key().address, types=[PERFORMANCE], purpose="credit line review", nonce=7)
    assert h.refused(h.admins[2], "grantRelayed", forged, public, signature, contract="Authorization") == "BadSignature"
    impostor = GM.generate_key()
    assert h.refused(h.admins[2], "grantRelayed", t, impostor.public_key[1:], impostor.sign(message), contract="Authorization") == "KeyNotOwner"
    receipt = h.send(h.admins[2], "grantRelayed", t, public, signature, contract="Authorization")
    assert receipt.status == 1, receipt.revert_reason
    (granted,) = h.events(receipt, "Granted", contract="Authorization")
    assert granted.relayed is True
    assert authorized(h, bank, r2) and not authorized(h, bank, r1)  # scope is the record type
    assert h.refused(h.admins[3], "grantRelayed", t, public, signature, contract="Authorization") == "NonceUsed"  # no replay
    assert h.refused(h.admins[0], "revoke", granted.grantId, contract="Authorization") == "NotOwner"
    assert h.send(h.outsider, "revoke", granted.grantId, contract="Authorization").status == 1
    assert not authorized(h, bank, r2)
    assert h.refused(h.outsider, "revoke", granted.grantId, contract="Authorization") == "GrantRevoked"
    assert h.refused(h.admins[0], "logAccess", granted.grantId, r2, contract="Authorization") == "GrantRevoked"
    # the custodian logs its refusal too; nobody else can write the record's log
    receipt = h.send(h.admins[0], "logRefusal", r2, to_checksum_address(bank), granted.grantId, "grant revoked", contract="Authorization")
    (refusal,) = h.events(receipt, "AccessRefused", contract="Authorization")
    assert refusal.reason == "grant revoked" and refusal.grantee.lower() == "0x" + bank.hex()
    assert h.refused(h.admins[1], "logRefusal", r2, to_checksum_address(bank), granted.grantId, "x", contract="Authorization") == "NotCustodian"


def test_a_grant_not_yet_in_force_covers_nothing(h: Harness) -> None:
    r1, _ = setup_records(h)
    bank = GM.generate_key().address
    receipt = h.send(h.outsider, "grant", terms(h.outsider.address, bank, ids=[r1], window=(600, 3600)), contract="Authorization")
    assert receipt.status == 1 and not authorized(h, bank, r1)
    (granted,) = h.events(receipt, "Granted", contract="Authorization")
    assert h.refused(h.admins[0], "logAccess", granted.grantId, r1, contract="Authorization") == "NotAuthorized"
    assert h.refused(h.outsider, "grant", terms(h.outsider.address, bank, ids=[r1], window=(60, 30), nonce=9),
                     contract="Authorization") == "InvalidWindow"
