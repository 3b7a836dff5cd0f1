"""Inclusion proofs an outsider can check with the genesis file alone.

A proof (format ``yilian-proof/1``, JSON; the same fields as a msgpack map
with raw bytes) says: *this transaction (or receipt) is leaf ``index`` of the
tx (receipt) Merkle tree of block ``height``, and that block was committed by
more than 2/3 of the validators.* It carries:

``header``       the canonical block header bytes (hex); its suite hash is the block hash
``leaf``         the raw transaction bytes, or the canonical receipt bytes (logs included)
``merkle``       ``{index, size, path}`` (see :mod:`node.ledger.merkle`)
``certificate``  the canonical commit certificate bytes (hex)

:func:`verify_proof` checks, in order: chain id, header hash = certificate
block hash, certificate signatures against the validator set of the genesis
(validator-set changes arrive with governance, later), Merkle path from leaf
to the header's root. It returns the decoded leaf for the caller to read.
"""

from __future__ import annotations

from node.config import Genesis
from node.errors import ValidationError
from node.ledger.merkle import MerkleProof
from node.types import CommitCertificate, Header, Receipt

FORMAT = "yilian-proof/1"
KINDS = ("transaction", "receipt")


def build_proof(genesis: Genesis, kind: str, header: Header, leaf: bytes, path: MerkleProof, certificate: CommitCertificate | None) -> dict:
    if certificate is None:
        raise ValidationError("certificate", f"block {header.height} has no commit certificate (the genesis block is certified by the genesis file)")
    return {
        "format": FORMAT,
        "chain_id": genesis.chain_id,
        "suite": genesis.suite_name,
        "kind": kind,
        "height": header.height,
        "block_hash": "0x" + header.hash(genesis.suite).hex(),
        "header": "0x" + header.encode().hex(),
        "leaf": "0x" + leaf.hex(),
        "merkle": path.to_json(),
        "certificate": "0x" + certificate.encode().hex(),
    }


def _hex(document: dict, key: str) -> bytes:
    value = document.get(key)
    if not isinstance(value, str):
        raise ValidationError(f"proof.{key}", "missing or not a hex string")
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise ValidationError(f"proof.{key}", "not valid hex") from None


def verify_proof(genesis: Genesis, document: dict) -> tuple[Header, bytes | Receipt]:
    """Check a proof against ``genesis``; returns the header and the leaf (a Receipt for receipt proofs).

    Raises:
        ValidationError: naming the part of the proof that fails.
    """
    if document.get("format") != FORMAT:
        raise ValidationError("proof.format", f"expected {FORMAT!r}, got {document.get('format')!r}")
    kind = document.get("kind")
    if kind not in KINDS:
        raise ValidationError("proof.kind", f"must be one of {KINDS}")
    suite = genesis.suite
    header = Header.decode(_hex(document, "header"))
    if header.chain_id != genesis.chain_id:
        raise ValidationError("proof.header.chain_id", f"block is of chain {header.chain_id}, the genesis is of chain {genesis.chain_id}")
    block_hash = header.hash(suite)
    certificate = CommitCertificate.decode(_hex(document, "certificate"))
    if certificate.block_hash != block_hash or certificate.height != header.height:
        raise ValidationError("proof.certificate", "certifies a different block than the header")
    certificate.verify(suite, genesis.validator_set(), chain_id=genesis.chain_id)
    leaf = _hex(document, "leaf")
    path = MerkleProof.from_json(document.get("merkle") or {})
    root = header.tx_root if kind == "transaction" else header.receipt_root
    if not path.verify(suite, leaf, root):
        raise ValidationError("proof.merkle", f"the leaf does not lead to the block's {kind} root")
    return header, (Receipt.decode(leaf) if kind == "receipt" else leaf)
