"""``TradingCenter``: admit enterprises, anchor and update records, verify guarantees, governance, QR login."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eth_utils import to_checksum_address

from chain_sdk import gm, qr, records
from chain_sdk.client import Client
from chain_sdk.roles._base import Role
from chain_sdk.wallet import Wallet

ACTIONS = ("AddCenter", "RemoveCenter", "AddInstitution", "RemoveInstitution", "AddCA", "RemoveCA", "AddAuditor", "RemoveAuditor",
           "Blacklist", "Unblacklist")
STATUSES = ("None", "Applied", "Rejected", "Cancelled", "Issued", "Released", "Claimed", "PaidOut", "Expired")


@dataclass(frozen=True)
class Anchored:
    record_id: bytes
    commitment: bytes
    salt: bytes  # keep it with the raw record: the owner's grantees need it to check the bytes
    tx_hash: str


@dataclass(frozen=True)
class GuaranteeCheck:
    number: bytes
    valid: bool
    status: str
    enterprise: str
    beneficiary: str
    project_id: bytes
    amount: int
    not_after: int
    institution: str


class TradingCenter(Role):
    """A center's admin account."""

    @classmethod
    def for_home(cls, url: str, home: Path | str) -> TradingCenter:
        """The center whose node home is ``home`` (as ``yilian center new`` or ``yilian localnet`` lays it out): its
        admin keystore ``keys/admin.json`` opened with ``secrets/password``."""
        home = Path(home)
        return cls(Client(url), Wallet.load(home / "keys" / "admin.json", (home / "secrets" / "password").read_bytes().strip()))

    def admit(self, enterprise: str) -> str:
        return self.members.transact(self.wallet, "admit", to_checksum_address(enterprise)).tx_hash

    def admit_many(self, enterprises: Iterable[str]) -> list[str]:
        """Admit a list of enterprises (a center joining with its existing register): one request per hundred, all
        waited for; the transaction hashes in order. Raises ``BatchFailed`` saying which were not admitted and why."""
        return [receipt.tx_hash for receipt in self.members.transact_many(self.wallet, [("admit", to_checksum_address(e)) for e in enterprises])]

    def anchor(self, local_id: str, type_name: str, owner: str, record: dict, *, schema_version: int = 1) -> Anchored:
        """Anchor a record's salted SM3 commitment (never the data); this center becomes its custodian."""
        record_id = records.record_id(self.address, local_id)
        salt = records.new_salt()
        commitment = records.commitment(record, salt)
        receipt = self.records.transact(self.wallet, "anchor", record_id, records.record_type(type_name), to_checksum_address(owner),
                                        commitment, schema_version)
        return Anchored(record_id, commitment, salt, receipt.tx_hash)

    def update(self, record_id: bytes, record: dict, *, schema_version: int = 1) -> Anchored:
        salt = records.new_salt()
        commitment = records.commitment(record, salt)
        receipt = self.records.transact(self.wallet, "update", record_id, commitment, schema_version)
        return Anchored(record_id, commitment, salt, receipt.tx_hash)

    def propose(self, action: str, subject: str, name: str = "", *, validator_key: bytes = b"", effective_height: int = 0) -> int:
        receipt = self.members.transact(self.wallet, "propose", ACTIONS.index(action), to_checksum_address(subject), name, validator_key,
                                        effective_height)
        return int(receipt.event("Proposed").id)

    def vote(self, proposal: int) -> str:
        return self.members.transact(self.wallet, "vote", proposal).tx_hash

    def verify_guarantee(self, number: bytes) -> GuaranteeCheck:
        """What a center checks before accepting a bid guarantee: valid only if issued on chain by an admitted
        institution, live and within its validity."""
        valid, status, enterprise, beneficiary, project, amount, not_after, institution = self.guarantees.call("verify", number)
        return GuaranteeCheck(number, valid, STATUSES[status], enterprise, beneficiary, project, amount, not_after, institution)

    def open_tender(self, project_id: bytes, deadline: int) -> str:
        return self.certificates.transact(self.wallet, "openTender", project_id, deadline).tx_hash

    def open_bid(self, project_id: bytes, bidder: str, sealed: bytes) -> bytes:
        """At the deadline, as the tender's center: decrypt a bid sealed to this center's key and record the
        plaintext's SM3 hash on chain (refused before the deadline: NotYetOpen)."""
        from chain_sdk.roles.enterprise import before_deadline, unseal_bid

        before_deadline(self, project_id)
        bid_file = unseal_bid(project_id, sealed, self.wallet)
        self.certificates.transact(self.wallet, "openBid", project_id, to_checksum_address(bidder), gm.sm3(bid_file))
        return bid_file

    # -- QR login ------------------------------------------------------------------------

    def login_request(self, *, name: str, valid_s: int = 120, callback: str = "") -> qr.QrRequest:
        """A one-time login challenge to show as a QR code (the nonce is the challenge)."""
        return qr.make_request(self.wallet.key, kind="login", chain_id=self.client.chain_id, requester_name=name,
                               purpose="log in", max_uses=1, valid_s=valid_s, callback=callback)

    def accept_login(self, request: qr.QrRequest, account: str, signature: bytes) -> str:
        """Record the login on chain: the contract checks the signature against the account's valid certificate and
        that the challenge was never used, at any center."""
        challenge = gm.sm3(bytes.fromhex(request.nonce))
        return self.certificates.transact(self.wallet, "attestLogin", challenge, to_checksum_address(account), request.not_after,
                                          signature).tx_hash

    def bind_certificate(self, *, fingerprint: bytes, issuer: str, uscc: str, public_key: bytes, not_before: int, not_after: int) -> str:
        """Register an enterprise's certificate for an admitted CA (after checking its chain off chain)."""
        return self.certificates.transact(self.wallet, "bind", fingerprint, to_checksum_address(issuer), uscc, public_key[1:],
                                          not_before, not_after).tx_hash


def new_guarantee_number() -> bytes:
    return gm.sm3(os.urandom(32) + str(time.time()).encode())
