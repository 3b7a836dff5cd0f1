"""Gas of the system contracts' main calls on our executor (SM2-signed native transactions, real blocks).

Run: ``.venv/bin/python tests/contracts/gas_report.py`` (prints a table; figures go into the issue notes and
``contracts/README.md``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1]), str(Path(__file__).parents[2])]

from eth_utils import keccak, to_checksum_address  # noqa: E402

from harness import Harness  # noqa: E402
from node.crypto import get_suite  # noqa: E402
from node.ledger.merkle import merkle_proof, merkle_root  # noqa: E402

GM = get_suite("gm")


def main() -> None:
    rows: list[tuple[str, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        h = Harness(Path(tmp))
        try:
            def tx(label: str, key, fn: str, *args, contract: str) -> object:  # type: ignore[no-untyped-def]
                receipt = h.send(key, fn, *args, contract=contract)
                assert receipt.status == 1, (label, receipt.revert_reason)
                rows.append((label, receipt.gas_used))
                return receipt

            def call(label: str, fn: str, *args, contract: str) -> None:  # type: ignore[no-untyped-def]
                target = __import__("harness").CONTRACTS[contract]
                result = h.chain.executor.call(sender=bytes(20), to=bytes.fromhex(target.address[2:]),
                                               data=bytes.fromhex(target.encode_abi(fn, args=list(args))[2:]))
                assert result.success, result.error
                rows.append((label + " (eth_call)", result.gas_used))

            center, enterprise = h.admins[0], h.outsider
            e = to_checksum_address(enterprise.address)
            tx("MemberRegistry.admit", center, "admit", e, contract="MemberRegistry")
            bank, ca = GM.generate_key(), GM.generate_key()
            tx("MemberRegistry.propose (AddInstitution)", center, "propose", 2, to_checksum_address(bank.address), "Bank K", b"", 0, contract="MemberRegistry")
            tx("MemberRegistry.vote", h.admins[1], "vote", 0, contract="MemberRegistry")
            tx("MemberRegistry.vote (deciding)", h.admins[2], "vote", 0, contract="MemberRegistry")
            h.govern(4, ca.address, "CA")
            record = GM.hash(b"credit record")
            tx("RecordRegistry.anchor", center, "anchor", record, keccak(text="credit"), e, GM.hash(os.urandom(32)), 1, contract="RecordRegistry")
            tx("RecordRegistry.update", center, "update", record, GM.hash(os.urandom(32)), 1, contract="RecordRegistry")
            leaves = [GM.hash(os.urandom(32)) for _ in range(1000)]
            root = merkle_root(GM, leaves)
            tx("RecordRegistry.anchorBatch (1,000 records)", center, "anchorBatch", root, 1000, contract="RecordRegistry")
            proof = merkle_proof(GM, leaves, 517)
            call("RecordRegistry.verifyInBatch (1,000-leaf tree)", "verifyInBatch", root, leaves[517], 517, list(proof.path), contract="RecordRegistry")
            from eth_abi import encode as abi_encode

            entries = [(GM.hash(os.urandom(32)), keccak(text="credit"), e, GM.hash(os.urandom(32)), 1) for _ in range(1000)]
            batch_leaves = [abi_encode(["bytes32", "bytes32", "address", "bytes32", "uint32"], list(x)) for x in entries]
            batch_root = merkle_root(GM, batch_leaves)
            tx("RecordRegistry.anchorBatch (1,000 custodian leaves)", center, "anchorBatch", batch_root, 1000, contract="RecordRegistry")
            tx("RecordRegistry.anchorFromBatch (1,000-leaf tree)", center, "anchorFromBatch", batch_root, 517,
               list(merkle_proof(GM, batch_leaves, 517).path), *entries[517], contract="RecordRegistry")
            now = int(time.time())
            grantee = to_checksum_address(bank.address)
            terms = (e, grantee, [record], [], "credit review", now - 60, now + 3600, 3, 1)
            tx("Authorization.grant", enterprise, "grant", terms, contract="Authorization")
            relayed = (e, grantee, [], [keccak(text="credit")], "credit review", now - 60, now + 3600, 0, 2)
            digest = h.call("grantDigest", relayed, types=["bytes32"], contract="Authorization")[0]
            receipt = tx("Authorization.grantRelayed (SM2 checked on chain)", center, "grantRelayed", relayed, enterprise.public_key[1:],
                         enterprise.sign(digest), contract="Authorization")
            call("Authorization.isAuthorized", "isAuthorized", grantee, record, contract="Authorization")
            grant_id = h.events(receipt, "Granted", contract="Authorization")[0].grantId
            tx("Authorization.logAccess", center, "logAccess", grant_id, record, contract="Authorization")
            fingerprint = GM.hash(b"certificate")
            tx("CertificateRegistry.bind", center, "bind", fingerprint, to_checksum_address(ca.address), "91350100M000100Y43",
               enterprise.public_key[1:], now - 60, now + 86400, contract="CertificateRegistry")
            challenge = os.urandom(32)
            message = h.call("loginDigest", to_checksum_address(center.address), e, challenge, now + 300, types=["bytes32"], contract="CertificateRegistry")[0]
            tx("CertificateRegistry.attestLogin", center, "attestLogin", challenge, e, now + 300, enterprise.sign(message), contract="CertificateRegistry")
            document = GM.hash(b"document")
            tx("CertificateRegistry.attestSignature", center, "attestSignature", document, fingerprint, enterprise.sign(document), contract="CertificateRegistry")
            project = GM.hash(b"project P")
            tx("RecordRegistry.anchor (project)", h.admins[1], "anchor", project, keccak(text="project"), to_checksum_address(h.admins[1].address),
               GM.hash(b"tender"), 1, contract="RecordRegistry")
            tx("CertificateRegistry.openTender", h.admins[1], "openTender", project, now + 3600, contract="CertificateRegistry")
            tx("CertificateRegistry.commitBid", enterprise, "commitBid", project, GM.hash(b"ciphertext"), contract="CertificateRegistry")
            tx("Guarantee.setCreditLine", bank, "setCreditLine", e, 10**6, now + 86400, contract="Guarantee")
            tx("Guarantee.applyFor", enterprise, "applyFor", project, to_checksum_address(h.admins[1].address), 300_000, grantee, contract="Guarantee")
            number, not_after, letter = GM.hash(b"BG-1"), now + 86400, GM.hash(b"letter")
            digest = h.call("guaranteeDigest", number, 0, not_after, letter, types=["bytes32"], contract="Guarantee")[0]
            tx("Guarantee.issue (SM2 checked on chain)", bank, "issue", 0, number, not_after, letter, bank.public_key[1:], bank.sign(digest), contract="Guarantee")
            call("Guarantee.verify", "verify", number, contract="Guarantee")
            tx("Guarantee.release", h.admins[1], "release", number, contract="Guarantee")
        finally:
            h.chain.close()
    width = max(len(label) for label, _ in rows)
    print(f"{'call'.ljust(width)}  gas")
    for label, gas in rows:
        print(f"{label.ljust(width)}  {gas:,}")


if __name__ == "__main__":
    main()
