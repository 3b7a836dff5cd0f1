"""The chain part of ``yilian demo``: a real solo node process used through web3.py and REST."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class ChainDemo:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.state: dict = {}

    def _http(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def start(self) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "localnet", "--dir", str(self.directory), "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                status = self._http("GET", "/v1/status")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the node did not start: {self.process.stderr.read() if self.process.stderr else ''}")
                time.sleep(0.2)
        self.state["localnet"] = json.loads((self.directory / "localnet.json").read_text())
        return (f"node {status['node']} at {self.url}: chain {status['chain_id']}, suite {status['suite']}, "
                f"height {status['height']}, consensus {status['consensus']}\n"
                f"{self.directory / 'localnet.json'} lists the RPC URL and development accounts (public keys: dev only)")

    def _web3(self):  # type: ignore[no-untyped-def]
        from eth_account import Account
        from web3 import Web3

        w3 = Web3(Web3.HTTPProvider(self.url + "/"))
        account = Account.from_key(next(a for a in self.state["localnet"]["accounts"] if a["suite"] == "ecdsa")["private_key"])
        return w3, account

    def _send(self, w3, account, built: dict):  # type: ignore[no-untyped-def]
        built["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
        signed = account.sign_transaction(built)
        return w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30, poll_latency=0.1)

    def _deploy(self, name: str):  # type: ignore[no-untyped-def]
        from node.execution.artifacts import load_artifact

        w3, account = self._web3()
        artifact = load_artifact(name)
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = self._send(w3, account, factory.constructor().build_transaction({"from": account.address}))
        if receipt.status != 1:
            raise RuntimeError(f"deploying {name} failed")
        return w3, account, w3.eth.contract(address=receipt.contractAddress, abi=artifact.abi), receipt

    def web3_contract(self) -> str:
        w3, account, store, receipt = self._deploy("Store")
        self.state["store"] = store
        set_receipt = self._send(w3, account, store.functions.set(2026).build_transaction({"from": account.address}))
        (event,) = store.events.ValueChanged().process_receipt(set_receipt)
        value = store.functions.get().call()
        if value != 2026:
            raise RuntimeError(f"Store.get() returned {value}, expected 2026")
        return (f"Store deployed at {store.address} (block {receipt.blockNumber}) by {account.address}\n"
                f"set(2026) in block {set_receipt.blockNumber}: ValueChanged({event.args.oldValue} → {event.args.newValue}); get() = {value}")

    def precompiles(self) -> str:
        from node.crypto import get_suite

        w3, account, probe, _ = self._deploy("GmProbe")
        gm = get_suite("gm")
        key = gm.generate_key()
        message = "企业授权：信用记录仅供本次保函审核使用".encode()
        signature = key.sign(message)
        good = probe.functions.sm2Verify(key.public_key[1:], message, signature).call()
        forged = probe.functions.sm2Verify(key.public_key[1:], message + b"!", signature).call()
        digest = probe.functions.sm3(message).call()
        if not good or forged or digest != gm.hash(message):
            raise RuntimeError("the precompiles gave a wrong answer")
        return f"GmProbe.sm2Verify: genuine signature → {good}, altered message → {forged}; GmProbe.sm3 matches SM3"

    def native_transaction(self) -> str:
        from node.crypto import get_suite
        from node.types import Transaction

        w3, _ = self._web3()
        store = self.state["store"]
        dev = next(a for a in self.state["localnet"]["accounts"] if a["suite"] == "gm")
        key = get_suite("gm").key_from_secret(bytes.fromhex(dev["private_key"][2:]))
        account = self._http("GET", f"/v1/accounts/0x{key.address.hex()}")
        data = bytes.fromhex(store.encode_abi("set", args=[88])[2:])
        tx = Transaction(w3.eth.chain_id, account["nonce"], key.address, bytes.fromhex(store.address[2:]), 0, data,
                         200_000, w3.eth.block_number + 100).signed(key)
        body = self._http("POST", "/v1/transactions?wait=20", {"raw": "0x" + tx.encode().hex()})
        if body["status"] != "committed":
            raise RuntimeError(f"the native transaction is {body['status']}")
        self.state["native_hash"] = body["hash"]
        return (f"SM2-signed tx {body['hash'][:18]}… from 0x{key.address.hex()} committed in block {body['height']}; "
                f"Store.get() = {store.functions.get().call()}")

    def verify_proof(self) -> str:
        from chain_sdk.verify import Genesis, ProofRejected, verify_proof

        proof = self._http("GET", f"/v1/transactions/{self.state['native_hash']}/proof?kind=receipt")
        path = self.directory / "receipt-proof.json"
        path.write_text(json.dumps(proof, indent=2) + "\n")
        genesis = Genesis.load(self.directory / "consortium" / "genesis.json")
        verified = verify_proof(genesis, proof)
        tampered = dict(proof, leaf=proof["leaf"][:-2] + ("00" if proof["leaf"][-2:] != "00" else "01"))
        try:
            verify_proof(genesis, tampered)
        except ProofRejected:
            pass
        else:
            raise RuntimeError("a tampered proof was accepted")
        return (f"receipt in block {verified.height} proven by a Merkle path of {len(proof['merkle']['path'])} hash(es) "
                f"and a commit certificate; a tampered copy is rejected\n"
                f"saved to {path} (kept with `yilian demo --dir DIR`); an auditor runs:\n"
                f"  yilian verify --genesis {self.directory / 'consortium' / 'genesis.json'} {path}")

    def stop(self) -> str:
        if self.process is None:
            return "no node was started"
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, stderr = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise RuntimeError("the node did not stop within 30 s of SIGTERM") from None
        if self.process.returncode != 0 or "database closed" not in stderr:
            raise RuntimeError(f"unclean stop (exit {self.process.returncode}): {stderr[-500:]}")
        return "node stopped with exit code 0 after closing its database"
