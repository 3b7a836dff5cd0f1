"""The auditor's light client: check a proof with the consortium's ``genesis.json`` alone.

A proof (format ``yilian-proof/2``, JSON, documented in the README under *Proof format*) says: *this
transaction (or its receipt) is leaf ``merkle.index`` of the transaction (receipt) tree of block ``height``,
and that block was committed by more than 2/3 of the validators in force at that height.* The validators
in force are reached from the genesis set by ``validator_changes``: for every height ``e`` at which
governance changed the set, the header and commit certificate of block ``e - 1`` (signed by the old set)
whose ``next_validators_hash`` commits to the new set, and the new set's public keys.

This module is a second, independent implementation of the node's formats (canonical msgpack structs,
RFC 6962 Merkle trees over the suite hash, SM2 or secp256k1 commit signatures); it imports nothing from the
node. Every failure raises :class:`ProofRejected` naming the field at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
from eth_abi import decode as abi_decode
from eth_utils import keccak
from eth_utils.abi import collapse_if_tuple

from chain_sdk import gm
from chain_sdk.errors import SdkError

FORMAT = "yilian-proof/2"
KINDS = ("transaction", "receipt")
VOTE_DOMAIN = b"YILIAN/vote/v1\x00"
PRECOMMIT = 2
HEADER_FIELDS = ("chain_id", "height", "time_ms", "parent_hash", "proposer", "tx_root", "receipt_root", "state_root",
                 "validators_hash", "next_validators_hash", "gas_used", "tx_count")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class ProofRejected(SdkError):
    """The proof does not hold; ``field`` names the part at fault."""

    def __init__(self, field_: str, message: str) -> None:
        super().__init__(f"{field_}: {message}")
        self.field = field_


# -- the suite ------------------------------------------------------------------------------------


class _Suite:
    def __init__(self, name: str) -> None:
        if name not in ("gm", "ecdsa"):
            raise ProofRejected("genesis.suite", f"unknown suite {name!r}")
        self.name = name

    def hash(self, data: bytes) -> bytes:
        return gm.sm3(data) if self.name == "gm" else keccak(data)

    def address(self, public_key: bytes) -> bytes:
        if len(public_key) != 65 or public_key[0] != 4:
            raise ProofRejected("validators", "a public key is 65 bytes 0x04‖X‖Y")
        return self.hash(public_key[1:])[-20:]

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        if self.name == "gm":
            try:
                return gm.sm2_verify(public_key, message, signature)
            except Exception:  # noqa: BLE001 - a malformed key or signature is a failed check
                return False
        import coincurve

        if len(signature) != 65 or signature[64] > 1:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")
        if not (1 <= r < _SECP256K1_N and 1 <= s <= _SECP256K1_N // 2):
            return False
        try:
            recovered = coincurve.PublicKey.from_signature_and_message(signature, keccak(message), hasher=None)
        except Exception:  # noqa: BLE001
            return False
        return recovered.format(compressed=False) == public_key


# -- canonical msgpack ------------------------------------------------------------------------------


def _canonical(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _decode(data: bytes, where: str) -> Any:
    """Decode canonical msgpack: refuse trailing bytes and any non-canonical form (re-encoding must match)."""
    try:
        value = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=False)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the proof's fault
        raise ProofRejected(where, f"not canonical msgpack: {exc}") from None
    if _canonical(value) != data:
        raise ProofRejected(where, "not in canonical form")
    return value


def _hex(document: dict, key: str, where: str, size: int | None = None) -> bytes:
    value = document.get(key)
    if not isinstance(value, str):
        raise ProofRejected(f"{where}.{key}", "missing or not a hex string")
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise ProofRejected(f"{where}.{key}", "not valid hex") from None
    if size is not None and len(raw) != size:
        raise ProofRejected(f"{where}.{key}", f"expected {size} bytes, got {len(raw)}")
    return raw


def _int(document: dict, key: str, where: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProofRejected(f"{where}.{key}", "missing or not a non-negative integer")
    return value


@dataclass(frozen=True)
class Header:
    chain_id: int
    height: int
    time_ms: int
    parent_hash: bytes
    proposer: bytes
    tx_root: bytes
    receipt_root: bytes
    state_root: bytes
    validators_hash: bytes
    next_validators_hash: bytes
    gas_used: int
    tx_count: int

    @classmethod
    def decode(cls, data: bytes, where: str) -> Header:
        fields = _decode(data, where)
        if not isinstance(fields, list) or len(fields) != len(HEADER_FIELDS):
            raise ProofRejected(where, f"a header has {len(HEADER_FIELDS)} fields")
        header = cls(*fields)
        for name in HEADER_FIELDS:
            value = getattr(header, name)
            expected = int if name in ("chain_id", "height", "time_ms", "gas_used", "tx_count") else bytes
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ProofRejected(f"{where}.{name}", f"must be {expected.__name__}")
        return header


@dataclass(frozen=True)
class ValidatorSet:
    validators: tuple[tuple[bytes, bytes], ...]  # (address, public key), sorted by address

    @classmethod
    def from_keys(cls, suite: _Suite, keys: list[bytes], where: str) -> ValidatorSet:
        if not keys:
            raise ProofRejected(where, "a validator set needs at least one validator")
        members = sorted((suite.address(key), key) for key in keys)
        if len({address for address, _ in members}) != len(members):
            raise ProofRejected(where, "duplicate validator")
        return cls(tuple(members))

    @property
    def quorum(self) -> int:
        return 2 * len(self.validators) // 3 + 1

    def hash(self, suite: _Suite) -> bytes:
        return suite.hash(_canonical([[list(v) for v in self.validators]]))

    def key_of(self, address: bytes) -> bytes | None:
        for candidate, key in self.validators:
            if candidate == address:
                return key
        return None


def _check_certificate(suite: _Suite, chain_id: int, raw: bytes, header: Header, block_hash: bytes, validators: ValidatorSet,
                       where: str) -> int:
    """Check a commit certificate for ``block_hash``; returns the number of valid precommits."""
    fields = _decode(raw, where)
    if not isinstance(fields, list) or len(fields) != 5 or not isinstance(fields[4], list):
        raise ProofRejected(where, "a certificate is [chain_id, height, round, block_hash, signatures]")
    cert_chain, height, round_, certified, signatures = fields
    if cert_chain != chain_id:
        raise ProofRejected(f"{where}.chain_id", f"certificate is for chain {cert_chain}, the genesis is chain {chain_id}")
    if height != header.height or certified != block_hash:
        raise ProofRejected(where, f"certifies another block than the header of height {header.height}")
    seen: set[bytes] = set()
    for index, entry in enumerate(signatures):
        at = f"{where}.signatures[{index}]"
        if not isinstance(entry, list) or len(entry) != 2 or not all(isinstance(x, bytes) for x in entry):
            raise ProofRejected(at, "an entry is [validator, signature]")
        validator, signature = entry
        key = validators.key_of(validator)
        if key is None:
            raise ProofRejected(at, f"0x{validator.hex()} is not a validator at height {height}")
        if validator in seen:
            raise ProofRejected(at, f"0x{validator.hex()} signed twice")
        seen.add(validator)
        vote = VOTE_DOMAIN + _canonical([chain_id, PRECOMMIT, height, round_, block_hash, validator, b""])
        if not suite.verify(key, vote, signature):
            raise ProofRejected(at, f"precommit signature of 0x{validator.hex()} does not verify")
    if len(seen) < validators.quorum:
        raise ProofRejected(f"{where}.signatures", f"{len(seen)} precommits; a quorum of {validators.quorum} of "
                                                   f"{len(validators.validators)} validators is needed")
    return len(seen)


def merkle_root(suite: _Suite, leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """RFC 6962: leaf H(0x00‖leaf), node H(0x01‖left‖right), a node without sibling moves up unchanged."""
    if not 0 <= index < size:
        raise ProofRejected("merkle.index", f"{index} is outside a tree of {size} leaves")
    node, remaining = suite.hash(b"\x00" + leaf), list(path)
    while size > 1:
        if index % 2 == 1 or index + 1 < size:
            if not remaining:
                raise ProofRejected("merkle.path", "too short for the tree size")
            sibling = remaining.pop(0)
            node = suite.hash(b"\x01" + (sibling + node if index % 2 == 1 else node + sibling))
        index, size = index // 2, (size + 1) // 2
    if remaining:
        raise ProofRejected("merkle.path", f"{len(remaining)} hash(es) too many for the tree size")
    return node


# -- genesis ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Genesis:
    chain_id: int
    suite: _Suite
    validators: ValidatorSet
    hash: bytes
    contracts: dict[str, str] = field(default_factory=dict)  # address (lower hex) -> name

    @classmethod
    def load(cls, path: Path | str) -> Genesis:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SdkError(f"{path}: not a YiLian genesis file: {exc}") from None
        return cls.from_document(document, str(path))

    @classmethod
    def from_document(cls, document: dict, path: str = "genesis") -> Genesis:
        try:
            suite = _Suite(document["suite"])
            keys = [bytes.fromhex(v["public_key"].removeprefix("0x")) for v in document["validators"]]
            chain_id = int(document["chain_id"])
        except ProofRejected:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SdkError(f"{path}: not a YiLian genesis file: {exc}") from None
        validators = ValidatorSet.from_keys(suite, keys, "genesis.validators")
        for entry in document["validators"]:
            key = bytes.fromhex(entry["public_key"].removeprefix("0x"))
            if entry.get("address") and bytes.fromhex(entry["address"].removeprefix("0x")) != suite.address(key):
                raise SdkError(f"{path}: validator {entry.get('name')} address does not match its public key")
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        contracts = {c["address"].lower(): c["name"] for c in document.get("contracts", []) if isinstance(c, dict) and "address" in c}
        return cls(chain_id, suite, validators, suite.hash(canonical), contracts)


# -- receipts and events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    contract: str  # system contract name, or the address
    name: str  # event name, or "unknown"
    args: dict

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.args.items())
        return f"{self.contract}.{self.name}({shown})"


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def decode_receipt(raw: bytes) -> dict:
    fields = _decode(raw, "leaf")
    if not isinstance(fields, list) or len(fields) != 8:
        raise ProofRejected("leaf", "a receipt has 8 fields")
    tx_hash, status, gas_used, _, logs, _, output, revert_reason = fields
    return {"tx_hash": tx_hash, "status": status, "gas_used": gas_used, "logs": logs, "output": output, "revert_reason": revert_reason}


def decode_events(logs: list, contracts: dict[str, str]) -> list[Event]:
    """Decode logs of the system contracts with their ABIs (``chain_sdk/abi``); others stay raw."""
    from chain_sdk.contracts import ADDRESSES, abi

    names = {address.lower(): name for name, address in ADDRESSES.items()} | contracts
    events = []
    for log in logs:
        address, topics, data = log
        name = names.get("0x" + address.hex())
        decoded = None
        if name in ADDRESSES and topics:
            for entry in abi(name):
                if entry["type"] != "event":
                    continue
                signature = f"{entry['name']}({','.join(collapse_if_tuple(i) for i in entry['inputs'])})"
                if keccak(text=signature) != topics[0]:
                    continue
                indexed = [i for i in entry["inputs"] if i["indexed"]]
                plain = [i for i in entry["inputs"] if not i["indexed"]]
                try:
                    values = dict(zip([i["name"] for i in plain], abi_decode([collapse_if_tuple(i) for i in plain], data)))
                    for item, topic in zip(indexed, topics[1:]):
                        values[item["name"]] = abi_decode([collapse_if_tuple(item)], topic)[0]
                except Exception:  # noqa: BLE001 - a log that does not fit its ABI is shown raw
                    break
                ordered = {i["name"]: values[i["name"]] for i in entry["inputs"] if i["name"] in values}
                decoded = Event(name, entry["name"], ordered)
                break
        events.append(decoded or Event(name or "0x" + address.hex(), "unknown", {"topics": [t.hex() for t in topics], "data": data}))
    return events


# -- the check ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """What a proof established."""

    kind: str
    height: int
    block_hash: bytes
    time_ms: int
    signers: int
    validator_changes: int
    validators: int
    leaf: bytes
    receipt: dict | None
    events: list[Event]

    def summary(self) -> list[str]:
        lines = [f"{self.kind} in block {self.height} (0x{self.block_hash.hex()}), committed by {self.signers} of the "
                 f"{self.validators} validators in force, reached from genesis through {self.validator_changes} validator-set change(s)"]
        if self.receipt is not None:
            status = "succeeded" if self.receipt["status"] == 1 else f"FAILED ({self.receipt['revert_reason'] or 'reverted'})"
            lines.append(f"transaction 0x{self.receipt['tx_hash'].hex()} {status}, gas {self.receipt['gas_used']}")
            lines.extend(f"event: {event}" for event in self.events)
        return lines


def verify_proof(genesis: Genesis, document: Any) -> Verified:
    """Check ``document`` (a parsed proof) against ``genesis``; raises ProofRejected naming the failing field."""
    if not isinstance(document, dict):
        raise ProofRejected("proof", "a proof is a JSON object")
    if document.get("format") != FORMAT:
        raise ProofRejected("format", f"expected {FORMAT!r}, got {document.get('format')!r}")
    if document.get("chain_id") != genesis.chain_id:
        raise ProofRejected("chain_id", f"proof is for chain {document.get('chain_id')}, the genesis is chain {genesis.chain_id}")
    kind = document.get("kind")
    if kind not in KINDS:
        raise ProofRejected("kind", f"must be one of {KINDS}")
    suite = genesis.suite
    validators = genesis.validators
    changes = document.get("validator_changes", [])
    if not isinstance(changes, list):
        raise ProofRejected("validator_changes", "must be a list")
    height = _int(document, "height", "proof")
    previous = 0
    for number, change in enumerate(changes):
        where = f"validator_changes[{number}]"
        if not isinstance(change, dict):
            raise ProofRejected(where, "must be an object")
        header = Header.decode(_hex(change, "header", where), f"{where}.header")
        if header.chain_id != genesis.chain_id:
            raise ProofRejected(f"{where}.header.chain_id", "another chain")
        if not previous < header.height + 1 <= height:
            raise ProofRejected(f"{where}.header.height", "changes must be in ascending order and before the proven block")
        previous = header.height + 1
        if header.validators_hash != validators.hash(suite):
            raise ProofRejected(f"{where}.header.validators_hash", "does not match the validator set in force")
        _check_certificate(suite, genesis.chain_id, _hex(change, "certificate", where), header, suite.hash(_hex(change, "header", where)),
                           validators, f"{where}.certificate")
        keys = change.get("validators")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ProofRejected(f"{where}.validators", "a list of hex public keys")
        try:
            new_set = ValidatorSet.from_keys(suite, [bytes.fromhex(k.removeprefix("0x")) for k in keys], f"{where}.validators")
        except ValueError:
            raise ProofRejected(f"{where}.validators", "not valid hex") from None
        if header.next_validators_hash != new_set.hash(suite):
            raise ProofRejected(f"{where}.validators", "not the set the certified header commits to for the next block")
        validators = new_set
    raw_header = _hex(document, "header", "proof")
    header = Header.decode(raw_header, "header")
    if header.chain_id != genesis.chain_id:
        raise ProofRejected("header.chain_id", f"block is of chain {header.chain_id}, the genesis is chain {genesis.chain_id}")
    if header.height != height:
        raise ProofRejected("height", f"the header is of height {header.height}")
    block_hash = suite.hash(raw_header)
    if document.get("block_hash") not in (None, "0x" + block_hash.hex()):
        raise ProofRejected("block_hash", "does not match the header")
    if header.validators_hash != validators.hash(suite):
        raise ProofRejected("header.validators_hash", "the block names another validator set than the one in force "
                                                      "(a validator-set change is missing from validator_changes)")
    signers = _check_certificate(suite, genesis.chain_id, _hex(document, "certificate", "proof"), header, block_hash, validators,
                                 "certificate")
    leaf = _hex(document, "leaf", "proof")
    merkle = document.get("merkle")
    if not isinstance(merkle, dict) or not isinstance(merkle.get("path"), list):
        raise ProofRejected("merkle", "an object {index, size, path}")
    try:
        path = [bytes.fromhex(h.removeprefix("0x")) for h in merkle["path"]]
    except (ValueError, AttributeError):
        raise ProofRejected("merkle.path", "hex hashes") from None
    root = merkle_root(suite, leaf, _int(merkle, "index", "merkle"), _int(merkle, "size", "merkle"), path)
    if root != (header.tx_root if kind == "transaction" else header.receipt_root):
        raise ProofRejected("merkle", f"the leaf does not lead to the block's {kind} root")
    receipt, events = None, []
    if kind == "receipt":
        receipt = decode_receipt(leaf)
        events = decode_events(receipt["logs"], genesis.contracts)
    return Verified(kind, height, block_hash, header.time_ms, signers, len(changes), len(validators.validators), leaf, receipt, events)


def verify_file(genesis_path: Path | str, proof_path: Path | str) -> Verified:
    try:
        document = json.loads(Path(proof_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProofRejected("proof", f"{proof_path} is not a JSON file: {exc}") from None
    return verify_proof(Genesis.load(genesis_path), document)
