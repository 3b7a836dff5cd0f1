"""CertificateRegistry (YiLianQian) on our executor: binding by a CA or a center, revocation by the issuing CA only,
QR-login attestations that cannot be replayed, document signature attestations, sealed bids opened after the deadline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from harness import Harness
from node.consortium import CERTIFICATE_REGISTRY_ADDRESS
from node.crypto import get_suite

GM = get_suite("gm")
ADD_CA, REMOVE_CA = 4, 5
C = "CertificateRegistry"


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    yield harness
    harness.chain.close()


def bind(h: Harness, by, fingerprint: bytes, issuer: bytes, key, *, uscc: str = "91350100M000100Y43", window=(-60, 365 * 86400)):  # type: ignore[no-untyped-def]
    now = h.now()
    return h.send(by, "bind", fingerprint, to_checksum_address(issuer), uscc, key.public_key[1:], now + window[0], now + window[1], contract=C)


def setup(h: Harness):  # type: ignore[no-untyped-def]
    ca = GM.generate_key()
    h.govern(ADD_CA, ca.address, "Fujian CA")
    enterprise = h.outsider
    assert h.send(h.admins[0], "admit", to_checksum_address(enterprise.address)).status == 1
    fingerprint = GM.hash(b"DER of enterprise E's certificate")
    return ca, enterprise, fingerprint


def test_binding_and_revocation(h: Harness) -> None:
    ca, enterprise, fingerprint = setup(h)
    stranger = GM.generate_key()
    assert h.refused(enterprise, "bind", fingerprint, to_checksum_address(ca.address), "X", enterprise.public_key[1:], 0, h.now() + 99,
                     contract=C) == "NotCAOrCenter"
    assert h.refused(h.admins[0], "bind", fingerprint, to_checksum_address(stranger.address), "X", enterprise.public_key[1:], 0,
                     h.now() + 99, contract=C) == "NotCA"
    assert h.refused(h.admins[0], "bind", fingerprint, to_checksum_address(ca.address), "X", enterprise.public_key, 0, h.now() + 99,
                     contract=C) == "InvalidKey"
    assert h.refused(h.admins[0], "bind", fingerprint, to_checksum_address(ca.address), "", enterprise.public_key[1:], 0, h.now() + 99,
                     contract=C) == "EmptyUscc"
    assert h.refused(h.admins[0], "bind", fingerprint, to_checksum_address(ca.address), "X", enterprise.public_key[1:], 0, h.now() - 1,
                     contract=C) == "InvalidWindow"
    receipt = bind(h, h.admins[0], fingerprint, ca.address, enterprise)  # a center registers for the CA
    assert receipt.status == 1, receipt.revert_reason
    (bound,) = h.events(receipt, "CertificateBound", contract=C)
    assert bound.account.lower() == "0x" + enterprise.address.hex() and bound.uscc == "91350100M000100Y43"
    assert h.view("currentCertificate", to_checksum_address(enterprise.address), contract=C) == fingerprint
    assert h.view("isValid", fingerprint, contract=C) is True
    assert bind(h, ca, fingerprint, ca.address, enterprise).status == 0  # once: CertificateExists
    assert h.refused(ca, "bind", fingerprint, to_checksum_address(ca.address), "X", enterprise.public_key[1:], 0, h.now() + 99,
                     contract=C) == "CertificateExists"
    assert h.refused(h.admins[0], "revoke", fingerprint, "not mine", contract=C) == "NotIssuer"
    receipt = h.send(ca, "revoke", fingerprint, "key compromised", contract=C)
    assert h.events(receipt, "CertificateRevoked", contract=C)[0].reason == "key compromised"
    assert h.view("isValid", fingerprint, contract=C) is False
    assert h.refused(ca, "revoke", fingerprint, "again", contract=C) == "AlreadyRevoked"
    assert h.refused(ca, "revoke", GM.hash(b"unknown"), "?", contract=C) == "UnknownCertificate"
    # the CA binds a renewed certificate itself; when governance removes the CA, its certificates stop being valid
    renewed = GM.hash(b"DER of the renewed certificate")
    assert bind(h, ca, renewed, ca.address, enterprise).status == 1
    assert h.view("isValid", renewed, contract=C) is True
    h.govern(REMOVE_CA, ca.address)
    assert h.view("isValid", renewed, contract=C) is False
    # a certificate not yet valid is not valid
    ca2 = GM.generate_key()
    h.govern(ADD_CA, ca2.address, "CA 2")
    later = GM.hash(b"future certificate")
    assert bind(h, ca2, later, ca2.address, GM.generate_key(), window=(3600, 7200)).status == 1
    assert h.view("isValid", later, contract=C) is False


def test_qr_login_is_attested_once(h: Harness) -> None:
    ca, enterprise, fingerprint = setup(h)
    account = to_checksum_address(enterprise.address)
    center = h.admins[2]
    challenge, expires = os.urandom(32), h.now() + 300
    message = h.view("loginDigest", to_checksum_address(center.address), account, challenge, expires, contract=C)
    assert message == keccak(encode(["bytes32", "uint256", "address", "address", "address", "bytes32", "uint64"],
                                    [keccak(text="YILIAN/login/v1"), h.chain.chain_id, CERTIFICATE_REGISTRY_ADDRESS,
                                     to_checksum_address(center.address), account, challenge, expires]))
    signature = enterprise.sign(message)
    assert h.refused(center, "attestLogin", challenge, account, expires, signature, contract=C) == "NoValidCertificate"
    assert bind(h, h.admins[0], fingerprint, ca.address, enterprise).status == 1
    assert h.refused(enterprise, "attestLogin", challenge, account, expires, signature, contract=C) == "NotCenter"
    assert h.refused(h.admins[1], "attestLogin", challenge, account, expires, signature, contract=C) == "BadSignature"  # signed for C
    assert h.refused(center, "attestLogin", challenge, account, expires, GM.generate_key().sign(message), contract=C) == "BadSignature"
    receipt = h.send(center, "attestLogin", challenge, account, expires, signature, contract=C)
    (login,) = h.events(receipt, "LoggedIn", contract=C)
    assert login.fingerprint == fingerprint and login.center.lower() == "0x" + center.address.hex()
    assert h.refused(center, "attestLogin", challenge, account, expires, signature, contract=C) == "ChallengeUsed"
    stale, past = os.urandom(32), h.now() - 10
    stale_sig = enterprise.sign(h.view("loginDigest", to_checksum_address(center.address), account, stale, past, contract=C))
    assert h.refused(center, "attestLogin", stale, account, past, stale_sig, contract=C) == "ChallengeExpired"


def test_document_signatures_and_sealed_bids(h: Harness) -> None:
    ca, enterprise, fingerprint = setup(h)
    assert bind(h, h.admins[0], fingerprint, ca.address, enterprise).status == 1
    document = GM.hash(b"bid document, 40 pages")
    assert h.refused(h.admins[1], "attestSignature", document, fingerprint, GM.generate_key().sign(document), contract=C) == "BadSignature"
    receipt = h.send(h.admins[1], "attestSignature", document, fingerprint, enterprise.sign(document), contract=C)  # anyone submits
    assert h.events(receipt, "DocumentSigned", contract=C)[0].signer.lower() == "0x" + enterprise.address.hex()
    assert h.refused(h.admins[1], "attestSignature", document, fingerprint, enterprise.sign(document), contract=C) == "AlreadyAttested"
    assert h.refused(h.admins[1], "attestSignature", document, GM.hash(b"?"), enterprise.sign(document), contract=C) == "CertificateNotValid"
    signed = h.view("signatureOf", document, fingerprint, contract=C)
    assert signed[1].lower() == "0x" + enterprise.address.hex() and signed[2] > 0

    project, deadline = GM.hash(b"project P"), h.now() + 30
    assert h.refused(enterprise, "openTender", project, deadline, contract=C) == "NotCenter"
    assert h.refused(h.admins[1], "openTender", project, h.now() - 1, contract=C) == "DeadlinePassed"
    assert h.send(h.admins[1], "openTender", project, deadline, contract=C).status == 1
    assert h.refused(h.admins[2], "openTender", project, deadline, contract=C) == "TenderExists"
    ciphertext = GM.hash(b"SM2-enveloped bid file v1")
    assert h.refused(enterprise, "commitBid", GM.hash(b"no tender"), ciphertext, contract=C) == "UnknownTender"
    assert h.refused(h.admins[3], "commitBid", project, ciphertext, contract=C) == "NoValidCertificate"
    assert h.events(h.send(enterprise, "commitBid", project, ciphertext, contract=C), "BidCommitted", contract=C)[0].version == 1
    replaced = GM.hash(b"SM2-enveloped bid file v2")
    assert h.events(h.send(enterprise, "commitBid", project, replaced, contract=C), "BidCommitted", contract=C)[0].version == 2
    plaintext = GM.hash(b"bid file v2")
    assert h.refused(enterprise, "openBid", project, to_checksum_address(enterprise.address), plaintext, contract=C) == "NotYetOpen"
    # the deadline passes
    assert h.refused(enterprise, "commitBid", project, ciphertext, contract=C, later_s=60) == "DeadlinePassed"
    assert h.refused(h.admins[3], "openBid", project, to_checksum_address(enterprise.address), plaintext, contract=C) == "NotTenderCenter"
    assert h.refused(h.admins[1], "openBid", project, to_checksum_address(h.admins[3].address), plaintext, contract=C) == "NoBid"
    receipt = h.send(h.admins[1], "openBid", project, to_checksum_address(enterprise.address), plaintext, contract=C)
    assert h.events(receipt, "BidOpened", contract=C)[0].plaintextHash == plaintext
    assert h.refused(enterprise, "openBid", project, to_checksum_address(enterprise.address), plaintext, contract=C) == "AlreadyOpened"
    bid = h.view("bidOf", project, to_checksum_address(enterprise.address), contract=C)
    assert bid == (replaced, plaintext, bid[2], 2, True)
