"""The auditor's light client (chain_sdk.verify): proofs across validator-set changes, and every tampered field refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest
from eth_utils import to_checksum_address

from chain_sdk.verify import Genesis, ProofRejected, verify_proof
from harness import Harness
from node.crypto import get_suite
from node.service import NodeService

ADD_CENTER, REMOVE_CENTER = 0, 1


@pytest.fixture(scope="module")
def proofs(tmp_path_factory):
    """Receipt proofs of three transactions: before a validator joins, while it is in, and after it left."""
    tmp = tmp_path_factory.mktemp("light")
    h = Harness(tmp)
    genesis_path = tmp / "genesis.json"
    raw = dict(h.chain.genesis.raw, validators=h.chain.genesis.raw["validators"][:1])  # the harness runs one validator
    genesis_path.write_text(json.dumps(raw))
    service = NodeService(h.chain, h.mempool)
    solo = h.validator
    newcomer, validator = get_suite("gm").generate_key(), get_suite("gm").generate_key()
    first = h.send(h.admins[0], "propose", ADD_CENTER, to_checksum_address(newcomer.address), "Center E", validator.public_key,
                   h.chain.height + 6)
    h.send(h.admins[1], "vote", 0)
    h.send(h.admins[2], "vote", 0)
    while h.chain.height < h.chain.height + 1 and h.chain.validators_at(h.chain.height + 1).size == 1:
        h.engine.produce()
    both = [solo, validator]
    second = h.send(h.admins[0], "propose", REMOVE_CENTER, to_checksum_address(newcomer.address), "", b"", h.chain.height + 3, signers=both)
    for admin in h.admins[1:4]:
        h.send(admin, "vote", 1, signers=both)
    while h.chain.validators_at(h.chain.height + 1).size == 2:
        h.produce_signed(both)
    third = h.send(h.admins[0], "admit", to_checksum_address(h.outsider.address))
    return genesis_path, [service.proof(r.tx_hash, "receipt") for r in (first, second, third)] + [service.proof(third.tx_hash, "transaction")]


def test_proofs_follow_validator_set_changes(proofs):
    genesis_path, documents = proofs
    genesis = Genesis.load(genesis_path)
    results = [verify_proof(genesis, document) for document in documents]
    assert [r.validator_changes for r in results] == [0, 1, 2, 2]
    assert [r.validators for r in results] == [1, 2, 1, 1]
    assert results[1].signers == 2
    assert any(e.name == "Proposed" and e.contract == "MemberRegistry" for e in results[0].events)
    assert results[2].events[0].name == "AccountAdmitted" and results[2].receipt["status"] == 1
    assert results[3].kind == "transaction" and results[3].receipt is None


def _flip(hex_string: str, position: int = -2) -> str:
    raw = bytearray(bytes.fromhex(hex_string[2:]))
    raw[position] ^= 0x01
    return "0x" + raw.hex()


def _certificate_without_signatures(hex_string: str) -> str:
    fields = msgpack.unpackb(bytes.fromhex(hex_string[2:]), raw=False)
    fields[4] = fields[4][:-1]
    return "0x" + msgpack.packb(fields, use_bin_type=True).hex()


def _changed(document: dict, path: str, value) -> dict:  # type: ignore[no-untyped-def]
    copy = json.loads(json.dumps(document))
    target = copy
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = keys[-1]
    if callable(value):
        value = value(target[int(last)] if isinstance(target, list) else target[last])
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return copy


def test_every_tampered_field_is_refused(proofs):
    genesis_path, documents = proofs
    genesis = Genesis.load(genesis_path)
    proof = documents[2]  # two validator-set changes behind it
    other_key = "0x" + get_suite("gm").generate_key().public_key.hex()
    cases = {  # field tampered -> where the verifier must stop (block_hash is a convenience: a forger drops it)
        "format": ("format", "yilian-proof/1", "format"),
        "chain_id": ("chain_id", 1, "chain_id"),
        "kind": ("kind", "block", "kind"),
        "height": ("height", lambda h: h + 1, "height"),
        "block_hash": ("block_hash", lambda v: _flip(v), "block_hash"),
        "header": ("header", lambda v: _flip(v, 12), "certificate"),
        "header (malformed)": ("header", lambda v: v + "00", "header"),
        "certificate": ("certificate", lambda v: _flip(v), "certificate.signatures[0]"),
        "certificate (below quorum)": ("certificate", _certificate_without_signatures, "certificate.signatures"),
        "leaf": ("leaf", lambda v: _flip(v), "merkle"),
        "merkle.index": ("merkle.index", 5, "merkle.index"),
        "merkle.size": ("merkle.size", lambda v: v + 1, "merkle"),
        "merkle.path": ("merkle.path", lambda p: p + ["0x" + "00" * 32], "merkle.path"),
        "validator_changes (reversed)": ("validator_changes", lambda c: list(reversed(c)), "validator_changes[0]"),
        "validator_changes[0].validators": ("validator_changes.0.validators", lambda keys: keys + [other_key], "validator_changes[0].validators"),
        "validator_changes[0].certificate": ("validator_changes.0.certificate", lambda v: _flip(v), "validator_changes[0].certificate.signatures[0]"),
        "validator_changes[0].header": ("validator_changes.0.header", lambda v: _flip(v, 12), "validator_changes[0].certificate"),
        "validator_changes[1].certificate": ("validator_changes.1.certificate", _certificate_without_signatures,
                                             "validator_changes[1].certificate.signatures"),
    }
    for case, (path, value, where) in cases.items():
        tampered = _changed(proof, path, value)
        if path != "block_hash":
            tampered.pop("block_hash")
        with pytest.raises(ProofRejected) as refused:
            verify_proof(genesis, tampered)
        assert refused.value.field.startswith(where), (case, str(refused.value))
    # while the joined validator is in, a proof without the change names a set the genesis does not know
    with pytest.raises(ProofRejected) as refused:
        verify_proof(genesis, _changed(documents[1], "validator_changes", []))
    assert refused.value.field == "header.validators_hash" and "missing" in str(refused.value)
    assert verify_proof(genesis, proof).height == proof["height"]  # the original still verifies


def test_yilian_verify_command(proofs, tmp_path: Path):
    genesis_path, documents = proofs
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(documents[2]))
    bad.write_text(json.dumps(_changed(documents[2], "leaf", lambda v: _flip(v))))
    ok = subprocess.run([sys.executable, "-m", "node.cli", "verify", "--genesis", str(genesis_path), str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "proof OK" in ok.stdout and "2 validator-set change(s)" in ok.stdout and "MemberRegistry.AccountAdmitted" in ok.stdout
    failed = subprocess.run([sys.executable, "-m", "node.cli", "verify", "--genesis", str(genesis_path), str(good), str(bad)],
                            capture_output=True, text=True)
    assert failed.returncode == 1 and "REJECTED at merkle" in failed.stderr and "Traceback" not in failed.stderr
