"""``Enterprise``: the mobile wallet — scan a QR request, see who asks for what, sign a grant or a login,
revoke; sign documents; seal and open bid files; apply for guarantees."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from chain_sdk import gm, qr, records
from chain_sdk.client import Client
from chain_sdk.contracts import ADDRESSES
from chain_sdk.roles._base import Role
from chain_sdk.wallet import Wallet

GRANT_DOMAIN = keccak(text="YILIAN/grant/v1")
LOGIN_DOMAIN = keccak(text="YILIAN/login/v1")


@dataclass(frozen=True)
class SignedGrant:
    """A grant the owner signed; anyone (usually the requester) relays it with ``relay``."""

    terms: tuple
    public_key: bytes
    signature: bytes

    @property
    def grant_id(self) -> bytes:
        return keccak(encode(["address", "uint64"], [self.terms[0], self.terms[8]]))


def grant_digest(chain_id: int, terms: tuple) -> bytes:
    """The 32 bytes the owner signs; computed here, never taken from a node (README: Authorization)."""
    owner, grantee, ids, types, purpose, not_before, not_after, max_uses, nonce = terms
    return keccak(encode(
        ["bytes32", "uint256", "address", "address", "address", "bytes32", "bytes32", "bytes32", "uint64", "uint64", "uint32", "uint64"],
        [GRANT_DOMAIN, chain_id, ADDRESSES["Authorization"], owner, grantee, keccak(b"".join(ids)), keccak(b"".join(types)),
         keccak(purpose.encode()), not_before, not_after, max_uses, nonce]))


class Enterprise(Role):
    def __init__(self, client: Client, wallet: Wallet) -> None:
        super().__init__(client, wallet)
        self.seen_requests: set[str] = set()  # nonces of scanned QR requests: a request is accepted once

    def scan(self, uri: str) -> qr.QrRequest:
        """Check a scanned QR request (raises QrRefused: expired, replayed, bad-signature, other-chain, malformed)."""
        return qr.parse(uri, chain_id=self.client.chain_id, seen=self.seen_requests)

    def describe(self, request: qr.QrRequest) -> str:
        """What the wallet shows before the user agrees."""
        scope = ", ".join(list(request.record_types) + [f"record {r[:12]}…" for r in request.record_ids]) or "nothing"
        until = time.strftime("%Y-%m-%d %H:%M", time.localtime(request.not_after))
        return f"{request.requester_name} ({request.requester}) asks to {request.purpose}: {scope}; until {until}, {request.max_uses} use(s)"

    def approve(self, request: qr.QrRequest, *, valid_s: int = 3600) -> SignedGrant:
        """Sign the grant the request asks for (the requester relays it to the chain)."""
        now = int(time.time())
        terms = (to_checksum_address(self.address), to_checksum_address(request.requester), [bytes.fromhex(r) for r in request.record_ids],
                 [records.record_type(t) for t in request.record_types], request.purpose, now - 60, now + valid_s, request.max_uses,
                 int.from_bytes(os.urandom(7), "big"))
        return SignedGrant(terms, self.wallet.public_key[1:], self.wallet.sign(grant_digest(self.client.chain_id, terms)))

    def sign_login(self, request: qr.QrRequest) -> bytes:
        """Sign a center's login challenge (checked on chain against this account's certificate)."""
        challenge = gm.sm3(bytes.fromhex(request.nonce))
        digest = keccak(encode(["bytes32", "uint256", "address", "address", "address", "bytes32", "uint64"],
                               [LOGIN_DOMAIN, self.client.chain_id, ADDRESSES["CertificateRegistry"], to_checksum_address(request.requester),
                                to_checksum_address(self.address), challenge, request.not_after]))
        return self.wallet.sign(digest)

    def revoke(self, grant_id: bytes) -> str:
        return self.authorization.transact(self.wallet, "revoke", grant_id).tx_hash

    def sign_document(self, document: bytes, fingerprint: bytes) -> str:
        """Sign a document's SM3 hash and have the signature attested on chain against the certificate."""
        digest = gm.sm3(document)
        return self.certificates.transact(self.wallet, "attestSignature", digest, fingerprint, self.wallet.sign(digest)).tx_hash

    # -- bid files --------------------------------------------------------------------------

    def seal_bid(self, project_id: bytes, bid_file: bytes, opener_public_key: bytes) -> bytes:
        """Encrypt the bid file to the opener's key (SM4 under a fresh key, the key in an SM2 envelope) and commit
        the ciphertext's hash on chain before the deadline. Returns the sealed bytes to hand in."""
        key = os.urandom(16)
        body = gm.sm4_seal(key, bid_file, project_id)
        envelope = gm.sm2_encrypt(opener_public_key, key)
        sealed = len(envelope).to_bytes(2, "big") + envelope + body
        self.certificates.transact(self.wallet, "commitBid", project_id, gm.sm3(sealed))
        return sealed

    def open_bid(self, project_id: bytes, sealed: bytes, opener: Wallet) -> bytes:
        """After the deadline, the bidder itself: decrypt with the opener's key and record the plaintext hash on chain."""
        before_deadline(self, project_id)
        bid_file = unseal_bid(project_id, sealed, opener)
        self.certificates.transact(self.wallet, "openBid", project_id, to_checksum_address(self.address), gm.sm3(bid_file))
        return bid_file

    # -- guarantees -------------------------------------------------------------------------

    def apply_guarantee(self, project_id: bytes, *, beneficiary: str, amount: int, institution: str) -> int:
        receipt = self.guarantees.transact(self.wallet, "applyFor", project_id, to_checksum_address(beneficiary), amount,
                                           to_checksum_address(institution))
        return int(receipt.event("Applied").applicationId)


def unseal_bid(project_id: bytes, sealed: bytes, opener: Wallet) -> bytes:
    """Decrypt a sealed bid file (SM2 envelope of the SM4 key, then SM4-GCM bound to the project id)."""
    size = int.from_bytes(sealed[:2], "big")
    key = opener.decrypt(sealed[2 : 2 + size])
    return gm.sm4_open(key, sealed[2 + size :], project_id)


def before_deadline(role: Role, project_id: bytes) -> None:
    """Refuse to decrypt a bid before the tender's deadline (the chain would refuse to record the opening too)."""
    from chain_sdk.errors import TransactionFailed

    center, deadline = role.certificates.call("tenders", project_id)
    if int(center, 16) == 0:
        raise TransactionFailed("(local check)", "UnknownTender", (project_id,), "no tender for this project")
    head_time = int(role.client.status()["head_time_ms"]) // 1000
    if head_time < deadline:
        raise TransactionFailed("(local check)", "NotYetOpen", (project_id, deadline),
                                f"bids open at {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(deadline))}")
