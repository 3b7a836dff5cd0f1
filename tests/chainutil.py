"""Helpers for chain tests: a one-validator consortium on disk and signed transactions."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_utils import to_checksum_address

from node.config import Genesis, load_node_config
from node.consortium import create_consortium
from node.harness import free_port  # noqa: F401 - the tests import it from here
from node.crypto import PrivateKey, get_suite
from node.types import Transaction

PASSWORD = b"test-password"

# a contract whose init code stores 42 in slot 0; its runtime returns slot 0 (SLOAD 0, MSTORE, RETURN 32)
STORE_42_RUNTIME = bytes.fromhex("60005460005260206000f3")
STORE_42_INIT = bytes.fromhex("602a600055600b601160003960" + "0b6000f3") + STORE_42_RUNTIME


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


@contextlib.contextmanager
def solo_chain(directory: Path):  # type: ignore[no-untyped-def]
    """A one-validator consortium in ``directory`` and its chain at ``directory / "a"``, opened in this process:
    (consortium, chain, mempool, solo engine); the chain is closed afterwards."""
    from node.chain import Chain
    from node.mempool import Mempool
    from node.solo import SoloEngine

    consortium = make_consortium(directory)
    chain = Chain(directory / "a", consortium.genesis)
    mempool = Mempool(chain)
    try:
        yield consortium, chain, mempool, SoloEngine(chain, mempool, consortium.validator)
    finally:
        chain.close()


@dataclass
class LocalNode:
    url: str
    directory: Path
    description: dict
    process: subprocess.Popen

    def log(self) -> str:
        """What the node wrote to stderr so far (its log; kept in a file so that a chatty node never blocks on a
        full pipe nobody reads)."""
        return (self.directory / "localnet.stderr.log").read_text(encoding="utf-8", errors="replace")

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode, self.log()


def start_localnet(directory: Path) -> LocalNode:
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "localnet.stdout.log", "wb") as stdout, open(directory / "localnet.stderr.log", "wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "node.cli", "localnet", "--dir", str(directory), "--port", str(port)],
                                   stdout=stdout, stderr=stderr, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/v1/status", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise RuntimeError(f"localnet did not start: {(directory / 'localnet.stderr.log').read_text(errors='replace')}")
            time.sleep(0.2)
    description = json.loads((directory / "localnet.json").read_text())
    return LocalNode(url, directory, description, process)
