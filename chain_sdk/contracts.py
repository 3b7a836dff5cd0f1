"""Bindings for the system contracts, generated from the ABIs in ``chain_sdk/abi/`` (written by
``scripts/compile_contracts`` from ``contracts/build/``): call views, send transactions, decode events and the
contracts' custom errors into :class:`TransactionFailed`."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from collections.abc import Iterable
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple

from chain_sdk.client import VALIDITY_BLOCKS, Client
from chain_sdk.errors import BatchFailed, NodeError, SdkError, TransactionFailed
from chain_sdk.wallet import Wallet

ABI_DIR = Path(__file__).parent / "abi"
ADDRESSES = {
    "MemberRegistry": "0x0000000000000000000000000000000000001000",
    "RecordRegistry": "0x0000000000000000000000000000000000001001",
    "Authorization": "0x0000000000000000000000000000000000001002",
    "CertificateRegistry": "0x0000000000000000000000000000000000001003",
    "Guarantee": "0x0000000000000000000000000000000000001004",
}


def _types(entries: list[dict]) -> list[str]:
    return [collapse_if_tuple(entry) for entry in entries]


@functools.lru_cache(maxsize=None)
def abi(name: str) -> tuple[dict, ...]:
    path = ABI_DIR / f"{name}.json"
    if not path.exists():
        raise SdkError(f"no ABI for {name!r}; known: {', '.join(sorted(ADDRESSES))}")
    return tuple(json.loads(path.read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=None)
def _errors() -> dict[bytes, tuple[str, list[str]]]:
    found = {}
    for name in ADDRESSES:
        for entry in abi(name):
            if entry["type"] == "error":
                types = _types(entry["inputs"])
                found[function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})")] = (entry["name"], types)
    return found


def decode_error(output: bytes) -> tuple[str, tuple]:
    """A revert's custom error name and arguments (or ``Error(string)``'s message)."""
    if output[:4] == bytes.fromhex("08c379a0"):
        return decode(["string"], output[4:])[0], ()
    known = _errors().get(output[:4])
    if known is None:
        return ("reverted" if not output else f"unknown error 0x{output[:4].hex()}"), ()
    name, types = known
    try:
        return name, tuple(decode(types, output[4:]))
    except Exception:  # noqa: BLE001 - malformed revert data: the name is still right
        return name, ()


@dataclass
class Receipt:
    """An included, successful transaction with its events decoded."""

    tx_hash: str
    height: int
    gas_used: int
    raw: dict
    contract: Contract

    def events(self, name: str) -> list[SimpleNamespace]:
        return self.contract.decode_logs(self.raw["logs"], name)

    def event(self, name: str) -> SimpleNamespace:
        found = self.events(name)
        if len(found) != 1:
            raise SdkError(f"expected one {name} event in {self.tx_hash}, found {len(found)}")
        return found[0]


class Contract:
    """One system contract at its genesis address (or ``address``)."""

    def __init__(self, client: Client | None, name: str, address: str | None = None) -> None:
        """``client`` None gives an offline binding: encode calls, decode outputs, events and errors."""
        self.client, self.name = client, name
        self.address = to_checksum_address(address or ADDRESSES[name])
        self._functions = {}
        for entry in abi(name):
            if entry["type"] == "function":
                self._functions.setdefault(entry["name"], []).append(entry)
        self._events = {e["name"]: e for e in abi(name) if e["type"] == "event"}

    def _function(self, fn: str, args: tuple) -> dict:
        candidates = [e for e in self._functions.get(fn, []) if len(e["inputs"]) == len(args)]
        if not candidates:
            raise SdkError(f"{self.name} has no function {fn} taking {len(args)} argument(s)")
        return candidates[0]

    def encode(self, fn: str, *args: Any) -> bytes:
        entry = self._function(fn, args)
        types = _types(entry["inputs"])
        return function_signature_to_4byte_selector(f"{fn}({','.join(types)})") + encode(types, list(args))

    def call(self, fn: str, *args: Any) -> Any:
        """A view; one output is returned as is, several as a tuple (structs as tuples)."""
        if self.client is None:
            raise SdkError(f"{self.name} binding has no client: pass one to call the chain")
        try:
            output = self.client.call(self.address, self.encode(fn, *args))
        except NodeError as exc:
            data = (exc.body or {}).get("data") if isinstance(exc.body, dict) else None
            if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
                name, values = decode_error(bytes.fromhex(data[2:]))
                raise TransactionFailed("(call)", name, values, exc.detail) from None
            raise
        return self.decode_output(fn, len(args), output)

    def decode_output(self, fn: str, arg_count: int, output: bytes) -> Any:
        """The return value of ``fn`` from raw call output (one output as is, several as a tuple)."""
        entry = self._function(fn, (None,) * arg_count)
        values = decode(_types(entry["outputs"]), output)
        return values[0] if len(values) == 1 else values

    def transact(self, wallet: Wallet, fn: str, *args: Any, gas: int = 3_000_000, wait: float = 30.0) -> Receipt:
        """Sign and send ``fn(*args)`` from ``wallet``, wait for inclusion; raises TransactionFailed on a revert."""
        client = self.client
        raw = wallet.sign_transaction(chain_id=client.chain_id, nonce=client.next_nonce(wallet.address),
                                      to=bytes.fromhex(self.address[2:]), data=self.encode(fn, *args), gas=gas,
                                      valid_until=client.height() + VALIDITY_BLOCKS)
        try:
            receipt = client.send_raw(raw, wait=wait)
        except NodeError:
            client.forget_nonces(wallet.address)
            raise
        failure = self._failure(receipt)
        if failure is not None:
            raise failure
        return self._receipt(receipt)

    def transact_many(self, wallet: Wallet, calls: Iterable[tuple], *, gas: int = 3_000_000, wait: float = 30.0) -> list[Receipt]:
        """Sign ``(fn, *args)`` for each of ``calls`` from ``wallet`` with consecutive nonces and send them as batches
        (:meth:`Client.send_raws`: one request per hundred); wait for all and return their receipts in order.

        >>> center.members.transact_many(center.wallet, [("admit", a) for a in enterprises])   # doctest: +SKIP

        Raises :class:`BatchFailed` when any was refused, not included in time or reverted (its ``errors`` say which
        and why, as ``NodeError``, ``InclusionTimeout``, ``TransactionFailed``; its ``results`` hold the others'
        :class:`Receipt`). With ``wait=0`` it returns the node's answers (``{hash, status: pending}``) instead."""
        client, calls = self.client, list(calls)
        if not calls:
            return []
        to, chain_id, valid_until = bytes.fromhex(self.address[2:]), client.chain_id, client.height() + VALIDITY_BLOCKS
        first = client.next_nonce(wallet.address, len(calls))
        raws = [wallet.sign_transaction(chain_id=chain_id, nonce=first + i, to=to, data=self.encode(fn, *args), gas=gas, valid_until=valid_until)
                for i, (fn, *args) in enumerate(calls)]
        try:
            receipts = client.send_raws(raws, wait=wait)
        except BatchFailed as failed:
            if any(isinstance(error, NodeError) for error in failed.errors.values()):
                client.forget_nonces(wallet.address)
            failed.results = [self._receipt(r) if r is not None and "tx_hash" in r else r for r in failed.results]
            raise
        if not wait:
            return receipts  # type: ignore[return-value]  # {hash, status: pending} each
        failures = {index: failure for index, failure in enumerate(map(self._failure, receipts)) if failure is not None}
        if failures:
            raise BatchFailed(failures, [None if index in failures else self._receipt(r) for index, r in enumerate(receipts)])  # type: ignore[arg-type]
        return [self._receipt(receipt) for receipt in receipts]

    @staticmethod
    def _failure(receipt: dict) -> TransactionFailed | None:
        if int(receipt["status"]) == 1:
            return None
        name, values = decode_error(bytes.fromhex((receipt.get("output") or "0x")[2:]))
        return TransactionFailed(receipt["tx_hash"], name, values, receipt.get("revert_reason") or "", receipt)

    def _receipt(self, receipt: dict) -> Receipt:
        return Receipt(receipt["tx_hash"], int(receipt["height"]), int(receipt["gas_used"]), receipt, self)

    def decode_logs(self, logs: list[dict], name: str) -> list[SimpleNamespace]:
        event = self._events.get(name)
        if event is None:
            raise SdkError(f"{self.name} has no event {name}")
        signature = f"{name}({','.join(_types(event['inputs']))})"
        topic0 = "0x" + keccak(text=signature).hex()
        found = []
        for log in logs:
            if log["address"].lower() != self.address.lower() or not log["topics"] or log["topics"][0].lower() != topic0:
                continue
            indexed = [i for i in event["inputs"] if i["indexed"]]
            plain = [i for i in event["inputs"] if not i["indexed"]]
            values = dict(zip([i["name"] for i in plain], decode(_types(plain), bytes.fromhex(log["data"][2:]))))
            for entry, topic in zip(indexed, log["topics"][1:]):
                values[entry["name"]] = decode([collapse_if_tuple(entry)], bytes.fromhex(topic[2:]))[0]
            found.append(SimpleNamespace(**values))
        return found

    def events(self, name: str, from_block: int = 0) -> list[SimpleNamespace]:
        """Every ``name`` event of this contract from ``from_block`` (eth_getLogs)."""
        return self.decode_logs(self.client.logs(self.address, from_block=from_block), name)
