"""Guarantee (YiLianBao) on our executor: credit lines, one live application per enterprise and project, issue with the
institution's SM2 signature, verify by number at any center, postpone, release, claim and pay out, expire, reject,
cancel, blacklist, and an institution that governance removed."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from harness import Harness
from node.consortium import GUARANTEE_ADDRESS
from node.crypto import get_suite

GM = get_suite("gm")
ADD_INSTITUTION, REMOVE_INSTITUTION, BLACKLIST = 2, 3, 8
G = "Guarantee"
APPLIED, REJECTED, CANCELLED, ISSUED, RELEASED, CLAIMED, PAID_OUT, EXPIRED = 1, 2, 3, 4, 5, 6, 7, 8


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    yield harness
    harness.chain.close()


class World:
    def __init__(self, h: Harness) -> None:
        self.h = h
        self.bank, self.bank2 = GM.generate_key(), GM.generate_key()
        h.govern(ADD_INSTITUTION, self.bank.address, "Bank K")
        h.govern(ADD_INSTITUTION, self.bank2.address, "Bank L")
        self.enterprise = h.outsider
        self.e = to_checksum_address(self.enterprise.address)
        assert h.send(h.admins[0], "admit", self.e).status == 1
        self.center_b = h.admins[1]
        self.beneficiary = to_checksum_address(self.center_b.address)
        self.projects = [self.project(f"P{i}") for i in range(3)]

    def project(self, name: str) -> bytes:
        project = GM.hash(name.encode())
        assert self.h.send(self.center_b, "anchor", project, keccak(text="project"), self.beneficiary, GM.hash(b"tender " + name.encode()), 1,
                           contract="RecordRegistry").status == 1
        return project

    def apply(self, project: bytes, amount: int = 300_000, bank=None):  # type: ignore[no-untyped-def]
        bank = bank or self.bank
        return self.h.send(self.enterprise, "applyFor", project, self.beneficiary, amount, to_checksum_address(bank.address), contract=G)

    def issue_args(self, application: int, number: bytes, *, valid_s: int = 30 * 86400, key=None, signer=None) -> tuple:  # type: ignore[no-untyped-def]
        key, signer = key or self.bank, signer or key or self.bank
        not_after, document = self.h.now() + valid_s, GM.hash(b"guarantee letter " + number)
        digest = self.h.view("guaranteeDigest", number, application, not_after, document, contract=G)
        return (application, number, not_after, document, key.public_key[1:], signer.sign(digest))

    def verify(self, number: bytes) -> tuple:
        return self.h.view("verify", number, contract=G)


@pytest.fixture
def w(h: Harness) -> World:
    return World(h)


def test_credit_apply_issue_verify_postpone_release(h: Harness, w: World) -> None:
    bank = w.bank
    assert h.refused(w.enterprise, "setCreditLine", w.e, 10**6, h.now() + 86400, contract=G) == "NotInstitution"
    assert h.refused(bank, "setCreditLine", w.e, 10**6, h.now() - 1, contract=G) == "InvalidWindow"
    receipt = h.send(bank, "setCreditLine", w.e, 10**6, h.now() + 86400, contract=G)
    assert h.events(receipt, "CreditLineSet", contract=G)[0].limit == 10**6
    p0 = w.projects[0]
    assert h.refused(w.enterprise, "applyFor", GM.hash(b"no such project"), w.beneficiary, 1, to_checksum_address(bank.address), contract=G) == "UnknownProject"
    credit_record = GM.hash(b"a credit record, not a project")
    h.send(h.admins[0], "anchor", credit_record, keccak(text="credit"), w.e, GM.hash(b"c"), 1, contract="RecordRegistry")
    assert h.refused(w.enterprise, "applyFor", credit_record, w.beneficiary, 1, to_checksum_address(bank.address), contract=G) == "UnknownProject"
    assert h.refused(w.enterprise, "applyFor", p0, w.beneficiary, 0, to_checksum_address(bank.address), contract=G) == "InvalidAmount"
    assert h.refused(w.enterprise, "applyFor", p0, w.beneficiary, 1, w.e, contract=G) == "NotInstitution"
    receipt = w.apply(p0)
    (applied,) = h.events(receipt, "Applied", contract=G)
    assert applied.applicationId == 0 and applied.amount == 300_000
    # one live application per enterprise and project, across all institutions
    assert h.refused(w.enterprise, "applyFor", p0, w.beneficiary, 1, to_checksum_address(w.bank2.address), contract=G) == "ApplicationExists"

    number = GM.hash(b"BG-2026-000001")
    assert h.refused(w.bank2, "issue", *w.issue_args(0, number, key=w.bank2), contract=G) == "NotChosenInstitution"
    assert h.refused(bank, "issue", *w.issue_args(0, number, signer=w.bank2), contract=G) == "BadSignature"
    assert h.refused(bank, "issue", *w.issue_args(0, number, key=w.bank2, signer=w.bank2), contract=G) == "KeyNotInstitution"
    assert h.refused(bank, "issue", *w.issue_args(0, number, valid_s=-10), contract=G) == "InvalidWindow"
    args = w.issue_args(0, number)
    assert w.verify(number)[0] is False  # not issued yet
    receipt = h.send(bank, "issue", *args, contract=G)
    assert receipt.status == 1, receipt.revert_reason
    (issued,) = h.events(receipt, "GuaranteeIssued", contract=G)
    assert issued.guaranteeNo == number and issued.amount == 300_000
    # the digest the bank signed is computed here independently of the contract
    application = h.view("application", 0, contract=G)
    assert args[5] and h.view("guaranteeDigest", number, 0, args[2], args[3], contract=G) == keccak(encode(
        ["bytes32", "uint256", "address", "bytes32", "uint256", "address", "address", "address", "bytes32", "uint128", "uint64", "bytes32"],
        [keccak(text="YILIAN/guarantee/v1"), h.chain.chain_id, GUARANTEE_ADDRESS, number, 0, w.e, application[1], w.beneficiary, p0,
         300_000, args[2], args[3]]))
    valid, status, enterprise, beneficiary, project, amount, not_after, institution = w.verify(number)
    assert (valid, status, enterprise, beneficiary, project, amount) == (True, ISSUED, w.e.lower(), w.beneficiary.lower(), p0, 300_000)
    assert institution.lower() == "0x" + bank.address.hex()
    assert h.view("availableCredit", to_checksum_address(bank.address), w.e, contract=G) == 700_000
    assert h.refused(bank, "issue", *w.issue_args(0, GM.hash(b"BG-2")), contract=G) == "WrongStatus"
    w.apply(w.projects[1], amount=1)
    assert h.refused(bank, "issue", *w.issue_args(1, number), contract=G) == "GuaranteeExists"  # numbers are unique
    assert h.refused(bank, "issue", *w.issue_args(1, bytes(32)), contract=G) == "GuaranteeExists"  # and not zero
    assert w.verify(GM.hash(b"a forged guarantee number"))[0] is False  # never issued here: never verifies

    assert h.refused(w.enterprise, "postpone", number, not_after + 86400, contract=G) == "NotChosenInstitution"
    assert h.refused(bank, "postpone", number, not_after - 1, contract=G) == "InvalidWindow"
    receipt = h.send(bank, "postpone", number, not_after + 86400, contract=G)
    assert h.events(receipt, "Postponed", contract=G)[0].notAfter == not_after + 86400
    assert h.refused(w.enterprise, "release", number, contract=G) == "NotBeneficiaryOrInstitution"
    assert h.send(w.center_b, "release", number, contract=G).status == 1
    assert w.verify(number)[:2] == (False, RELEASED)
    assert h.view("availableCredit", to_checksum_address(bank.address), w.e, contract=G) == 10**6  # credit returned
    assert h.refused(bank, "release", number, contract=G) == "WrongStatus"
    assert w.apply(p0).status == 1  # the project is free for a new application


def test_claim_payout_expiry_reject_cancel(h: Harness, w: World) -> None:
    bank = w.bank
    h.send(bank, "setCreditLine", w.e, 500_000, h.now() + 86400, contract=G)
    p0, p1, p2 = w.projects
    w.apply(p0)
    assert h.send(bank, "issue", *w.issue_args(0, b"\x01" * 32), contract=G).status == 1
    assert h.refused(bank, "claim", b"\x01" * 32, "bidder withdrew", contract=G) == "NotBeneficiary"
    assert h.refused(bank, "payOut", b"\x01" * 32, contract=G) == "WrongStatus"
    assert h.events(h.send(w.center_b, "claim", b"\x01" * 32, "bidder withdrew", contract=G), "Claimed", contract=G)[0].reason == "bidder withdrew"
    assert w.verify(b"\x01" * 32)[:2] == (False, CLAIMED)
    assert h.refused(w.enterprise, "applyFor", p0, w.beneficiary, 1, to_checksum_address(bank.address), contract=G) == "ApplicationExists"
    assert h.refused(w.center_b, "payOut", b"\x01" * 32, contract=G) == "NotChosenInstitution"
    assert h.send(bank, "payOut", b"\x01" * 32, contract=G).status == 1
    assert h.view("availableCredit", to_checksum_address(bank.address), w.e, contract=G) == 200_000  # paid out: credit stays used

    w.apply(p1, amount=250_000)  # application 1: more than the credit left
    assert h.refused(bank, "issue", *w.issue_args(1, b"\x02" * 32), contract=G) == "InsufficientCredit"
    assert h.refused(w.center_b, "reject", 1, "no", contract=G) == "NotChosenInstitution"
    assert h.events(h.send(bank, "reject", 1, "credit exhausted", contract=G), "Rejected", contract=G)[0].reason == "credit exhausted"
    assert h.refused(w.enterprise, "cancel", 1, contract=G) == "WrongStatus"
    w.apply(p1, amount=100_000)  # application 2
    assert h.refused(w.center_b, "cancel", 2, contract=G) == "NotApplicant"
    assert h.send(w.enterprise, "cancel", 2, contract=G).status == 1
    assert h.refused(h.admins[0], "cancel", 9, contract=G) == "UnknownApplication"

    w.apply(p2, amount=100_000, bank=w.bank2)  # application 3 at a bank without a credit line
    assert h.refused(w.bank2, "issue", *w.issue_args(3, b"\x03" * 32, key=w.bank2), contract=G) == "NoCreditLine"
    h.send(w.bank2, "setCreditLine", w.e, 100_000, h.now() + 5, contract=G)
    assert h.refused(w.bank2, "issue", *w.issue_args(3, b"\x03" * 32, key=w.bank2), contract=G, later_s=30) == "CreditExpired"
    h.send(w.bank2, "setCreditLine", w.e, 100_000, h.now() + 86400, contract=G)
    assert h.send(w.bank2, "issue", *w.issue_args(3, b"\x03" * 32, key=w.bank2, valid_s=20), contract=G).status == 1
    assert h.refused(h.admins[3], "expire", b"\x03" * 32, contract=G) == "NotYetExpired"
    assert h.refused(w.bank2, "postpone", b"\x03" * 32, h.now() + 999, contract=G, later_s=60) == "GuaranteeLapsed"
    assert w.verify(b"\x03" * 32)[:2] == (False, ISSUED)  # past its validity: does not verify
    assert h.send(h.admins[3], "expire", b"\x03" * 32, contract=G).status == 1  # anyone marks it expired
    assert w.verify(b"\x03" * 32)[:2] == (False, EXPIRED)
    assert h.view("availableCredit", to_checksum_address(w.bank2.address), w.e, contract=G) == 100_000
    assert h.refused(h.admins[3], "expire", b"\x04" * 32, contract=G) == "UnknownGuarantee"


def test_blacklist_and_removed_institution(h: Harness, w: World) -> None:
    bank = w.bank
    h.send(bank, "setCreditLine", w.e, 10**6, h.now() + 86400, contract=G)
    w.apply(w.projects[0])
    assert h.send(bank, "issue", *w.issue_args(0, b"\x05" * 32), contract=G).status == 1
    w.apply(w.projects[1])
    assert w.verify(b"\x05" * 32)[0] is True
    h.govern(BLACKLIST, w.enterprise.address)
    assert h.refused(w.enterprise, "applyFor", w.projects[2], w.beneficiary, 1, to_checksum_address(bank.address), contract=G) == "EnterpriseBlacklisted"
    assert h.refused(bank, "setCreditLine", w.e, 1, h.now() + 99, contract=G) == "EnterpriseBlacklisted"
    assert h.refused(bank, "issue", *w.issue_args(1, b"\x06" * 32), contract=G) == "EnterpriseBlacklisted"
    h.govern(REMOVE_INSTITUTION, bank.address)
    assert w.verify(b"\x05" * 32)[0] is False  # issued by an institution that is no longer admitted
    from node.mempool import TxRejected

    with pytest.raises(TxRejected, match="not an admitted account"):  # a removed member can no longer transact at all
        h.send(bank, "setCreditLine", w.e, 1, h.now() + 99, contract=G)
