"""``Auditor``: verify where a record, a transaction or a guarantee came from, trusting the genesis file alone.

The node the auditor talks to is only a source of proofs and logs, not trusted: every claim is checked by
:mod:`chain_sdk.verify` (commit certificates from the genesis validators through every validator-set change,
Merkle paths to the block roots) before it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_utils import keccak

from chain_sdk.client import Client
from chain_sdk.contracts import ADDRESSES
from chain_sdk.errors import SdkError
from chain_sdk.verify import Event, Genesis, ProofRejected, Verified, verify_proof

RECORD_EVENTS = ("Anchored", "Updated", "Revoked", "OpenedFromBatch")
ACCESS_EVENTS = ("AccessLogged", "AccessRefused")


@dataclass(frozen=True)
class ProvenStep:
    tx_hash: str
    verified: Verified
    events: list[Event]  # the events of that transaction that concern the subject

    def __str__(self) -> str:
        return f"block {self.verified.height}: " + "; ".join(str(e) for e in self.events)


class Auditor:
    def __init__(self, client: Client, genesis: Genesis | Path | str) -> None:
        self.client = client
        self.genesis = genesis if isinstance(genesis, Genesis) else Genesis.load(genesis)

    def verify_tx(self, tx_hash: str) -> Verified:
        """The transaction's receipt, proven from genesis (raises ProofRejected)."""
        proof = self.client.proof(tx_hash, "receipt")
        return verify_proof(self.genesis, proof)

    def _proven(self, contract: str, topics: list, wanted: tuple[str, ...], key: str, value: bytes) -> list[ProvenStep]:
        logs = self.client.logs(ADDRESSES[contract], topics)
        steps, seen = [], set()
        for log in logs:
            tx_hash = log["transactionHash"]
            if tx_hash in seen:
                continue
            seen.add(tx_hash)
            verified = self.verify_tx(tx_hash)
            events = [e for e in verified.events if e.contract == contract and e.name in wanted and e.args.get(key) == value]
            if not events:
                raise ProofRejected("logs", f"the node listed {tx_hash} for {contract}, but its proven receipt has no such event")
            steps.append(ProvenStep(tx_hash, verified, events))
        return steps

    def record_history(self, record_id: bytes) -> list[ProvenStep]:
        """Anchor, versions and revocation of a record, each proven; the last commitment is what the chain holds."""
        steps = self._proven("RecordRegistry", [None, "0x" + record_id.hex()], RECORD_EVENTS, "recordId", record_id)
        if not steps:
            raise SdkError(f"no anchor of record 0x{record_id.hex()} on chain")
        return steps

    def access_log(self, record_id: bytes) -> list[ProvenStep]:
        """Every logged access to and refusal of a record, proven."""
        signatures = [_topic("Authorization", name) for name in ACCESS_EVENTS]
        steps = []
        for signature in signatures:
            topics = [signature, None, "0x" + record_id.hex()] if signature == signatures[0] else [signature, "0x" + record_id.hex()]
            steps += self._proven("Authorization", topics, ACCESS_EVENTS, "recordId", record_id)
        return sorted(steps, key=lambda step: step.verified.height)

    def guarantee_history(self, number: bytes) -> list[ProvenStep]:
        """Issuance and every later step of a guarantee, proven. Empty: never issued (a forged number)."""
        return self._proven("Guarantee", [None, "0x" + number.hex()], ("GuaranteeIssued", "Postponed", "Released", "Claimed", "PaidOut",
                                                                       "Expired"), "guaranteeNo", number)

    def check_commitment(self, record_id: bytes, commitment: bytes) -> ProvenStep:
        """The proven step that anchored ``commitment`` as the record's latest version (raises if none does)."""
        steps = self.record_history(record_id)
        last = steps[-1]
        event = last.events[-1]
        if event.name == "Revoked":
            raise SdkError(f"record 0x{record_id.hex()} was revoked in block {last.verified.height}")
        if event.args.get("commitment") != commitment:
            raise SdkError(f"the latest proven version of record 0x{record_id.hex()} has another commitment")
        return last


def _topic(contract: str, event: str) -> str:
    from chain_sdk.contracts import abi
    from eth_utils.abi import collapse_if_tuple

    (entry,) = [e for e in abi(contract) if e["type"] == "event" and e["name"] == event]
    return "0x" + keccak(text=f"{event}({','.join(collapse_if_tuple(i) for i in entry['inputs'])})").hex()
