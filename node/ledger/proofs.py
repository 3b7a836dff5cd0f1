"""Inclusion proofs an outsider can check with the genesis file alone (format ``yilian-proof/2``).

The node builds them; :mod:`chain_sdk.verify` — a separate implementation that shares no code with the
node — checks them, and so do ``yilian verify`` and any third-party verifier written from the README's
*Proof format* section. A proof carries:

``header``             the canonical block header bytes (hex); its suite hash is the block hash
``certificate``        the canonical commit certificate of that block (hex)
``leaf``               the raw transaction bytes, or the canonical receipt bytes (logs included)
``merkle``             ``{index, size, path}`` (see :mod:`node.ledger.merkle`)
``validator_changes``  for every height ``e`` ≤ ``height`` where the validator set changed: header and
                       certificate of block ``e - 1`` and the public keys of the set from ``e`` on
"""

from __future__ import annotations

from node.config import Genesis
from node.errors import ValidationError
from node.ledger.merkle import MerkleProof
from node.types import CommitCertificate, Header

FORMAT = "yilian-proof/2"
KINDS = ("transaction", "receipt")


def validator_change(header: Header, certificate: CommitCertificate | None, public_keys: list[bytes]) -> dict:
    if certificate is None:
        raise ValidationError("certificate", f"block {header.height} has no commit certificate")
    return {"height": header.height + 1, "header": "0x" + header.encode().hex(), "certificate": "0x" + certificate.encode().hex(),
            "validators": ["0x" + key.hex() for key in public_keys]}


def build_proof(genesis: Genesis, kind: str, header: Header, leaf: bytes, path: MerkleProof, certificate: CommitCertificate | None,
                changes: list[dict]) -> dict:
    if certificate is None:
        raise ValidationError("certificate", f"block {header.height} has no commit certificate (the genesis block is certified by the genesis file)")
    return {
        "format": FORMAT,
        "chain_id": genesis.chain_id,
        "suite": genesis.suite_name,
        "genesis_hash": "0x" + genesis.hash().hex(),
        "kind": kind,
        "height": header.height,
        "block_hash": "0x" + header.hash(genesis.suite).hex(),
        "header": "0x" + header.encode().hex(),
        "certificate": "0x" + certificate.encode().hex(),
        "leaf": "0x" + leaf.hex(),
        "merkle": path.to_json(),
        "validator_changes": changes,
    }
