"""Helpers for chain tests: a one-validator consortium on disk and signed transactions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_utils import to_checksum_address

from node.config import Genesis, load_node_config
from node.consortium import create_consortium
from node.crypto import PrivateKey, get_suite
from node.types import Transaction

PASSWORD = b"test-password"


@dataclass
class Consortium:
    root: Path
    home: Path
    genesis: Genesis
    validator: PrivateKey
    eth_accounts: list  # eth_account LocalAccount
    gm_accounts: list[PrivateKey]


def make_consortium(directory: Path, *, accounts: int = 2, suite: str = "gm") -> Consortium:
    info = create_consortium(directory / "consortium", 1, suite=suite, dev_accounts=accounts, password=PASSWORD)
    config = load_node_config(info.centers[0].home)
    genesis = config.load_genesis()
    from node.crypto.keystore import load_keystore

    validator = load_keystore(config.validator_key_path, PASSWORD)
    dev = json.loads((directory / "consortium" / "dev-accounts.json").read_text())
    eth = [Account.from_key(a["private_key"]) for a in dev["accounts"] if a["suite"] == "ecdsa"]
    gm = [get_suite("gm").key_from_secret(bytes.fromhex(a["private_key"][2:])) for a in dev["accounts"] if a["suite"] == "gm"]
    return Consortium(directory / "consortium", info.centers[0].home, genesis, validator, eth, gm)


def eth_tx(account, nonce: int, *, to: bytes | None = None, data: bytes = b"", value: int = 0, gas: int = 300_000,
           chain_id: int = 6600, dynamic: bool = True) -> bytes:
    fields = {"nonce": nonce, "gas": gas, "to": to_checksum_address(to) if to else b"", "value": value, "data": data, "chainId": chain_id}
    if dynamic:
        fields.update(maxFeePerGas=0, maxPriorityFeePerGas=0, type=2)
    else:
        fields["gasPrice"] = 0
    if not to:
        fields.pop("to")
    return bytes(account.sign_transaction(fields).raw_transaction)


def native_tx(key: PrivateKey, nonce: int, *, to: bytes | None = None, data: bytes = b"", value: int = 0, gas: int = 300_000,
              valid_until: int = 1_000_000, chain_id: int = 6600) -> bytes:
    return Transaction(chain_id, nonce, key.address, to, value, data, gas, valid_until).signed(key).encode()
